"""Keyset pagination: stable cursors, so paging while rows are inserted neither skips nor repeats.

An ordering is a list of columns ending with the primary key, all in one direction; a cursor is the
values of those columns for one row. `fetch_page` serves one list; `ChildPageLoader` (db/loaders.py)
serves "first N per parent" for many parents in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import BigInteger, DateTime, Integer, Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

R = TypeVar("R")


@dataclass(frozen=True)
class Ordering:
    """Columns of a keyset ordering (the last one unique), and its direction."""

    name: str
    columns: tuple[Any, ...]
    descending: bool = False

    def key_of(self, row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, c.key) for c in self.columns)

    def decode(self, values: Sequence[Any]) -> tuple[Any, ...] | None:
        """Typed key values from a cursor's JSON values; None when they do not fit this ordering."""
        if len(values) != len(self.columns):
            return None
        out: list[Any] = []
        for col, value in zip(self.columns, values, strict=True):
            try:
                if isinstance(col.type, DateTime):
                    out.append(datetime.fromisoformat(value))
                elif isinstance(col.type, (Integer, BigInteger)):
                    if isinstance(value, bool) or not isinstance(value, int):
                        return None
                    out.append(value)
                else:
                    if not isinstance(value, str) or "\x00" in value:  # PostgreSQL refuses NUL in text
                        return None
                    out.append(value)
            except (TypeError, ValueError):
                return None
        return tuple(out)

    def encode(self, key: tuple[Any, ...]) -> list[Any]:
        return [v.isoformat() if isinstance(v, datetime) else v for v in key]

    def after(self, key: tuple[Any, ...], *, backwards: bool = False) -> ColumnElement[bool]:
        """Rows strictly after `key` in this ordering (before it when `backwards`)."""
        cols = tuple_(*self.columns)
        vals = tuple_(*key)
        return cols < vals if (self.descending != backwards) else cols > vals

    def order_by(self, *, backwards: bool = False) -> list[Any]:
        desc = self.descending != backwards
        return [c.desc() if desc else c.asc() for c in self.columns]


@dataclass(frozen=True)
class PageRequest:
    """Validated page arguments: exactly one of first/last is set (resolvers/pagination.py checks them)."""

    first: int | None = None
    after: tuple[Any, ...] | None = None
    last: int | None = None
    before: tuple[Any, ...] | None = None

    @property
    def backwards(self) -> bool:
        return self.last is not None

    @property
    def size(self) -> int:
        return self.last if self.last is not None else (self.first or 0)


@dataclass
class Page(Generic[R]):
    rows: list[R]
    keys: list[tuple[Any, ...]]
    has_next: bool
    has_previous: bool
    ordering: Ordering | None = None
    total: Any = field(default=None, repr=False)  # zero-argument coroutine function giving totalCount


def apply_page(stmt: Select[Any], ordering: Ordering, req: PageRequest) -> Select[Any]:
    if req.after is not None:
        stmt = stmt.where(ordering.after(req.after))
    if req.before is not None:
        stmt = stmt.where(ordering.after(req.before, backwards=True))
    return stmt.order_by(*ordering.order_by(backwards=req.backwards)).limit(req.size + 1)


def make_page(rows: list[R], ordering: Ordering, req: PageRequest) -> Page[R]:
    extra = len(rows) > req.size
    rows = rows[: req.size]
    if req.backwards:
        rows.reverse()
        has_next, has_previous = req.before is not None, extra
    else:
        has_next, has_previous = extra, req.after is not None
    return Page(rows, [ordering.key_of(r) for r in rows], has_next, has_previous, ordering)


async def fetch_page(session: AsyncSession, stmt: Select[Any], ordering: Ordering, req: PageRequest) -> Page[Any]:
    """One page of `stmt` (an ORM select of one entity) in `ordering`."""
    if req.size == 0:
        return Page([], [], False, req.after is not None, ordering)
    rows = list((await session.scalars(apply_page(stmt, ordering, req))).all())
    return make_page(rows, ordering, req)


async def count_rows(session: AsyncSession, stmt: Select[Any]) -> int:
    count_stmt = select(func.count()).select_from(stmt.order_by(None).limit(None).subquery())
    return int((await session.execute(count_stmt)).scalar_one())
