"""`make bench`: the real server over HTTP on a seeded database, five documents at 1 and 50 connections.

    python -m bench.run                          # 2,000 generated customers on a throwaway embedded PostgreSQL
    python -m bench.run --seconds 10 --customers 20000
    python -m bench.run --only a,b --connections 1,8 --json bench.json
    DATABASE_URL=postgresql://... python -m bench.run --reuse   # an existing, already seeded database

Steps: start an embedded PostgreSQL (pgserver, deleted afterwards) unless DATABASE_URL is set, migrate, load
the demo data and `seed_bulk(N)`, start `customer-graph serve` on 127.0.0.1 and a free port, then for each
document and connection count: a short warm-up, then closed-loop load for --seconds (and at most --requests
responses). The load client is a small keep-alive HTTP/1.1 client on asyncio (it shares the machine with the
server and PostgreSQL, so it is kept cheap).

Per row: req/s, latency p50/p95/p99 (ms), errors (non-200, or a non-empty "errors" list), SQL statements per request
and collector CPU time per request (read from the server's /metrics before and after the row: exact with one
worker, blank with more), the server's CPU time per request (user + system, from /proc: on a shared machine a
steadier figure than req/s), and the server's peak RSS so far (VmHWM of its processes). Printed as a table, then
as one JSON document (also written to --json). Asserts nothing about time; the default run takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# a: 50 customers x 10 requests + chat sessions with message counts (the peer benchmark's query a)
CUSTOMERS_PAGE = """
query CustomersPage($first: Int!) {
  customers(first: $first) {
    nodes {
      id firstName lastName email phone createdAt
      requests(first: 10) { nodes { id body status createdAt } }
      chatSessions(first: 50) { nodes { id title startedAt messageCount } }
    }
  }
}
"""
# b: one customer with its requests and who processed them (the peer benchmark's query b)
CUSTOMER_BY_ID = """
query CustomerById($id: ID!) {
  customer(id: $id) {
    id firstName lastName email phone createdAt archivedAt
    requests(first: 50) { nodes { id body status processedBy { id firstName lastName } resolutionComment createdAt } }
  }
}
"""
# c: create a customer (audit and outbox rows in the same transaction)
CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id firstName lastName email phone createdAt }
    errors { code message field }
  }
}
"""
SEARCH = """
query Search($q: String!) {
  customers(filter: {search: $q}, first: 20) { totalCount nodes { id firstName lastName email phone } }
}
"""
# an operator's queue: operators with their assigned requests and those requests' customers
OPERATOR_QUEUE = """
query OperatorQueue {
  operators(first: 10) {
    nodes {
      id firstName lastName openRequestCount
      assignedRequests(first: 20, status: IN_PROGRESS) {
        nodes { id body status createdAt customer { id firstName lastName email } }
      }
    }
  }
}
"""
FIRST_IDS = "query FirstIds { customers(first: 50) { nodes { id } } }"
BENCH_SECRET = "bench-secret-" + "x" * 40
UNIQUE = "__UNIQ__"


@dataclass
class Case:
    key: str
    name: str
    query: str
    variables: dict[str, Any]


@dataclass
class Row:
    case: str
    name: str
    connections: int
    requests: int
    errors: int
    seconds: float
    req_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    sql_per_request: float | None
    cpu_ms_per_request: float | None
    gc_ms_per_request: float | None
    peak_rss_mb: float | None
    first_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- a small keep-alive HTTP/1.1 client -----------------------------------------------------------------


class Http:
    """One keep-alive connection: POST a body, read status and body (content-length or chunked)."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        for attempt in (1, 2):  # the server may have closed an idle keep-alive connection
            if self.writer is None:
                await self._connect()
            assert self.reader is not None and self.writer is not None
            try:
                self.writer.write(
                    (
                        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{self.head}"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                    ).encode()
                    + body
                )
                await self.writer.drain()
                return await self._response()
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _response(self) -> tuple[int, bytes]:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(p[:-2] for p in parts)
        else:
            body = await self.reader.read()
            await self.close()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self.reader = self.writer = None


# --- server, database, metrics ----------------------------------------------------------------------------


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
        seed_bulk(url, customers=args.customers, progress=lambda line: None)


def _admin_token(url: str, env: dict[str, str]) -> str:
    """A bearer token for an ADMIN, signed like the server signs (settings from the same environment)."""
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
    command += ["--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"bench: the server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                    s.sendall(b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
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


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn workers are children of the supervisor)."""
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found += _tree(int(child))
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server's processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _peak_rss_mb(pid: int) -> float | None:
    """Sum of VmHWM (peak resident set) over the server's processes; None where /proc is missing."""
    total = 0
    for p in _tree(pid):
        try:
            match = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{p}/status").read_text(), re.M)
        except OSError:
            continue
        if match:
            total += int(match.group(1))
    return round(total / 1024, 1) if total else None


