"""Subscriptions benchmark: commit-to-delivery latency and memory per idle websocket.

    python -m bench.subscriptions                         # 1,000 subscribers, 20 events, throwaway PostgreSQL
    python -m bench.subscriptions --subscribers 2000 --events 50 --seconds 120

Steps: start an embedded PostgreSQL (deleted afterwards) unless DATABASE_URL is set, migrate, load the demo
data, start two server processes (`customer-graph serve`) on 127.0.0.1, then:

1. memory: the RSS of one server process before and after `--subscribers` websockets connect, each
   acknowledged and holding one idle `requestUpdated` subscription; the difference divided by their number;
2. latency on one process: `--subscribers` websockets on process one subscribe to `requestUpdated`; the
   benchmark commits `--events` new requests (`INSERT` + the application's own NOTIFY in one transaction,
   one every `--gap` seconds) and records, for every (event, subscriber), the time from sending COMMIT to
   the `next` message arriving at the client;
3. the same with the subscribers split evenly over the two processes.

Prints p50 / p99 / max per scenario and how many deliveries were missing; asserts nothing about time.
Every phase is bounded by --seconds. The clients run in this one process, so their own event loop is part of
the latency measured (an upper bound for the server's share).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import psutil
from websockets.asyncio.client import ClientConnection, connect

from bench.run import BENCH_SECRET, _admin_token, _database, _free_port, _prepare, _server

SUBSCRIPTION = "subscription Watch($c: ID) { requestUpdated(customerId: $c) { id body status } }"


async def _subscriber(port: int, token: str, customer: str, ready: asyncio.Event | None = None) -> ClientConnection:
    ws = await connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"], max_queue=None)  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
    if ack.get("type") != "connection_ack":
        raise SystemExit(f"bench: not acknowledged: {ack}")
    message = {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": {"c": customer}}}
    await ws.send(json.dumps(message))
    return ws


async def _connect_all(ports: list[int], token: str, customer: str, count: int, seconds: float) -> list[Any]:
    sockets: list[Any] = []
    async with asyncio.timeout(seconds):
        for start in range(0, count, 50):  # 50 handshakes at a time
            batch = [ports[(start + i) % len(ports)] for i in range(min(50, count - start))]
            sockets += await asyncio.gather(*(_subscriber(p, token, customer) for p in batch))
    await asyncio.sleep(1.0)  # let the servers register every subscription
    return sockets


class Tally:
    """Arrival times by event body; `done` is set once `expected` deliveries arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.count = 0
        self.expected: int | None = None
        self.done = asyncio.Event()

    def add(self, body: str, at: float) -> None:
        self.arrivals.setdefault(body, []).append(at)
        self.count += 1
        self.check()

    def check(self) -> None:
        if self.expected is not None and self.count >= self.expected:
            self.done.set()


async def _listen(ws: ClientConnection, tally: Tally) -> None:
    try:
        async for raw in ws:
            now = time.perf_counter()
            message = json.loads(raw)
            if message.get("type") == "ping":
                await ws.send('{"type":"pong"}')
            elif message.get("type") == "next":
                tally.add(message["payload"]["data"]["requestUpdated"]["body"], now)
    except Exception:  # a closed socket ends its listener
        return


