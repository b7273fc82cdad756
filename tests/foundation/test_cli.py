"""The `customer-graph` command as an operator meets it: a fresh directory, a wrong URL, a missing secret."""

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.foundation.conftest import CUSTOMER_GRAPH, closed_port_url, free_port


def _run(args, *, cwd, env, timeout=60):
    return subprocess.run([*CUSTOMER_GRAPH, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _get(url: str) -> tuple[int | None, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return None, str(error)


def _wait_for(url: str, process: subprocess.Popen, want: int = 200, seconds: float = 45) -> tuple[int | None, str]:
    deadline = time.monotonic() + seconds
    status, body = None, ""
    while time.monotonic() < deadline and process.poll() is None:
        status, body = _get(url)
        if status == want:
            break
        time.sleep(0.2)
    return status, body


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail("the server did not stop on SIGINT")
    return output


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("customer-graph:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_dev_prepares_an_empty_directory(tmp_path, clean_env):
    result = _run(["dev", "--no-serve"], cwd=tmp_path, env=clean_env)

    assert result.returncode == 0, result.stderr
    assert "GraphiQL at http://127.0.0.1:8000/graphql" in result.stdout
    assert "admin@demo.local" in result.stdout and "customer@demo.local" in result.stdout
    assert (tmp_path / ".customer-graph" / "pgdata" / "PG_VERSION").exists()


def test_dev_serves_until_interrupted_and_stops_its_database(tmp_path, clean_env):
    port = free_port()
    postgres_pid = None
    process = subprocess.Popen(
        [*CUSTOMER_GRAPH, "dev", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status, body = _wait_for(f"http://127.0.0.1:{port}/ready", process)
        assert status == 200, body
        assert _get(f"http://127.0.0.1:{port}/health") == (200, '{"status":"ok"}')
        postgres_pid = int((tmp_path / ".customer-graph" / "pgdata" / "postmaster.pid").read_text().split()[0])
        assert _alive(postgres_pid)
    finally:
        output = _stop(process)

    assert process.returncode in (0, 130), output
    assert postgres_pid is not None
    assert f"GraphiQL at http://127.0.0.1:{port}/graphql" in output and "admin@demo.local" in output
    deadline = time.monotonic() + 10
    while _alive(postgres_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(postgres_pid), "the embedded PostgreSQL outlived the dev server"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://user:pw@localhost/app", "must be a PostgreSQL URL"),
        ("not a url at all", "DATABASE_URL is not usable"),
        (closed_port_url(), "cannot reach the database"),
    ],
)
def test_a_wrong_database_url_is_one_line_and_a_failure(tmp_path, clean_env, url, expected):
    result = _run(["migrate", "upgrade"], cwd=tmp_path, env={**clean_env, "DATABASE_URL": url})
    line = _one_line_error(result)
    assert expected in line
    assert "secret" not in line


def test_dev_with_an_unreachable_database_is_one_line_and_a_failure(tmp_path, clean_env):
    result = _run(["dev", "--no-serve"], cwd=tmp_path, env={**clean_env, "DATABASE_URL": closed_port_url()})
    assert "cannot reach the database" in _one_line_error(result)
    assert not (tmp_path / ".customer-graph").exists()  # DATABASE_URL set: no embedded cluster


def test_production_without_its_secrets_refuses_to_start(tmp_path, clean_env):
    result = _run(["serve"], cwd=tmp_path, env={**clean_env, "APP_ENV": "production"})
    line = _one_line_error(result)
    assert "DATABASE_URL is required in production" in line
    assert "AUTH_JWT_SECRET" in line


def test_a_bad_setting_value_is_named(tmp_path, clean_env):
    line = _one_line_error(_run(["migrate", "current"], cwd=tmp_path, env={**clean_env, "APP_ENV": "staging"}))
    assert "APP_ENV" in line


def test_serve_starts_with_an_unreachable_database_and_ready_says_why(tmp_path, clean_env):
    port = free_port()
    process = subprocess.Popen(
        [*CUSTOMER_GRAPH, "serve", "--port", str(port)],
        cwd=tmp_path,
        env={**clean_env, "DATABASE_URL": closed_port_url()},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/health", process)[0] == 200
        status, body = _get(f"http://127.0.0.1:{port}/ready")
        assert status == 503
        assert "database unreachable" in body
    finally:
        _stop(process)


def test_create_admin_on_an_empty_directory_migrates_the_embedded_database_first(tmp_path, clean_env):
    result = _run(
        ["create-admin", "--email", "first-admin@example.com", "--password", "a-long-enough-password"],
        cwd=tmp_path,
        env=clean_env,
    )
    assert result.returncode == 0, result.stderr
    assert "first-admin@example.com" in result.stdout
    assert (tmp_path / ".customer-graph").is_dir()
