"""`customer-graph serve` runs one worker process per core by default when it has a DATABASE_URL."""

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.foundation.conftest import CUSTOMER_GRAPH, free_port


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_serve_starts_one_worker_per_core_by_default(tmp_path, clean_env, database_url):
    # given a database and no --workers
    port = free_port()
    env = {**clean_env, "DATABASE_URL": database_url, "APP_ENV": "development", "APP_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [*CUSTOMER_GRAPH, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # when it is up
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and not _ready(f"http://127.0.0.1:{port}/health"):
            time.sleep(0.2)
        assert process.poll() is None

        # then the supervisor runs one worker per core (multiprocessing's resource tracker is not one)
        commands = [Path(f"/proc/{c}/cmdline").read_bytes() for c in _children(process.pid)]
        workers = [c for c in commands if b"spawn_main" in c and b"resource_tracker" not in c]
        assert len(workers) == os.cpu_count()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
