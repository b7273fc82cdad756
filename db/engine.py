"""Engine and session factory. Built once per process (in the app's lifespan or a CLI command)."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def async_url(url: str) -> str:
    """Accept `postgres://`, `postgresql://` or `postgresql+asyncpg://`; return the asyncpg form."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, not {parsed.get_backend_name()!r}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def _refuse_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection asyncpg already knows is closed (the server ended it: a restart, a terminated backend)
    is replaced at checkout, before a statement fails on it. No round trip: asyncpg saw the socket close."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the pooled connection was closed by the server")


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 10.0,
    statement_timeout_ms: int = 15000,
    echo: bool = False,
) -> AsyncEngine:
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        # No liveness ping per checkout (it cost a BEGIN; ROLLBACK round trip each time). A connection that died
        # in the pool fails its first statement: SQLAlchemy invalidates the pool, reads retry once on a fresh
        # connection (db/reader.py) and anything else answers SERVICE_UNAVAILABLE (schema/extensions.py).
        pool_pre_ping=False,
        echo=echo,
        hide_parameters=True,  # a database error's message must not carry names, emails or keys
        connect_args={
            "server_settings": {"statement_timeout": str(statement_timeout_ms), "timezone": "UTC"},
            "timeout": 10,
        },
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    return engine


async def _no_reset(connection: Any) -> None:
    """The read pool's connections only ever run single SELECTs outside a transaction: nothing to reset (asyncpg's
    default reset is one more round trip per checkout)."""


async def create_read_pool(engine: AsyncEngine, *, size: int, statement_timeout_ms: int = 15000) -> Any:
    """asyncpg's own pool, to the engine's database with the engine's connection settings, for the compiled read
    path's statements (compiled/runtime.py): a checkout costs a fraction of SQLAlchemy's (no greenlet, no pool
    events, no reset). Connections open on first use (`min_size=0`), so a server starts while the database is
    down; one that died is replaced after the statement that found out."""
    args, options = engine.dialect.create_connect_args(engine.url)
    options.pop("prepared_statement_cache_size", None)  # SQLAlchemy's own option, not asyncpg's
    return await asyncpg.create_pool(
        *args,
        **options,
        min_size=0,
        max_size=size,
        reset=_no_reset,
        max_inactive_connection_lifetime=0,  # no idle timer armed per checkout; a dead one is replaced on use
        timeout=10,
        server_settings={"statement_timeout": str(statement_timeout_ms), "timezone": "UTC"},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