_SAMPLE = re.compile(
    r'^(customer_graph_(?:gc_seconds_total|sql_statements_total))(?:\{(?:generation="(\d)")?[^}]*\})? ([0-9.e+-]+)$',
    re.M,
)


async def _counters(http: Http) -> dict[str, float]:
    status, body = await http.request("GET", "/metrics")
    totals: dict[str, float] = {"customer_graph_gc_seconds_total": 0.0, "customer_graph_sql_statements_total": 0.0}
    if status == 200:
        for name, generation, value in _SAMPLE.findall(body.decode()):
            totals[name] += float(value)
            if generation:
                totals[f"gc{generation}"] = float(value)
    return totals


# --- load ---------------------------------------------------------------------------------------------


def _percentile(sorted_ms: list[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    return round(sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))], 2)


async def _run_case(
    port: int, headers: dict[str, str], case: Case, connections: int, args: argparse.Namespace, server_pid: int
) -> Row:
    template = json.dumps({"query": case.query, "variables": case.variables})
    counter = {"n": 0}

    def body() -> bytes:
        if UNIQUE not in template:
            return template.encode()
        counter["n"] += 1
        return template.replace(UNIQUE, f"{os.getpid()}-{time.time_ns()}-{counter['n']}").encode()

    clients = [Http(port, headers) for _ in range(connections)]
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None

    async def loop(http: Http, until: float, budget: dict[str, int], record: bool) -> None:
        nonlocal errors, first_error
        while time.monotonic() < until and budget["left"] > 0:
            budget["left"] -= 1
            started = time.perf_counter()
            try:
                status, payload = await asyncio.wait_for(http.request("POST", "/graphql", body()), args.timeout)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as error:
                await http.close()
                status, payload = 0, f"{type(error).__name__}: {error}".encode()
            elapsed = time.perf_counter() - started
            if not record:
                continue
            if status != 200 or b'"errors":[{' in payload:  # top-level errors, or a payload's user errors
                errors += 1
                if first_error is None:
                    first_error = f"HTTP {status}: {payload[:300].decode(errors='replace')}"
            else:
                latencies.append(elapsed * 1000)

    warm = time.monotonic() + args.warmup
    await asyncio.gather(*(loop(h, warm, {"left": 10**9}, False) for h in clients))
    probe = Http(port, headers)
    before = await _counters(probe)
    cpu_before = _cpu_seconds(server_pid)
    budget = {"left": args.requests}
    started = time.perf_counter()
    until = time.monotonic() + args.seconds
    await asyncio.gather(*(loop(h, until, budget, True) for h in clients))
    wall = time.perf_counter() - started
    cpu = _cpu_seconds(server_pid) - cpu_before
    after = await _counters(probe)
    await probe.close()
    for h in clients:
        await h.close()
    done = len(latencies) + errors
    ms = sorted(latencies)
    exact = args.workers == 1 and done > 0
    sql = after["customer_graph_sql_statements_total"] - before["customer_graph_sql_statements_total"]
    gc_s = after["customer_graph_gc_seconds_total"] - before["customer_graph_gc_seconds_total"]
    return Row(
        case=case.key,
        name=case.name,
        connections=connections,
        requests=done,
        errors=errors,
        seconds=round(wall, 2),
        req_per_s=round(done / wall, 1) if wall else 0.0,
        p50_ms=_percentile(ms, 0.50),
        p95_ms=_percentile(ms, 0.95),
        p99_ms=_percentile(ms, 0.99),
        sql_per_request=round(sql / done, 2) if exact else None,
        cpu_ms_per_request=round(cpu * 1000 / done, 2) if done else None,
        gc_ms_per_request=round(gc_s * 1000 / done, 3) if exact else None,
        peak_rss_mb=_peak_rss_mb(server_pid),
        first_error=first_error,
        extra={
            f"gc{g}_ms_per_request": round((after.get(f"gc{g}", 0) - before.get(f"gc{g}", 0)) * 1000 / done, 3)
            for g in (0, 1, 2)
            if exact
        },
    )


