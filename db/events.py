"""Events across server processes: PostgreSQL LISTEN/NOTIFY, one listening connection per process.

Writers NOTIFY inside their transaction (`SELECT pg_notify(channel, payload)`); PostgreSQL delivers a
notification only when, and if, that transaction commits, to every session that LISTENs on the channel in
the same database — whichever server process made the change. Payloads carry ids only (NOTIFY's limit is
8,000 bytes); each subscriber loads the row itself, with its own viewer's authorization.

`EventHub` owns ONE dedicated asyncpg connection (outside the SQLAlchemy pool) that LISTENs on every channel,
and fans each notification out to the in-process subscribers of that channel through bounded queues.
A lost connection (PostgreSQL restart, network cut) is re-established by itself with backoff; the loss and the
recovery are logged and reported to the observer (metrics). Notifications committed while it was down are
not delivered (PostgreSQL keeps none for a session that is not listening), and none are invented.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from typing import Any, Protocol, TypeVar

import asyncpg
import orjson
from sqlalchemy.engine import make_url

log = logging.getLogger("customer_graph.events")
T = TypeVar("T")

QUEUE_SIZE = 256  # events one subscriber may have pending before it is dropped as too slow
HEALTH_CHECK_SECONDS = 10.0  # a silent, half-open connection is found by a query this often
RETRY_MIN_SECONDS = 0.25
RETRY_MAX_SECONDS = 5.0


class Observer(Protocol):
    """What the hub reports (server/ wires it to /metrics)."""

    def connected(self, *, reconnect: bool) -> None: ...

    def lost(self, *, reason: str) -> None: ...

    def received(self, *, channel: str) -> None: ...

    def dropped(self, *, channel: str) -> None: ...


class _Quiet:
    def connected(self, *, reconnect: bool) -> None:
        pass

    def lost(self, *, reason: str) -> None:
        pass

    def received(self, *, channel: str) -> None:
        pass

    def dropped(self, *, channel: str) -> None:
        pass


class Event:
    """One notification as every subscriber of this process receives it: the payload, and the reads that the
    subscribers share. When 1,000 subscribers need the event's row, `shared` reads it once for all of them;
    each subscriber still applies its own viewer's authorization to it (resolvers/subscriptions.py)."""

    __slots__ = ("channel", "payload", "_reads")

    def __init__(self, channel: str, payload: dict[str, Any]) -> None:
        self.channel = channel
        self.payload = payload
        self._reads: dict[Hashable, asyncio.Future[Any]] = {}

    def get(self, key: str) -> Any:
        return self.payload.get(key)

    async def shared(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """`read()`'s result, run once per event and key for all subscribers of this process."""
        future = self._reads.get(key)
        if future is None:
            future = self._reads[key] = asyncio.ensure_future(read())
        return await asyncio.shield(future)  # one subscriber leaving does not cancel the read for the others


class SubscriberTooSlow(Exception):
    """A subscriber left more than QUEUE_SIZE events unread; its stream ends."""


def asyncpg_params(url: str) -> dict[str, Any]:
    """asyncpg.connect keyword arguments from a SQLAlchemy/libpq URL (a `?host=/socket/dir` honoured)."""
    u = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    params: dict[str, Any] = {
        "user": u.username,
        "password": u.password or None,
        "host": u.host or u.query.get("host"),
        "port": u.port,
        "database": u.database,
    }
    return {k: v for k, v in params.items() if v is not None}


class Stream:
    """One subscriber's view of one channel: an async iterator of events."""

    def __init__(self, hub: EventHub, channel: str) -> None:
        self.hub = hub
        self.channel = channel
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE)
        self.too_slow = False

    def offer(self, event: Event) -> bool:
        if self.too_slow:
            return False
        try:
            self.queue.put_nowait(event)
            return True
        except asyncio.QueueFull:
            self.too_slow = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)  # wakes the reader, which then raises SubscriberTooSlow
            return False

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> Event:
        event = await self.queue.get()
        if event is None:
            raise SubscriberTooSlow()
        return event


class EventHub:
    def __init__(self, url: str, *, channels: Iterable[str], observer: Observer | None = None) -> None:
        self.params = asyncpg_params(url)
        self.channels = tuple(channels)
        self.observer: Observer = observer or _Quiet()
        self.streams: dict[str, set[Stream]] = {c: set() for c in self.channels}
        self.is_listening = False
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None
        self._lost: asyncio.Event | None = None
        self._ready = asyncio.Event()

    # --- lifecycle ---

    async def start(self) -> None:
        """Starts listening in the background; never fails because the database is down (it keeps retrying)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-hub")

    async def wait_listening(self, seconds: float) -> bool:
        """True once LISTEN is in place (for tests and benchmarks)."""
        try:
            async with asyncio.timeout(seconds):
                await self._ready.wait()
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # --- subscribers ---

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Stream]:
        if channel not in self.streams:
            raise ValueError(f"not a channel of this hub: {channel}")
        stream = Stream(self, channel)
        self.streams[channel].add(stream)
        try:
            yield stream
        finally:
            self.streams[channel].discard(stream)

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self.streams.values())

    def _dispatch(self, _conn: Any, _pid: int, channel: str, raw: str) -> None:
        self.observer.received(channel=channel)
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("notification is not JSON", extra={"channel": channel})
            return
        if not isinstance(payload, dict):
            log.warning("notification is not a JSON object", extra={"channel": channel})
            return
        event = Event(channel, payload)
        for stream in list(self.streams.get(channel, ())):
            if not stream.offer(event):
                self.observer.dropped(channel=channel)

    # --- the one listening connection ---

    async def _run(self) -> None:
        delay = RETRY_MIN_SECONDS
        first = True
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(**self.params, timeout=10)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                for channel in self.channels:
                    await conn.add_listener(channel, self._dispatch)
                self.is_listening = True
                self._ready.set()
                if not first:
                    self.reconnects += 1
                    log.warning("event listener reconnected", extra={"reconnects": self.reconnects})
                self.observer.connected(reconnect=not first)
                first = False
                delay = RETRY_MIN_SECONDS
                await self._watch(conn, lost)
                reason = "connection closed"
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure: log once per attempt, back off, try again
                reason = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
            finally:
                was_listening = self.is_listening
                self.is_listening = False
                self._ready.clear()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            if was_listening:
                log.warning("event listener lost its database connection", extra={"reason": reason})
                self.observer.lost(reason=reason)
            else:
                log.warning("event listener cannot connect", extra={"reason": reason, "retry_in": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def _watch(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Returns when the connection is gone: terminated, or no longer answering a health check."""
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HEALTH_CHECK_SECONDS):
                    await lost.wait()
                    return
            async with asyncio.timeout(5):
                await conn.fetchval("SELECT 1")
