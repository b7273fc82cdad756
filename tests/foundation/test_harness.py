"""The test harness cleans up after itself: the throwaway embedded PostgreSQL stops when pytest exits."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def processes_under(directory: str) -> list[str]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if directory in cmdline:
            found.append(f"{proc.info['pid']}: {cmdline}")
    return found


def test_embedded_postgres_is_stopped_when_the_session_ends() -> None:
    with tempfile.TemporaryDirectory(prefix="cg-harness-") as tmp:
        os.chmod(tmp, 0o755)  # pgserver runs the cluster as its own user when we are root
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["TMPDIR"] = tmp
        started = time.monotonic()
        # when a pytest session that used the embedded cluster ends
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
             "tests/foundation/test_app.py::test_ready_when_migrated"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        elapsed = time.monotonic() - started
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert "1 passed" in result.stdout
        # then no process of that cluster is left behind, and its directory is gone
        assert processes_under(tmp) == []
        assert [p.name for p in Path(tmp).iterdir() if p.name.startswith("cg-pg-")] == []
        assert elapsed < 120
