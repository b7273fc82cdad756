"""Engine and session factory. Built once per process (in the app's lifespan or a CLI command)."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def async_url(url: str) -> str:
    """Accept `postgres://`, `postgresql://` or `postgresql+asyncpg://`; return the asyncpg form."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, not {parsed.get_backend_name()!r}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 10.0,
    statement_timeout_ms: int = 15000,
    echo: bool = False,
) -> AsyncEngine:
    return create_async_engine(
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


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
