"""A small latency benchmark: a seeded database, the real server over HTTP, a few GraphQL queries.

    python -m bench.run                       # 2,000 generated customers on a throwaway embedded PostgreSQL
    python -m bench.run --customers 20000 --seconds 15 --concurrency 8
    DATABASE_URL=postgresql://... python -m bench.run --reuse   # an existing, already seeded database

Steps: start an embedded PostgreSQL (pgserver, deleted afterwards) unless DATABASE_URL is set, migrate,
load the demo data (for a signed-in ADMIN) and `seed_bulk(N)`, start `customer-graph serve` on 127.0.0.1
and a free port, then time each query sequentially (bounded by --seconds and --requests), and optionally
with --concurrency clients. Prints median / p95 / max per query; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

CUSTOMERS_PAGE = """
query CustomersPage {
  customers(first: 50) {
    totalCount
    nodes {
      firstName
      openRequestCount
      requests(first: 10) { nodes { status body processedBy { firstName } } }
    }
  }
}
"""
CUSTOMER_BY_ID = """
query CustomerById($id: ID!) {
  customer(id: $id) {
    id firstName lastName email phone company version
    openRequestCount
    requests(first: 10) { totalCount nodes { id status body processedBy { firstName lastName } } }
    chatSessions(first: 5) { nodes { title status messageCount lastMessageAt } }
  }
}
"""
SEARCH = """
query Search($q: String!) {
  customers(filter: {search: $q}, first: 20) { totalCount nodes { id firstName lastName email phone } }
}
"""
FIRST_IDS = "query FirstIds { customers(first: 50) { nodes { id } } }"
BENCH_SECRET = "bench-secret-" + "x" * 40


@dataclass
class Case:
    name: str
    query: str
    variables: dict[str, Any]


@dataclass
class Result:
    name: str
    latencies: list[float]
    errors: int
    first_error: str | None
    wall: float
    concurrency: int

    def line(self) -> str:
        if not self.latencies:
            return f"{self.name:<28} c={self.concurrency:<3} no successes: {self.errors} errors, {self.first_error}"
        ms = sorted(x * 1000 for x in self.latencies)
        p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
        rate = len(ms) / self.wall if self.wall else 0.0
        text = (
            f"{self.name:<28} c={self.concurrency:<3} n={len(ms):<5} median={statistics.median(ms):8.1f} ms  "
            f"p95={p95:8.1f} ms  max={ms[-1]:8.1f} ms  {rate:7.1f} req/s"
        )
        if self.errors:
            text += f"  errors={self.errors} (first: {self.first_error})"
        return text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _database(args: argparse.Namespace) -> Iterator[str]:
    """DATABASE_URL, or a throwaway embedded cluster (stopped and deleted afterwards)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    from server.embedded_pg import start_embedded

    with tempfile.TemporaryDirectory(prefix="cg-bench-") as tmp:
        url, server = start_embedded(Path(tmp) / "pgdata", cleanup_mode="delete")
        try:
            yield url
        finally:
            server.cleanup()


def _prepare(url: str, args: argparse.Namespace) -> None:
    from server import migrate
    from server.seed import seed_bulk, seed_demo_once

    migrate.upgrade(url)
    if args.reuse:
        return
    seed_demo_once(url)
    if args.customers:
        seed_bulk(url, customers=args.customers)


