"""The `graphql-http` npm package's server audits (GraphQL over HTTP) against a live uvicorn server.

`make test` installs the audit's pinned packages (`npm ci` here) when Node.js is present; without Node.js
the test is skipped with a message saying so."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def live_url(live_server: str) -> str:
    return f"{live_server}/graphql"


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
