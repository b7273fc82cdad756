"""Per-request dataloaders (aiodataloader). A fresh `Loaders` bundle is built for every request.

Reads go through the request's `Reader` (db/reader.py): Core rows (immutable, attribute access by column
name) on an autocommit connection, the request's batches in turn on one pooled connection. Results are
aligned with keys: a miss is `None`, an empty `Page` or `0`.

- `RowByIdLoader`   (e.g. CustomerByIdLoader): rows by primary key.
- `ChildPageLoader` (e.g. RequestsByCustomerLoader): the first N children of every parent in ONE
                    statement (row_number() over (partition by parent)), for nested connections.
- `ChildCountLoader`(e.g. OpenRequestCountByCustomerLoader): a grouped count per parent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.paging import Ordering, Page, PageRequest, apply_page, make_page
from db.reader import Reader, columns_of, rows_select, select_rows

Where = Sequence[Any]


class SharedLoader(DataLoader):  # type: ignore[misc]
    """A DataLoader whose cached futures no awaiter can cancel.

    aiodataloader hands every caller of `load(key)` the same cached future. graphql-core cancels the sibling
    fields of a field that raised (`gather_with_cancel`), and cancelling a task cancels the future it awaits:
    the shared one. Every other field awaiting that key (the same customer under two aliases, a second root
    field) then got a CancelledError, which is no `Exception`, so it escaped the executor and crashed the request.
    Each caller gets its own shield instead; the batch still resolves the cached future for the others."""

    def load(self, key: Any) -> asyncio.Future[Any]:
        return asyncio.shield(super().load(key))


class RowByIdLoader(SharedLoader):
    def __init__(self, reader: Reader, model: Any) -> None:
        super().__init__()
        self.reader = reader
        self.model = model

    async def batch_load_fn(self, keys: list[int]) -> list[Any]:
        rows = await self.reader.rows(select_rows(self.model).where(self.model.id.in_(keys)))
        by_id = {row.id: row for row in rows}
        return [by_id.get(k) for k in keys]


class ChildPageLoader(SharedLoader):
    """parent id -> Page of children, for one set of page arguments and filters."""

    def __init__(
        self,
        reader: Reader,
        *,
        model: Any,
        parent_column: Any,
        ordering: Ordering,
        request: PageRequest,
        where: Where = (),
    ) -> None:
        super().__init__()
        self.reader = reader
        self.model = model
        self.parent_column = parent_column
        self.ordering = ordering
        self.request = request
        self.where = list(where)

    async def batch_load_fn(self, keys: list[int]) -> list[Page[Any]]:
        req = self.request
        if req.size == 0:
            return [Page([], [], False, req.after is not None, self.ordering) for _ in keys]
        conditions = [self.parent_column.in_(keys), *self.where]
        if req.after is not None:
            conditions.append(self.ordering.after(req.after))
        if req.before is not None:
            conditions.append(self.ordering.after(req.before, backwards=True))
        rn = (
            func.row_number()
            .over(partition_by=self.parent_column, order_by=self.ordering.order_by(backwards=req.backwards))
            .label("rn")
        )
        inner = select(*columns_of(self.model), rn).where(*conditions).subquery()
        stmt = (
            select(*(inner.c[c.key] for c in columns_of(self.model)))
            .where(inner.c.rn <= req.size + 1)
            .order_by(inner.c[self.parent_column.key], inner.c.rn)
        )
        rows = await self.reader.rows(stmt)
        grouped: dict[int, list[Any]] = {}
        for row in rows:
            grouped.setdefault(getattr(row, self.parent_column.key), []).append(row)
        return [make_page(grouped.get(k, []), self.ordering, req) for k in keys]


class ChildCountLoader(SharedLoader):
    """parent id -> number of children matching `where`."""

    def __init__(self, reader: Reader, *, parent_column: Any, where: Where = ()) -> None:
        super().__init__()
        self.reader = reader
        self.parent_column = parent_column
        self.where = list(where)

    async def batch_load_fn(self, keys: list[int]) -> list[int]:
        stmt = (
            select(self.parent_column, func.count())
            .where(self.parent_column.in_(keys), *self.where)
            .group_by(self.parent_column)
        )
        counts: dict[Any, int] = {row[0]: row[1] for row in await self.reader.rows(stmt)}
        return [int(counts.get(k, 0)) for k in keys]


class Loaders:
    """The bundle of one request. Loaders are made on first use and shared by equal keys."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker  # for writes (and the rare read that needs a session)
        self.reader = Reader(sessionmaker)
        self._loaders: dict[Hashable, DataLoader] = {}

    def get(self, key: Hashable, factory: Callable[[], DataLoader]) -> Any:
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = factory()
        return loader

    def by_id(self, model: Any) -> RowByIdLoader:
        """`<Model>ByIdLoader`: rows of `model` by primary key."""
        return self.get(("by_id", model), lambda: RowByIdLoader(self.reader, model))  # type: ignore[no-any-return]

    def child_page(
        self,
        *,
        name: str,
        model: Any,
        parent_column: Any,
        ordering: Ordering,
        request: PageRequest,
        where: Where = (),
        where_key: Hashable = (),
    ) -> ChildPageLoader:
        """`name` and `where_key` identify the filter, so equal nested fields share one loader."""
        key = ("page", name, where_key, ordering.name, request.cache_key())
        return self.get(  # type: ignore[no-any-return]
            key,
            lambda: ChildPageLoader(
                self.reader,
                model=model,
                parent_column=parent_column,
                ordering=ordering,
                request=request,
                where=where,
            ),
        )

    def child_count(
        self, *, name: str, parent_column: Any, where: Where = (), where_key: Hashable = ()
    ) -> ChildCountLoader:
        key = ("count", name, where_key)
        return self.get(  # type: ignore[no-any-return]
            key, lambda: ChildCountLoader(self.reader, parent_column=parent_column, where=where)
        )

    def forget(self, model: Any, pk: int) -> None:
        """Drop a cached row after a mutation changed it."""
        loader = self._loaders.get(("by_id", model))
        if loader is not None:
            loader.clear(pk)

    def forget_lists(self, *names: str) -> None:
        """Drop cached nested pages and counts whose loader `name` starts with one of `names` (after a write)."""
        for key in list(self._loaders):
            if isinstance(key, tuple) and key[0] in ("page", "count") and str(key[1]).startswith(names):
                del self._loaders[key]

    def prime(self, model: Any, row: Any) -> None:
        self.by_id(model).clear(row.id).prime(row.id, row)


async def fetch_list(loaders: Loaders, stmt: Any, ordering: Ordering, request: PageRequest, *, model: Any) -> Page[Any]:
    """A top-level list page of `stmt` (an ORM `select(model)`) as Core rows; totalCount counted only if asked;
    rows primed by id."""
    if request.size == 0:
        page: Page[Any] = Page([], [], False, request.after is not None, ordering)
    else:
        rows = await loaders.reader.rows(apply_page(rows_select(stmt, model), ordering, request))
        page = make_page(rows, ordering, request)

    async def total() -> int:
        count = select(func.count()).select_from(stmt.order_by(None).limit(None).subquery())
        return int(await loaders.reader.scalar(count) or 0)

    page.total = total
    for row in page.rows:
        loaders.prime(model, row)
    return page