def _admin_token(url: str, env: dict[str, str]) -> str:
    """A bearer token for the demo ADMIN, signed like the server signs (settings from the same environment)."""
    from sqlalchemy import text

    from db.engine import create_engine

    async def admin_id() -> int:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                found = await conn.scalar(
                    text("SELECT id FROM users WHERE role = 'ADMIN' AND is_active ORDER BY id LIMIT 1")
                )
        finally:
            await engine.dispose()
        if found is None:
            raise SystemExit("bench: no ADMIN user in the database (run without --reuse, or create-admin)")
        return int(found)

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from server.app import build_services
        from server.settings import Settings

        services = build_services(Settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return str(services.tokens.issue(subject=str(asyncio.run(admin_id())), role="ADMIN").token)


@contextmanager
def _server(env: dict[str, str], port: int, workers: int) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"bench: the server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("bench: the server did not become ready within 60 s")
            time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _measure(client: httpx.AsyncClient, case: Case, *, seconds: float, requests: int, concurrency: int) -> Result:
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    budget = {"left": requests}
    deadline = time.monotonic() + seconds
    body = {"query": case.query, "variables": case.variables, "operationName": None}

    async def one() -> None:
        nonlocal errors, first_error
        started = time.perf_counter()
        response = await client.post("/graphql", json=body)
        elapsed = time.perf_counter() - started
        payload = response.json() if response.headers.get("content-type", "").startswith("application/") else {}
        if response.status_code != 200 or payload.get("errors"):
            errors += 1
            if first_error is None:
                detail = payload.get("errors", [{}])[0].get("message") if payload else response.text[:200]
                first_error = f"HTTP {response.status_code}: {detail}"
        else:
            latencies.append(elapsed)

    async def worker() -> None:
        while budget["left"] > 0 and time.monotonic() < deadline:
            budget["left"] -= 1
            await one()

    for _ in range(3):  # warm-up: caches, connection pool, query parsing
        await one()
    latencies.clear()
    errors, first_error = 0, None
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(case.name, latencies, errors, first_error, time.perf_counter() - started, concurrency)


async def _bench(port: int, token: str, args: argparse.Namespace) -> list[Result]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=max(args.concurrency, 1) + 2)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30, limits=limits
    ) as client:
        first = (await client.post("/graphql", json={"query": FIRST_IDS})).json()
        if first.get("errors"):
            raise SystemExit(f"bench: cannot list customers: {first['errors'][0].get('message')}")
        ids = [node["id"] for node in first["data"]["customers"]["nodes"]]
        if not ids:
            raise SystemExit("bench: no customers to read")
        cases = [
            Case("customers page (50 + 10 req)", CUSTOMERS_PAGE, {}),
            Case("customer(id)", CUSTOMER_BY_ID, {"id": ids[len(ids) // 2]}),
            Case("search 'stark'", SEARCH, {"q": "stark"}),
            Case("search email 'bulk-1234'", SEARCH, {"q": "bulk-1234"}),
        ]
        results = []
        for case in cases:
            result = await _measure(client, case, seconds=args.seconds, requests=args.requests, concurrency=1)
            print(result.line(), flush=True)
            results.append(result)
        if args.concurrency > 1:
            for case in cases:
                result = await _measure(
                    client, case, seconds=args.seconds, requests=args.requests, concurrency=args.concurrency
                )
                print(result.line(), flush=True)
                results.append(result)
        return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000, help="generated customers (5 requests, 2 chats each)")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per query and concurrency level")
    parser.add_argument("--requests", type=int, default=300, help="request limit per query and concurrency level")
    parser.add_argument("--concurrency", type=int, default=1, help="also measure with this many parallel clients")
    parser.add_argument("--workers", type=int, default=1, help="server processes (needs DATABASE_URL when > 1)")
    parser.add_argument("--reuse", action="store_true", help="DATABASE_URL is already seeded: do not seed")
    args = parser.parse_args(argv)

    with _database(args) as url:
        started = time.perf_counter()
        _prepare(url, args)
        print(f"bench: database ready in {time.perf_counter() - started:.1f}s", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "AUTH_", "LIMITS_", "DATABASE_"))}
        env.update(
            {
                "DATABASE_URL": url,
                "APP_ENV": "development",
                "APP_LOG_LEVEL": "WARNING",
                "AUTH_JWT_SECRET": BENCH_SECRET,
                "APP_DATA_DIR": tempfile.mkdtemp(prefix="cg-bench-data-"),
                "STORAGE_LOCAL_PATH": tempfile.mkdtemp(prefix="cg-bench-files-"),
            }
        )
        token = _admin_token(url, env)
        port = _free_port()
        with _server(env, port, args.workers):
            print(
                f"bench: server on 127.0.0.1:{port}, {args.workers} worker(s); "
                f"limits {args.seconds:g}s / {args.requests} requests per line",
                flush=True,
            )
            asyncio.run(_bench(port, token, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
