"""Alembic environment (async). The URL comes from the config (set by server/migrate.py) or DATABASE_URL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine

from db.engine import async_url
from db.models import metadata

config = context.config
target_metadata = metadata

# Created by the migration only where the server has pg_trgm: not part of the models, so not compared.
OPTIONAL_INDEXES = {"ix_customers_search_trgm"}


def include_name(name, type_, parent_names):  # type: ignore[no-untyped-def]
    return not (type_ == "index" and name in OPTIONAL_INDEXES)


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("no database URL: set DATABASE_URL or run through `customer-graph migrate`")
    return async_url(url)


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=include_name,
        compare_type=True,
        compare_server_default=False,
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection) -> None:  # type: ignore[no-untyped-def]
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        await connectable.run_sync(_run_sync)
        return
    # A bounded connect timeout: an unreachable database fails in seconds, not asyncpg's default minute.
    engine = create_async_engine(_url(), poolclass=pool.NullPool, connect_args={"timeout": 10})
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
