"""Plain reads for one request: Core rows, autocommit, one pooled connection while reads are queued.

Why not an `AsyncSession` per read:
- A session builds ORM identity-map objects (SQLModel/pydantic init plus SQLAlchemy instance state, a fifth of
  the CPU of a list page) and the cyclic garbage collector then walks them. A read returns `Row`s instead:
  small immutable tuples with attribute access by column name, so `row.first_name` works as before.
- A session wraps every read in `BEGIN … ROLLBACK`. Reads here run on the engine in AUTOCOMMIT, so PostgreSQL
  sees only the SELECT (each statement is its own snapshot, as it already was with one read per session).
- A request's loader batches are serialised on ONE checked-out connection, held only while reads are queued:
  when the last queued read finishes the connection goes back to the pool, so a request never holds a read
  connection while it waits for anything else (a write session, the client) and the pool cannot deadlock.

Writes keep the ORM session and its unit of work (`RequestContext.sessionmaker`).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

_AUTOCOMMIT: weakref.WeakKeyDictionary[Engine, AsyncEngine] = weakref.WeakKeyDictionary()


def autocommit_engine(engine: AsyncEngine) -> AsyncEngine:
    """`engine` in AUTOCOMMIT, sharing its pool (made once per engine)."""
    found = _AUTOCOMMIT.get(engine.sync_engine)
    if found is None:
        found = _AUTOCOMMIT[engine.sync_engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return found


def columns_of(model: Any) -> Sequence[Any]:
    """The table columns of a SQLModel class; a Core select of them gives rows keyed by attribute name."""
    return tuple(model.__table__.columns)


def rows_select(stmt: Select[Any], model: Any) -> Select[Any]:
    """An ORM `select(Model)` (with its WHERE clauses) turned into a Core select of the model's columns."""
    return stmt.with_only_columns(*columns_of(model))


def select_rows(model: Any) -> Select[Any]:
    return select(*columns_of(model))


class Reader:
    """Runs one request's reads in turn on one connection; see the module docstring."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.engine = autocommit_engine(sessionmaker.kw["bind"])
        self._lock = asyncio.Lock()
        self._queued = 0
        self._conn: AsyncConnection | None = None

    async def rows(self, stmt: Any) -> list[Any]:
        """The result rows of `stmt` (SQLAlchemy `Row`s: tuples with attribute access by column name)."""
        self._queued += 1
        try:
            async with self._lock:
                try:
                    return await self._execute(stmt)
                except DBAPIError as error:
                    if not error.connection_invalidated:
                        raise
                    # The connection died in the pool (no ping on checkout): the pool is invalidated; retry once.
                    await self._release()
                    return await self._execute(stmt)
        finally:
            self._queued -= 1
            if self._queued == 0:
                await self._release()

    async def scalar(self, stmt: Any) -> Any:
        found = await self.rows(stmt)
        return found[0][0] if found else None

    async def _execute(self, stmt: Any) -> list[Any]:
        if self._conn is None:
            self._conn = await self.engine.connect()
        return list((await self._conn.execute(stmt)).all())

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.invalidated:  # a dead connection: end its SQLAlchemy transaction before closing
                await conn.rollback()
        finally:
            await conn.close()