def _fmt(value: Any, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def _table(rows: list[Row]) -> str:
    head = (
        f"{'case':<34} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'SQL/req':>7} {'CPU ms/req':>10} {'GC ms/req':>9} {'peak RSS MB':>11}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.case + ': ' + r.name:<34} {r.connections:>5} {r.req_per_s:>8.1f} {_fmt(r.p50_ms, '.2f'):>8} "
            f"{_fmt(r.p95_ms, '.2f'):>8} {_fmt(r.p99_ms, '.2f'):>8} {r.errors:>6} {_fmt(r.sql_per_request, '.2f'):>7} "
            f"{_fmt(r.cpu_ms_per_request, '.2f'):>10} "
            f"{_fmt(r.gc_ms_per_request, '.3f'):>9} {_fmt(r.peak_rss_mb, '.1f'):>11}"
        )
    for r in rows:
        if r.first_error:
            lines.append(f"first error in {r.case} c={r.connections}: {r.first_error}")
    return "\n".join(lines)


async def _bench(port: int, token: str, args: argparse.Namespace, server_pid: int) -> list[Row]:
    headers = {"Authorization": f"Bearer {token}"}
    http = Http(port, headers)
    status, payload = await http.request("POST", "/graphql", json.dumps({"query": FIRST_IDS}).encode())
    first = json.loads(payload)
    await http.close()
    if status != 200 or first.get("errors"):
        raise SystemExit(f"bench: cannot list customers: {payload[:300]!r}")
    ids = [node["id"] for node in first["data"]["customers"]["nodes"]]
    if not ids:
        raise SystemExit("bench: no customers to read")
    new_customer = {"firstName": "Load", "lastName": "Test", "email": f"load-{UNIQUE}@example.com"}
    cases = {
        "a": Case("a", "50 customers x 10 requests", CUSTOMERS_PAGE, {"first": 50}),
        "b": Case("b", "customer + requests + ops", CUSTOMER_BY_ID, {"id": ids[len(ids) // 2]}),
        "c": Case("c", "createCustomer", CREATE_CUSTOMER, {"input": new_customer}),
        "search": Case("search", "name fragment", SEARCH, {"q": args.search}),
        "queue": Case("queue", "operators' queues", OPERATOR_QUEUE, {}),
    }
    rows = []
    for connections in args.connections:
        for key in args.only:
            row = await _run_case(port, headers, cases[key], connections, args, server_pid)
            print(_table([row]).splitlines()[-1 - (1 if row.first_error else 0)], flush=True)
            rows.append(row)
    return rows


def _csv_ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000, help="generated customers (5 requests, 2 chats each)")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per row")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured time before each row")
    parser.add_argument("--requests", type=int, default=100_000, help="response limit per row")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    parser.add_argument("--connections", type=_csv_ints, default=[1, 50], help="connection counts, e.g. 1,50")
    parser.add_argument("--only", type=lambda s: s.split(","), default=["a", "b", "c", "search", "queue"])
    parser.add_argument("--search", default="stark", help="the name fragment for the search row")
    parser.add_argument("--workers", type=int, default=1, help="server processes (SQL and GC columns need 1)")
    parser.add_argument("--reuse", action="store_true", help="DATABASE_URL is already seeded: do not seed")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    if not set(args.only) <= {"a", "b", "c", "search", "queue"}:
        parser.error("--only takes a,b,c,search,queue")
    args.seconds = min(args.seconds, 60.0)
    args.warmup = min(args.warmup, 30.0)

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
        with _server(env, port, args.workers) as process:
            print(
                f"bench: server on 127.0.0.1:{port}, {args.workers} worker(s), {os.cpu_count()} cores; "
                f"{args.warmup:g}s warm-up + {args.seconds:g}s per row",
                flush=True,
            )
            print(_table([]), flush=True)
            rows = asyncio.run(_bench(port, token, args, process.pid))
    report = {
        "workers": args.workers,
        "cores": os.cpu_count(),
        "customers": None if args.reuse else args.customers,
        "seconds_per_row": args.seconds,
        "rows": [asdict(r) for r in rows],
    }
    print()
    print(_table(rows))
    print(json.dumps(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
