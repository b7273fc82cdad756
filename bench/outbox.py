"""Outbox benchmark: relay throughput into a local SendGrid stand-in, and what the outbox adds to createCustomer.

    python -m bench.outbox                          # 2,000 messages, 1 then 2 workers, 300 createCustomer calls
    python -m bench.outbox --messages 5000 --latency-ms 20 --workers 1,2,4

Throughput: N customers and their `email.customer_created` rows are written set-based, then W real
`customer-graph worker` processes deliver them with the real `sendgrid` client into the stub of the tests
(tests/outbox/sendgrid_stub.py, on 127.0.0.1, answering 202 after --latency-ms). Messages per second are counted
from the stub's first to its last accepted request; it also checks that no message was accepted twice.
Relay CPU (`--relay-cpu N`, off by default): one relay in this process delivers N rows, batches of 50, into a
no-op backend (the relay's own cost: claim, read, compose, record) and into the development mailbox; CPU time of
this process per message (PostgreSQL's is not counted), median of 5 runs, so it is steadier than the throughput.
createCustomer: the in-process app, sequential calls; the time spent in the `INSERT INTO outbox` statement is
measured with a cursor listener and set against the whole mutation. Prints figures; asserts nothing about time.
On a shared 2-core machine the stub, PostgreSQL and the workers compete for the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from tests.outbox.sendgrid_stub import API_KEY, SendGridStub

SCRIPT = Path(sys.executable).parent / "customer-graph"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "server.cli"]
PREFIXES = ("APP_", "DATABASE_", "AUTH_", "STORAGE_", "EMAIL_", "OUTBOX_", "AI_", "LIMITS_")
CREATE = """
mutation Create($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code } } }"""


@contextmanager
def database() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    from server.embedded_pg import start_embedded

    with tempfile.TemporaryDirectory(prefix="cg-bench-outbox-") as tmp:
        url, _server = start_embedded(Path(tmp) / "pgdata", cleanup_mode="delete")
        yield url


async def sql(url: str, statement: str) -> list[asyncpg.Record]:
    u = make_url(url)
    conn = await asyncpg.connect(
        user=u.username,
        password=u.password or None,
        host=u.host or u.query.get("host"),
        port=u.port,
        database=u.database,
    )
    try:
        return list(await conn.fetch(statement))
    finally:
        await conn.close()


def fill(url: str, n: int) -> None:
    asyncio.run(sql(url, "TRUNCATE outbox, customers RESTART IDENTITY CASCADE"))
    asyncio.run(
        sql(
            url,
            f"""
            WITH made AS (
                INSERT INTO customers (first_name, last_name, email)
                SELECT 'Bench', 'Customer ' || g, 'bench' || g || '@example.com' FROM generate_series(1, {n}) g
                RETURNING id
            )
            INSERT INTO outbox (topic, payload)
            SELECT 'email.customer_created', jsonb_build_object('customer_id', id, 'source', 'staff') FROM made
            """,
        )
    )


def throughput(url: str, n: int, workers: int, latency_ms: float, timeout: float) -> str:
    fill(url, n)
    with SendGridStub() as stub:
        stub.latency = latency_ms / 1000
        env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
        env.update(
            APP_ENV="test",
            APP_DATA_DIR=tempfile.mkdtemp(prefix="cg-bench-data-"),
            DATABASE_URL=url,
            EMAIL_BACKEND="sendgrid",
            EMAIL_SENDGRID_API_KEY=API_KEY,
            EMAIL_SENDGRID_HOST=stub.url,
            EMAIL_SALES_RECIPIENTS=json.dumps(["sales@example.com"]),
            OUTBOX_POLL_SECONDS="0.1",
            OUTBOX_BATCH_SIZE="50",
            APP_LOG_LEVEL="WARNING",
        )
        started = time.monotonic()
        processes = [
            subprocess.Popen([*COMMAND, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(workers)
        ]
        try:
            deadline = started + timeout
            while time.monotonic() < deadline:
                [row] = asyncio.run(sql(url, "SELECT count(*) AS n FROM outbox WHERE state = 'delivered'"))
                if row["n"] >= n:
                    break
                time.sleep(0.2)
            wall = time.monotonic() - started
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(20)
        accepted = [r for r in stub.received if r.status == 202]
        repeats = sum(c - 1 for c in Counter(r.key for r in accepted).values())
        span = (accepted[-1].at - accepted[0].at) if len(accepted) > 1 else float("nan")
        rate = (len(accepted) - 1) / span if span and span == span else float("nan")
    return (
        f"relay, {workers} worker(s): {len(accepted)}/{n} delivered, {rate:,.0f} messages/s "
        f"(first to last acceptance {span:.2f} s; {wall:.1f} s including process start), repeats: {repeats}"
    )


class _NoSend:
    name = "none"

    async def send(self, message: object) -> None:
        return None


async def _relay_round_trip(url: str, backend_name: str) -> tuple[int, float, float]:
    from db.engine import create_engine, create_sessionmaker
    from integrations.email.mailbox import FileMailbox
    from server.relay import Relay
    from server.settings import Settings

    settings = Settings()
    settings.app.env = "test"
    settings.email.sales_recipients = ["sales@example.com"]
    settings.outbox.batch_size = 50
    engine = create_engine(url, pool_size=settings.outbox.concurrency + 2, max_overflow=2)
    mail = tempfile.mkdtemp(prefix="cg-bench-mail-")
    backend = _NoSend() if backend_name == "none" else FileMailbox(mail, sender="bench@example.com")
    relay = Relay(create_sessionmaker(engine), backend, settings, worker="bench")  # type: ignore[arg-type]
    try:
        await relay.run_once()  # warm-up: the first batch (connections, prepared statements)
        cpu, wall, sent = time.process_time(), time.perf_counter(), 0
        while claimed := await relay.run_once():
            sent += claimed
        return sent, time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await engine.dispose()


def relay_cpu(url: str, n: int) -> list[str]:
    import logging

    logging.disable(logging.WARNING)
    lines = []
    for backend in ("none", "file"):
        per_message, rates = [], []
        for _ in range(5):
            fill(url, n + 50)
            sent, cpu, wall = asyncio.run(_relay_round_trip(url, backend))
            assert sent == n, f"{sent} of {n} delivered"
            per_message.append(cpu / sent * 1e6)
            rates.append(sent / wall)
        runs = ", ".join(f"{x:.0f}" for x in per_message)
        lines.append(
            f"relay CPU, {n} messages into {'no backend' if backend == 'none' else 'the file mailbox'}: "
            f"median {statistics.median(per_message):,.0f} us/message (runs {runs}), "
            f"{statistics.median(rates):,.0f} messages/s"
        )
    logging.disable(logging.NOTSET)
    return lines


async def create_customer_cost(url: str, calls: int) -> list[str]:
    from asgi_lifespan import LifespanManager
    from httpx import ASGITransport, AsyncClient
    from sqlalchemy import event

    from db import models
    from server.app import create_app
    from server.settings import Settings

    settings = Settings()
    settings.app.env = "test"
    settings.app.data_dir = tempfile.mkdtemp(prefix="cg-bench-data-")
    settings.auth.jwt_secret = "bench-secret-" + "x" * 40
    settings.outbox.relay_in_server = False
    app = create_app(settings, database_url_override=url)
    lines = []
    async with LifespanManager(app):
        async with app.state.sessionmaker() as session:
            admin = models.User(email="bench-admin@example.com", first_name="B", last_name="A", role="ADMIN")
            session.add(admin)
            await session.commit()
        token = app.state.services.tokens.issue(subject=str(admin.id), role="ADMIN").token
        outbox_time: list[float] = []
        started_at: dict[int, float] = {}

        def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
                started_at[id(context)] = time.perf_counter()

        def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            began = started_at.pop(id(context), None)
            if began is not None:
                outbox_time.append(time.perf_counter() - began)

        engine = app.state.engine.sync_engine
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        latencies: list[float] = []
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://bench") as client:
            headers = {"Authorization": f"Bearer {token}"}
            for i in range(calls + 20):
                body = {"query": CREATE, "variables": {"input": {"firstName": "Cost", "lastName": f"C{i}"}}}
                began = time.perf_counter()
                response = await client.post("/graphql", json=body, headers=headers)
                elapsed = time.perf_counter() - began
                assert response.json()["data"]["createCustomer"]["errors"] == []
                if i >= 20:  # warm-up excluded
                    latencies.append(elapsed)
        warm = outbox_time[20:]
        mutation, insert = statistics.median(latencies), statistics.median(warm)
        lines.append(
            f"createCustomer ({calls} sequential calls, in-process): median {mutation * 1000:.2f} ms, "
            f"p95 {sorted(latencies)[int(len(latencies) * 0.95)] * 1000:.2f} ms"
        )
        lines.append(
            f"  of which INSERT INTO outbox: median {insert * 1000:.3f} ms = {insert / mutation:.1%} of the mutation "
            f"(one extra row in the same transaction; no extra round trip for the commit)"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outbox", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to try")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="the stub's delay before each answer")
    parser.add_argument("--calls", type=int, default=300, help="createCustomer calls to time")
    parser.add_argument("--timeout", type=float, default=300.0, help="longest wait for one throughput run")
    parser.add_argument("--relay-cpu", type=int, default=0, metavar="N", help="also time one relay on N messages")
    args = parser.parse_args(argv)
    from server import migrate

    with database() as url:
        migrate.upgrade(url)
        for count in (int(w) for w in args.workers.split(",")):
            print(throughput(url, args.messages, count, args.latency_ms, args.timeout), flush=True)
        for line in relay_cpu(url, args.relay_cpu) if args.relay_cpu else []:
            print(line, flush=True)
        for line in asyncio.run(create_customer_cost(url, args.calls)):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