async def _publish(url: str, customer_pk: int, user_id: int, events: int, gap: float, sent: dict[str, float]) -> None:
    """Commits `events` requests with the application's publisher; `sent`: body → time COMMIT was sent."""
    from db import models
    from db.engine import create_engine, create_sessionmaker
    from resolvers import events as publisher
    from resolvers.unit_of_work import system_unit_of_work

    engine = create_engine(url, pool_size=1, max_overflow=0)
    sessionmaker = create_sessionmaker(engine)
    try:
        for n in range(events):
            body = f"bench event {n}"
            async with system_unit_of_work(sessionmaker, label="bench") as uow:
                row = models.SupportRequest(customer_id=customer_pk, created_by_id=user_id, body=body)
                uow.session.add(row)
                await uow.session.flush()
                await publisher.request_updated(uow, row, change="created")
                sent[body] = time.perf_counter()  # COMMIT follows when the block ends
            await asyncio.sleep(gap)
    finally:
        await engine.dispose()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _latency(
    name: str, url: str, ports: list[int], token: str, ids: tuple[int, int, str], args: argparse.Namespace
) -> None:
    customer_pk, user_id, customer = ids
    sockets = await _connect_all(ports, token, customer, args.subscribers, args.seconds)
    tally = Tally()
    listeners = [asyncio.create_task(_listen(ws, tally)) for ws in sockets]
    sent: dict[str, float] = {}
    try:
        async with asyncio.timeout(args.seconds):
            await _publish(url, customer_pk, user_id, args.events, args.gap, sent)
            tally.expected = args.events * len(sockets)
            tally.check()
            await tally.done.wait()
    except TimeoutError:
        print(f"bench: {name}: stopped at the --seconds limit", flush=True)
    finally:
        for task in listeners:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    arrivals = tally.arrivals
    latencies = [(t - sent[body]) * 1000 for body, times in arrivals.items() if body in sent for t in times]
    missing = len(sent) * len(sockets) - len(latencies)
    if not latencies:
        print(f"{name:<40} no deliveries")
        return
    print(
        f"{name:<40} p50 {statistics.median(latencies):7.1f} ms   p99 {_percentile(latencies, 0.99):7.1f} ms   "
        f"max {max(latencies):7.1f} ms   deliveries {len(latencies)}   missing {missing}",
        flush=True,
    )


async def _memory(port: int, pid: int, token: str, customer: str, args: argparse.Namespace) -> None:
    process = psutil.Process(pid)
    await asyncio.sleep(1.0)
    before = process.memory_info().rss
    sockets = await _connect_all([port], token, customer, args.subscribers, args.seconds)
    await asyncio.sleep(2.0)
    after = process.memory_info().rss
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    per = (after - before) / max(len(sockets), 1)
    print(
        f"{'memory per idle websocket (1 subscription)':<40} {per / 1024:7.1f} KiB   "
        f"(RSS {before / 2**20:.0f} MiB -> {after / 2**20:.0f} MiB with {len(sockets)} sockets)",
        flush=True,
    )


async def _ids(url: str) -> tuple[int, int, str]:
    """A customer to publish for (pk, global id) and the ADMIN that files the requests."""
    from sqlalchemy import text

    from db.engine import create_engine
    from schema.ids import to_global_id

    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            customer = await conn.scalar(text("SELECT id FROM customers ORDER BY id LIMIT 1"))
            user = await conn.scalar(text("SELECT id FROM users WHERE role = 'ADMIN' ORDER BY id LIMIT 1"))
    finally:
        await engine.dispose()
    return int(customer), int(user), to_global_id("Customer", int(customer))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.subscriptions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="websockets per scenario")
    parser.add_argument("--events", type=int, default=20, help="committed events per scenario")
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between two events")
    parser.add_argument("--seconds", type=float, default=90.0, help="time limit per phase")
    args = parser.parse_args(argv)
    args.customers, args.reuse = 0, False

    with _database(args) as url:
        _prepare(url, args)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "AUTH_", "LIMITS_", "DATABASE_"))}
        env.update(
            {
                "DATABASE_URL": url,
                "APP_ENV": "development",
                "APP_LOG_LEVEL": "WARNING",
                "AUTH_JWT_SECRET": BENCH_SECRET,
                "AUTH_TOKEN_TTL_SECONDS": "3600",
                "APP_DATA_DIR": tempfile.mkdtemp(prefix="cg-bench-data-"),
                "STORAGE_LOCAL_PATH": tempfile.mkdtemp(prefix="cg-bench-files-"),
            }
        )
        token = _admin_token(url, env)
        ids = asyncio.run(_ids(url))
        one, two = _free_port(), _free_port()
        with _server(env, one, 1) as first, _server(env, two, 1):
            print(
                f"bench: two server processes on 127.0.0.1:{one} and :{two}; {args.subscribers} subscribers, "
                f"{args.events} events {args.gap:g} s apart",
                flush=True,
            )
            asyncio.run(_memory(one, first.pid, token, ids[2], args))
            asyncio.run(_latency("latency, all on one process", url, [one], token, ids, args))
            asyncio.run(_latency("latency, split over two processes", url, [one, two], token, ids, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
