"""`customer-graph worker` processes against the SendGrid stub: a worker killed with SIGKILL mid-batch loses nothing
(another delivers its claimed messages once the lease ends), and two workers never both deliver one message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from db.enums import Role
from tests.factories import make_user
from tests.outbox.conftest import SALES, outbox_rows
from tests.outbox.sendgrid_stub import ACCEPT, API_KEY, HANG

_SCRIPT = Path(sys.executable).parent / "customer-graph"
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "server.cli"]
PREFIXES = ("APP_", "DATABASE_", "AUTH_", "STORAGE_", "EMAIL_", "OUTBOX_", "AI_", "LIMITS_")
LEASE = 6.0
CREATE = """
mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code } } }"""


@pytest.fixture
def workers(database_url, stub, tmp_path) -> Iterator:
    """Start `customer-graph worker` processes pointed at the test database and the stub; all ended afterwards."""
    started: list[subprocess.Popen] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    env.update(
        APP_ENV="test",
        APP_DATA_DIR=str(tmp_path),
        DATABASE_URL=database_url,
        EMAIL_BACKEND="sendgrid",
        EMAIL_SENDGRID_API_KEY=API_KEY,
        EMAIL_SENDGRID_HOST=stub.url,
        EMAIL_SALES_RECIPIENTS=json.dumps(SALES),
        EMAIL_TIMEOUT_SECONDS="2",
        OUTBOX_LEASE_SECONDS=str(LEASE),
        OUTBOX_POLL_SECONDS="0.1",
        OUTBOX_BATCH_SIZE="10",
        OUTBOX_CONCURRENCY="10",
    )

    def start(name: str) -> subprocess.Popen:
        log = (tmp_path / f"{name}.log").open("wb")
        process = subprocess.Popen([*COMMAND, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


async def given_messages(app, gql, n: int) -> None:
    sales = await make_user(app, Role.SALES)
    for i in range(n):
        body = await gql(CREATE, {"input": {"firstName": f"W{i}", "lastName": "X"}}, token=sales.token)
        assert body["data"]["createCustomer"]["errors"] == []


async def until_all_delivered(app, seconds: float) -> list:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = await outbox_rows(app)
        if all(r.state == "delivered" for r in rows):
            return rows
        await anyio.sleep(0.1)
    raise AssertionError(f"not delivered: {[(r.id, r.state, r.claimed_by) for r in await outbox_rows(app)]}")


async def test_a_worker_killed_mid_batch_loses_nothing(app, gql, stub, workers):
    # given: ten messages, and a SendGrid that hangs, so the first worker holds all ten in flight
    await given_messages(app, gql, 10)
    stub.default = HANG
    first = workers("first")
    assert await anyio.to_thread.run_sync(stub.wait_for, 10, 30.0), "the first worker never sent its batch"
    claimed = await outbox_rows(app)
    assert {r.claimed_by for r in claimed} != {None} and {r.state for r in claimed} == {"pending"}

    # when: it is killed mid-batch, SendGrid recovers, and another worker starts
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    stub.default = ACCEPT
    stub.release.set()
    second = workers("second")
    rows = await until_all_delivered(app, 30)

    # then: every message delivered exactly once, and only after the dead worker's lease ended
    assert sorted(stub.accepted()) == sorted(str(r.idempotency_key) for r in rows)
    leases = {r.id: r.claimed_until for r in claimed}
    assert all(r.delivered_at >= leases[r.id] for r in rows)
    assert all(r.attempts >= 2 for r in rows)  # the killed worker's claim counted as an attempt

    # and the worker stops cleanly on SIGTERM
    second.send_signal(signal.SIGTERM)
    assert second.wait(20) == 0


async def test_two_workers_never_both_deliver_one_message(app, gql, stub, workers):
    # given: sixty messages and a SendGrid taking 20 ms per call
    await given_messages(app, gql, 60)
    stub.latency = 0.02

    # when: two workers run side by side
    workers("a")
    workers("b")
    rows = await until_all_delivered(app, 60)

    # then: each message reached SendGrid exactly once
    sent = Counter(stub.accepted())
    assert sorted(sent) == sorted(str(r.idempotency_key) for r in rows)
    assert max(sent.values()) == 1
    assert len(stub.received) == 60
