"""The example scripts in examples/, run as a user runs them (a subprocess) against the live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from db.enums import Role
from integrations.auth.passwords import hash_password
from tests.factories import make_customer, make_user

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PASSWORD = "a-long-enough-password"
CUSTOMERS = "{ customers(first: 50) { totalCount nodes { firstName lastName email phone company } } }"


def script(name: str, *args: str, password: str | None = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CG_")}
    if password is not None:
        env["CG_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], env=env, capture_output=True, text=True, timeout=120
    )


def signed_in(live_server: str, admin: Any) -> list[str]:
    return ["--url", f"{live_server}/graphql", "--email", admin.user.email]


@pytest.fixture
async def admin(app: Any) -> Any:
    return await make_user(app, Role.ADMIN, email="script-admin@example.com", password_hash=hash_password(PASSWORD))


async def test_import_reports_each_refused_row_and_exits_non_zero(app, admin, live_server, gql, tmp_path) -> None:
    # given a CSV with three good rows, a bad email, an email that exists, and a row without a last name
    await make_customer(app, first_name="Existing", last_name="One", email="taken@example.com")
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text(
        "first_name,last_name,email,phone,company\n"
        "Ada,Lovelace,ada@example.com,020 7946 0001,Analytical Engines\n"
        "Grace,Hopper,grace@example.com,,\n"
        "Alan,Turing,,+44 161 496 0000,\n"
        "Bad,Email,not-an-email,,\n"
        "Dup,Licate,TAKEN@example.com,,\n"
        "Nolast,,nolast@example.com,,\n"
    )
    # when it is imported
    result = script("import_customers.py", str(csv_file), *signed_in(live_server, admin))
    # then the good rows are in, and each refused row is named with its reason
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Imported 3 of 6 customers; 3 failed" in result.stdout
    assert "line 5: not-an-email: VALIDATION (email)" in result.stdout
    assert "line 6: TAKEN@example.com: CONFLICT (email)" in result.stdout
    assert "line 7: nolast@example.com: VALIDATION (lastName)" in result.stdout
    assert "6/6" in result.stderr  # the progress bar reached the end
    stored = (await gql(CUSTOMERS, token=admin.token))["data"]["customers"]
    assert stored["totalCount"] == 4
    ada = next(c for c in stored["nodes"] if c["email"] == "ada@example.com")
    assert (ada["phone"], ada["company"]) == ("+442079460001", "Analytical Engines")


async def test_import_of_a_clean_file_exits_zero(admin, live_server, gql, tmp_path) -> None:
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text("firstName,lastName,email\n" + "".join(f"P{i},Person,p{i}@example.com\n" for i in range(12)))
    result = script("import_customers.py", str(csv_file), *signed_in(live_server, admin))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Imported 12 of 12 customers; 0 failed; 0 retries." in result.stdout
    assert (await gql(CUSTOMERS, token=admin.token))["data"]["customers"]["totalCount"] == 12


class FlakyProxy(BaseHTTPRequestHandler):
    """Forwards to the live server, but answers the first `fail` createCustomer calls as a server whose database is
    down (503, SERVICE_UNAVAILABLE) — what the real server says then."""

    upstream = ""
    fail = 0
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            refuse = b"ImportCustomer" in body and FlakyProxy.fail > 0
            if refuse:
                FlakyProxy.fail -= 1
        if refuse:
            payload = {"errors": [{"message": "database unavailable",
                                   "extensions": {"code": "SERVICE_UNAVAILABLE", "retryAfter": 0}}]}  # fmt: skip
            status, data = 503, json.dumps(payload).encode()
        else:
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
            answer = httpx.post(self.upstream, content=body, headers=headers, timeout=30)
            status, data = answer.status_code, answer.content
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def flaky_url(live_server: str) -> Iterator[str]:
    FlakyProxy.upstream, FlakyProxy.fail = f"{live_server}/graphql", 3
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/graphql"
    server.shutdown()
    server.server_close()


async def test_import_retries_while_the_database_is_unavailable(admin, flaky_url, gql, tmp_path) -> None:
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text("firstName,lastName,email\nRetry,One,r1@example.com\nRetry,Two,r2@example.com\n")
    result = script("import_customers.py", str(csv_file), "--url", flaky_url, "--email", admin.user.email)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Imported 2 of 2 customers; 0 failed; 3 retries." in result.stdout
    stored = (await gql(CUSTOMERS, token=admin.token))["data"]["customers"]
    assert sorted(c["email"] for c in stored["nodes"]) == ["r1@example.com", "r2@example.com"]  # once each


async def test_import_gives_up_after_its_attempts_and_says_why(admin, flaky_url, tmp_path) -> None:
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text("firstName,lastName\nNever,Arrives\n")
    args = ["--url", flaky_url, "--email", admin.user.email, "--max-attempts", "2"]
    result = script("import_customers.py", str(csv_file), *args)
    assert result.returncode == 1
    assert "line 2: Never Arrives: SERVICE_UNAVAILABLE" in result.stdout


async def test_import_stops_before_starting_when_sign_in_fails(admin, live_server, tmp_path) -> None:
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text("firstName,lastName\nA,B\n")
    args = ["--url", f"{live_server}/graphql", "--email", admin.user.email]
    result = script("import_customers.py", str(csv_file), *args, password="wrong-password-123")
    assert result.returncode == 2
    assert "sign-in failed: INVALID_CREDENTIALS" in result.stderr


async def test_seed_flow_script_runs_the_whole_lifecycle(admin, live_server, gql) -> None:
    result = script("seed_flow.py", "--url", f"{live_server}/graphql", "--email", admin.user.email)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Signed in as script-admin@example.com (ADMIN)"
    assert lines[3].startswith("3. request   PENDING")
    assert lines[4].startswith("4. assigned  IN_PROGRESS to oscar.")
    assert lines[5] == "5. completed COMPLETED: Refunded the second charge."
    assert lines[6] == "6. Ada Lovelace has 1 request(s), 0 open:"
    assert lines[7].strip().startswith("- COMPLETED")
    requests = await gql("{ requests(first: 10) { totalCount nodes { status } } }", token=admin.token)
    assert requests["data"]["requests"] == {"totalCount": 1, "nodes": [{"status": "COMPLETED"}]}
