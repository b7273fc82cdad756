"""The outbox relay: delivers the rows mutations wrote to `outbox`, after their transaction committed.

Runs inside every server process (lifespan task; `OUTBOX_RELAY_IN_SERVER=false` turns it off) and as
`customer-graph worker`, any number of processes. A round starts at once after a full batch, at once when a
mutation of the same process committed an outbox row (`Services.outbox_written` wakes it: the unit of work and the
compiled write call it), and otherwise after a wait: `OUTBOX_POLL_SECONDS` after a round that found work, doubling
with each empty round up to `OUTBOX_IDLE_POLL_MAX_SECONDS`, so an idle server looks rarely. Each round:

1. **Claim** up to `OUTBOX_BATCH_SIZE` due rows in one statement: `SELECT … FOR UPDATE SKIP LOCKED` picks rows no
   other relay is claiming, and the UPDATE sets a lease (`claimed_until = now + OUTBOX_LEASE_SECONDS`,
   `claimed_by`, `attempts + 1`) on an autocommit connection, so it commits at once. A claimed row is invisible
   to other relays until its lease ends, so a relay killed mid-batch (SIGKILL, power loss) holds its rows only
   until then; another relay then claims and delivers them. Counting the attempt at claim time means a message
   that crashes its relay still runs out of attempts instead of looping forever.
2. **Load** what composing the whole batch needs: every customer (and request, for `email.request_resolved`) in
   ONE `SELECT … WHERE id = ANY(:ids)` per table, on an autocommit connection (no BEGIN / ROLLBACK); each row is
   then composed from that (`resolvers/outbox.py: load`, `compose_loaded`), so an erased or deleted customer is
   still never mailed about. If the read fails, every row of the batch is retried with its error.
3. **Deliver** them, `OUTBOX_CONCURRENCY` at a time. A row whose lease would run out before a send could finish
   (`EMAIL_TIMEOUT_SECONDS`) is handed back unsent, so in the normal path two relays never send the same row.
4. **Record** outcomes. Every row the round sent is marked delivered by ONE `UPDATE … WHERE id = ANY(:ids)` at
   the end of the round (also when the round fails or is cancelled: shielded, up to `RECORD_TIMEOUT_SECONDS`),
   only after its send succeeded. The rare other outcomes are one autocommit UPDATE each, at once:
   `TransientFailure` (5xx, 429, time-out) → pending again at `now + backoff` (exponential from
   `OUTBOX_BACKOFF_BASE_SECONDS`, capped at `OUTBOX_BACKOFF_MAX_SECONDS`, "equal jitter": half fixed, half
   random), or exactly the `Retry-After` the server asked for; `PermanentFailure` (bad or missing recipient,
   missing or erased customer, 400, 401) → dead at once; out of `OUTBOX_MAX_ATTEMPTS` → dead; a lease too short
   → released. `last_error` keeps the reason. Metrics and log lines stay one per message.

**What a round costs**, N rows all delivered, whatever N: the claim, one SELECT of customers (plus one of requests
if the batch has `email.request_resolved` rows), one UPDATE — 3 (or 4) statements, each its own transaction; a
round that finds nothing is the claim alone. Before batching it was 3 + 6·N (a session per compose,
BEGIN/SELECT/ROLLBACK, and a transaction per outcome, BEGIN/UPDATE/COMMIT).
Each failed row adds one statement. tests/outbox/test_relay_batching.py counts them.

**At-least-once.** A relay that dies after the provider accepted a message but before it recorded that sends it
again after the lease; since deliveries are recorded at the end of the round, that is every message the round had
sent so far (at most `OUTBOX_BATCH_SIZE`), not only the one in flight. A graceful stop still records them.
Every attempt carries the row's `idempotency_key` (SendGrid `custom_args` and an
`X-Idempotency-Key` header; the development mailbox names its file by it), so a receiver can drop repeats.

**Time** comes from `clock` (UTC), never from the database, so a test can move it (an hour of SendGrid outage
in milliseconds).

**Why not a queue library.** procrastinate's connectors are psycopg-based: deferring a job opens its own connection,
so it cannot join the asyncpg transaction a mutation already holds. pgqueuer can enqueue through an asyncpg
connection, but it owns its tables (installed by its own CLI, outside our alembic migrations and `alembic check`),
moves a failed job to a log table, and its retry executors compute their own delays — the admin's list by state,
"retry this dead one" on the same row, and a next attempt set from a response's `Retry-After` would all be built
around it. The table the mutations already write plus one claim statement, one read and four small updates is less.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from prometheus_client import start_http_server
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import create_engine, create_sessionmaker
from db.reader import autocommit_engine
from integrations.email import DeliveryError, EmailBackend, PermanentFailure, TransientFailure
from integrations.email.mailbox import FileMailbox
from integrations.email.sendgrid_backend import SendGridBackend
from resolvers import outbox as topics
from resolvers.settings import ResolverSettings
from server import metrics
from server.settings import Settings

log = logging.getLogger("customer_graph.outbox")

Clock = Callable[[], datetime]
RECORD_TIMEOUT_SECONDS = 10.0  # how long recording a round's deliveries may outlast a cancelled round

CLAIM = text(
    """
    UPDATE outbox SET claimed_until = :lease_end, claimed_by = :worker, attempts = attempts + 1
    WHERE id IN (
        SELECT id FROM outbox
        WHERE state = 'pending' AND available_at <= :now AND (claimed_until IS NULL OR claimed_until <= :now)
        ORDER BY available_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, topic, payload, attempts, idempotency_key, claimed_until
    """
)
DELIVERED = text(
    """
    UPDATE outbox SET state = 'delivered', delivered_at = :now, claimed_until = NULL, claimed_by = NULL,
                      last_error = NULL
    WHERE id = ANY(:ids) AND state = 'pending'
    """
)
RETRY = text(
    """
    UPDATE outbox SET available_at = :available_at, claimed_until = NULL, claimed_by = NULL, last_error = :error
    WHERE id = :id AND state = 'pending' AND claimed_by = :worker
    """
)
DEAD = text(
    """
    UPDATE outbox SET state = 'dead', dead_at = :now, claimed_until = NULL, claimed_by = NULL, last_error = :error
    WHERE id = :id AND state = 'pending' AND claimed_by = :worker
    """
)
RELEASE = text(
    """
    UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, attempts = greatest(attempts - 1, 0)
    WHERE id = :id AND state = 'pending' AND claimed_by = :worker
    """
)
GAUGES = text(
    """
    SELECT count(*) FILTER (WHERE state = 'pending' AND (claimed_until IS NULL OR claimed_until <= :now)),
           count(*) FILTER (WHERE state = 'pending' AND claimed_until > :now),
           count(*) FILTER (WHERE state = 'dead'),
           min(created_at) FILTER (WHERE state = 'pending')
    FROM outbox WHERE state <> 'delivered'
    """
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def email_backend(settings: Settings) -> EmailBackend:
    """The configured backend: the development mailbox (default) or SendGrid."""
    email = settings.email
    if email.backend == "sendgrid":
        return SendGridBackend(
            api_key=email.sendgrid_api_key or "",
            sender=email.sender,
            host=email.sendgrid_host,
            timeout_seconds=email.timeout_seconds,
        )
    return FileMailbox(mail_directory(settings), sender=email.sender)


def mail_directory(settings: Settings) -> Path:
    return Path(settings.app.data_dir) / "mail"


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Claimed:
    id: int
    topic: str
    payload: Any
    attempts: int
    idempotency_key: uuid.UUID
    lease_end: datetime


class Relay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        backend: EmailBackend,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        worker: str | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.backend = backend
        self.settings = settings
        self.config = settings.outbox
        self.clock = clock
        self.worker = worker or worker_name()
        self.rng = rng
        self.wake = asyncio.Event()
        self.autocommit = autocommit_engine(sessionmaker.kw["bind"])

    # --- one round ---------------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim one batch, load what composing it needs, deliver it; the number of rows claimed."""
        batch = await self.claim()
        if not batch:
            return 0
        records = await self.load(batch)
        settings = self.settings.for_resolvers()  # once a round, not once a message
        delivered: list[Claimed] = []
        limiter = anyio.Semaphore(self.config.concurrency)

        async def one(item: Claimed) -> None:
            async with limiter:
                if await self.deliver(item, records, settings):
                    delivered.append(item)

        try:
            async with anyio.create_task_group() as group:
                for item in batch:
                    group.start_soon(one, item)
        finally:  # also when the round fails or is cancelled: what was sent is recorded, or resent after the lease
            with anyio.CancelScope(shield=True) as scope:
                scope.deadline = anyio.current_time() + RECORD_TIMEOUT_SECONDS
                await self._delivered(delivered)
        return len(batch)

    async def claim(self) -> list[Claimed]:
        now = self.clock()
        lease_end = now + timedelta(seconds=self.config.lease_seconds)
        params = {"now": now, "lease_end": lease_end, "worker": self.worker, "limit": self.config.batch_size}
        async with self.autocommit.connect() as conn:  # one statement: atomic on its own, no BEGIN / COMMIT
            rows = (await conn.execute(CLAIM, params)).all()
        return [Claimed(r.id, r.topic, r.payload, r.attempts, r.idempotency_key, r.claimed_until) for r in rows]

    async def load(self, batch: list[Claimed]) -> topics.Records | Exception:
        """The customers and requests the whole batch needs, one SELECT per table, no transaction. A failure is
        returned, not raised: each row of the batch is then retried with it, as if its own compose had failed."""
        try:
            async with self.autocommit.connect() as conn:
                return await topics.load(conn, batch)
        except Exception as error:
            return error

    async def deliver(self, item: Claimed, records: topics.Records | Exception, settings: ResolverSettings) -> bool:
        """Compose and send one row; True once sent (the caller records it delivered). Every other outcome is
        recorded here (rare, one statement each)."""
        needed = timedelta(seconds=self.settings.email.timeout_seconds + 2)
        if self.clock() + needed > item.lease_end:  # another relay may claim it before we would finish
            await self._write(RELEASE, id=item.id, worker=self.worker)
            return False
        try:
            if isinstance(records, Exception):
                raise records
            message = topics.compose_loaded(records, settings, item)
            await self.backend.send(message)
        except PermanentFailure as failure:
            await self._dead(item, failure.reason)
        except TransientFailure as failure:
            await self._retry(item, failure.reason, failure.retry_after)
        except DeliveryError as failure:
            await self._retry(item, failure.reason, None)
        except Exception as error:  # a bug or an unexpected library error: retried, then dead, never lost
            log.exception("outbox message %s failed unexpectedly", item.id, extra={"outbox_id": item.id})
            await self._retry(item, f"{type(error).__name__}: {error}"[:1000], None)
        else:
            return True
        return False

    async def _delivered(self, items: list[Claimed]) -> None:
        """One UPDATE for every row of the round that was sent, then their metrics."""
        if not items:
            return
        await self._write(DELIVERED, ids=[item.id for item in items], now=self.clock())
        for item in items:
            metrics.OUTBOX_DELIVERIES.labels(item.topic).inc()

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        """Seconds until the next attempt after `attempts` failed ones."""
        cap = self.config.backoff_max_seconds
        if retry_after is not None:
            return min(cap, retry_after) * (1 + 0.1 * self.rng())  # as asked, plus a little spread
        delay: float = min(cap, self.config.backoff_base_seconds * 2 ** max(0, attempts - 1))
        return delay / 2 + delay / 2 * self.rng()

    async def _retry(self, item: Claimed, reason: str, retry_after: float | None) -> None:
        if item.attempts >= self.config.max_attempts:
            await self._dead(item, f"{reason} (gave up after {item.attempts} attempts)")
            return
        delay = self.backoff(item.attempts, retry_after)
        available_at = self.clock() + timedelta(seconds=delay)
        await self._write(RETRY, id=item.id, worker=self.worker, error=reason, available_at=available_at)
        metrics.OUTBOX_FAILURES.labels(item.topic, "retry").inc()
        log.warning(
            "outbox message %s will be retried in %.1f s: %s",
            item.id,
            delay,
            reason,
            extra={"outbox_id": item.id, "topic": item.topic, "attempts": item.attempts},
        )

    async def _dead(self, item: Claimed, reason: str) -> None:
        await self._write(DEAD, id=item.id, worker=self.worker, error=reason, now=self.clock())
        metrics.OUTBOX_FAILURES.labels(item.topic, "dead").inc()
        log.error(
            "outbox message %s is dead: %s",
            item.id,
            reason,
            extra={"outbox_id": item.id, "topic": item.topic, "attempts": item.attempts},
        )

    async def _write(self, statement: Any, **params: Any) -> None:
        """One UPDATE on an autocommit connection: atomic on its own, no BEGIN / COMMIT round trips."""
        async with self.autocommit.connect() as conn:
            await conn.execute(statement, params)

    # --- the loop ----------------------------------------------------------------------------------------

    def idle_wait(self, previous: float | None, claimed: int) -> float:
        """Seconds to wait after a round that claimed `claimed` rows: `OUTBOX_POLL_SECONDS` after a round that
        found work, then doubling with every empty round up to `OUTBOX_IDLE_POLL_MAX_SECONDS`."""
        poll = self.config.poll_seconds
        if claimed or previous is None:
            return poll
        return max(poll, min(previous * 2, self.config.idle_poll_max_seconds))

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until `stop` is set: at once again after a full batch; else when `wake` is set (a mutation of
        this process committed an outbox row) or after `idle_wait`. A database outage is logged and waited out,
        never fatal."""
        wait: float | None = None
        while not stop.is_set():
            self.wake.clear()  # a wake during the round below starts the next one at once
            try:
                claimed = await self.run_once()
            except Exception as error:  # the database is down or restarting: wait and try again
                log.warning("outbox relay round failed: %s: %s", type(error).__name__, str(error)[:200])
                claimed = 0
            if claimed >= self.config.batch_size:
                wait = None
                continue
            wait = self.idle_wait(wait, claimed)
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
            await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            if self.wake.is_set():
                wait = None


async def refresh_gauges(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime | None = None) -> None:
    """Backlog by state and the age of the oldest pending row, for `/metrics`."""
    now = now or utcnow()
    async with sessionmaker() as session:
        pending, in_flight, dead, oldest = (await session.execute(GAUGES, {"now": now})).one()
    metrics.OUTBOX_MESSAGES.labels("pending").set(pending)
    metrics.OUTBOX_MESSAGES.labels("in_flight").set(in_flight)
    metrics.OUTBOX_MESSAGES.labels("dead").set(dead)
    metrics.OUTBOX_BACKLOG.set(pending + in_flight)
    metrics.OUTBOX_OLDEST_PENDING_AGE.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


@dataclass
class RunningRelay:
    relay: Relay
    task: asyncio.Task[None]
    stopping: asyncio.Event

    async def stop(self) -> None:
        """Let in-flight sends finish (up to 15 s), then cancel; unsent claims wait for their lease."""
        self.stopping.set()
        try:
            await asyncio.wait_for(self.task, 15.0)
        except (TimeoutError, asyncio.CancelledError):
            pass


def start_in_server(
    sessionmaker: async_sessionmaker[AsyncSession], backend: EmailBackend, settings: Settings
) -> RunningRelay | None:
    """The relay as a task of the server's lifespan, unless `OUTBOX_RELAY_IN_SERVER=false`."""
    if not settings.outbox.relay_in_server:
        return None
    relay = Relay(sessionmaker, backend, settings)
    stopping = asyncio.Event()
    task = asyncio.create_task(relay.run(stopping), name="outbox-relay")
    return RunningRelay(relay, task, stopping)


async def run_worker(settings: Settings, url: str, *, metrics_port: int | None = None) -> None:
    """`customer-graph worker`: one relay until SIGTERM/SIGINT; in-flight sends finish, unsent claims wait for
    their lease."""
    concurrency = settings.outbox.concurrency
    engine = create_engine(
        url,
        pool_size=concurrency + 2,
        max_overflow=2,
        pool_timeout=settings.database.pool_timeout,
        statement_timeout_ms=settings.database.statement_timeout_ms,
    )
    relay = Relay(create_sessionmaker(engine), email_backend(settings), settings)
    if metrics_port is not None:
        start_http_server(metrics_port, addr=settings.app.host, registry=metrics.REGISTRY)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info(
        "outbox worker started",
        extra={"worker": relay.worker, "email_backend": relay.backend.name, "batch_size": settings.outbox.batch_size},
    )
    try:
        await relay.run(stop)
    finally:
        await engine.dispose()
        log.info("outbox worker stopped", extra={"worker": relay.worker})
