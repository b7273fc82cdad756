"""The `graphql-http` npm package's server audits (GraphQL over HTTP) against a live uvicorn server.

`make test` installs the audit's pinned packages (`npm ci` here) when Node.js is present; without Node.js
the test is skipped with a message saying so."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from server.app import create_app
from tests.conftest import test_settings as settings_with

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live_url(database_url: str) -> Iterator[str]:
    port = free_port()
    application = create_app(settings_with(), database_url_override=database_url)
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}/graphql"
    server.should_exit = True
    thread.join(timeout=10)


def test_graphql_over_http_audit_passes(live_url: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the graphql-http audit needs `node` (and `npm ci` in tests/http_audit)")
    if not (HERE / "node_modules" / "graphql-http").exists():
        pytest.fail("run `npm ci` in tests/http_audit (make test does it when Node.js is present)")
    run = subprocess.run([node, str(HERE / "audit.mjs"), live_url], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    problems = [r for r in report["results"] if r["status"] != "ok"]
    assert report["error"] == 0, problems
    assert report["warn"] <= 2, problems
    print(f"graphql-http audit: {report['ok']} ok, {report['warn']} warnings, {report['error']} errors")
