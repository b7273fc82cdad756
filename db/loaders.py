"""Per-request dataloaders (aiodataloader). A fresh `Loaders` bundle is built for every request.

Reads go through the request's `Reader` (db/reader.py): Core rows (immutable, attribute access by column
name) on an autocommit connection, the request's batches in turn on one pooled connection. Results are
aligned with keys: a miss is `None`, an empty `Page` or `0`.

- `RowByIdLoader`   (e.g. CustomerByIdLoader): rows by primary key.
- `ChildPageLoader` (e.g. RequestsByCustomerLoader): the first N children of every parent in ONE
                    statement (row_number() over (partition by parent)), for nested connections.
- `ChildCountLoader`(e.g. OpenRequestCountByCustomerLoader): a grouped count per parent.

Nested lists are keyed by type, not by a name a caller picks. Each list shape is a frozen dataclass that
subclasses `ListKey` (e.g. `RequestsOfCustomerKey(customer_id=7, status=None, include_archived=False)`): its
fields are the parent id and every filter, and its SQL comes from `where()`, which reads only those fields. A
filter the key lacks therefore cannot reach the SQL, a key built without one of its filters is a type error,
and two keys are equal only when they are of the same class with the same values, so two different lists never
share a cache entry. A page is cached under (its key without the parent, the page arguments) and the parent id.

A write says which children it changed (`Children`: rows of a table under one parent, e.g. the support requests
of customer 7); `Loaders.forget_children` then drops every cached page and count of exactly those, whatever
their filters, and leaves other parents' lists cached (resolvers/unit_of_work.py records it during the work).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Generic, TypeVar, cast

from aiodataloader import DataLoader
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from db.paging import Ordering, Page, PageRequest, apply_page, make_page
from db.reader import Reader, columns_of, rows_select, select_rows

R = TypeVar("R")
L = TypeVar("L", bound="DataLoader[Any, Any]")
M = TypeVar("M")


def _attribute(column: Mapped[Any]) -> QueryableAttribute[Any]:
    """A model's column attribute (`col(Model.field)`), which knows its model (`class_`) and name (`key`)."""
    return cast("QueryableAttribute[Any]", column)


@dataclass(frozen=True)
class Children:
    """The rows of one table under one parent, e.g. the support requests of customer 7: what a write changed.

    `Children.of(col(SupportRequest.customer_id), 7)`; `column` is the name of the rows' parent (foreign key)
    column."""

    model: type[Any]
    column: str
    parent_id: int

    @classmethod
    def of(cls, column: Mapped[Any], parent_id: int) -> Children:
        attribute = _attribute(column)
        return cls(cast("type[Any]", attribute.class_), attribute.key, parent_id)


@dataclass(frozen=True)
class ListKey(Generic[R]):
    """One nested list: the rows of a table under one parent, filtered. See the module docstring.

    A subclass is a frozen dataclass that sets `parent_column` (the rows' parent column, e.g.
    `col(SupportRequest.customer_id)`) and `ordering` (for pages), has a field named like the parent column
    holding the parent's id, one field per filter, and turns those fields (and nothing else) into `where()`."""

    parent_column: ClassVar[Mapped[Any]]
    ordering: ClassVar[Ordering]

    def where(self) -> Sequence[ColumnElement[bool]]:
        """The list's filters, made from this key's fields only (the parent condition is added by the loader)."""
        return ()

    @classmethod
    def parent(cls) -> QueryableAttribute[Any]:
        """The parent column (read from the class: on an instance the attribute would act as a descriptor)."""
        return _attribute(cls.parent_column)

    @property
    def parent_id(self) -> int:
        value = getattr(self, self.parent().key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{type(self).__name__} has no integer field named like its parent column")
        return value

    @property
    def children(self) -> Children:
        """What this list shows: the children of its parent."""
        return Children.of(self.parent(), self.parent_id)

    def shape(self) -> ListKey[R]:
        """This key without its parent: keys of one shape are loaded for many parents in one statement."""
        return replace(self, **{self.parent().key: 0})

    def shows(self, children: Children) -> bool:
        """Whether this list (of any parent) shows rows of the same table under the same parent column."""
        attribute = self.parent()
        return attribute.class_ is children.model and attribute.key == children.column


K = TypeVar("K")
V = TypeVar("V")


class SharedLoader(DataLoader[K, V]):
    """A DataLoader whose cached futures no awaiter can cancel.

    aiodataloader hands every caller of `load(key)` the same cached future. graphql-core cancels the sibling
    fields of a field that raised (`gather_with_cancel`), and cancelling a task cancels the future it awaits:
    the shared one. Every other field awaiting that key (the same customer under two aliases, a second root
    field) then got a CancelledError, which is no `Exception`, so it escaped the executor and crashed the request.
    Each caller gets its own shield instead; the batch still resolves the cached future for the others."""

    def load(self, key: K) -> asyncio.Future[V]:
        return asyncio.shield(super().load(key))

    def cached(self, key: K) -> asyncio.Future[V] | None:
        """The cached future for `key` itself (every `load` returns a new shield around it), or None."""
        found: asyncio.Future[V] | None = self._cache.get(key)
        return found


class RowByIdLoader(SharedLoader[int, M | None]):
    """Typed by the table it reads: its Core rows carry the model's attributes (read-only), so callers treat
    them as `M`."""

    def __init__(self, reader: Reader, model: type[M]) -> None:
        super().__init__()
        self.reader = reader
        self.model: Any = model

    async def batch_load_fn(self, keys: list[int]) -> list[M | None]:
        rows = await self.reader.rows(select_rows(self.model).where(self.model.id.in_(keys)))
        by_id = {row.id: row for row in rows}
        return [by_id.get(k) for k in keys]


class ChildPageLoader(SharedLoader[int, "Page[Any]"]):
    """parent id -> Page of children, for one list shape (a `ListKey` without its parent) and one page."""

    def __init__(self, reader: Reader, *, shape: ListKey[Any], request: PageRequest) -> None:
        super().__init__()
        self.reader = reader
        self.shape = shape
        self.request = request

    async def batch_load_fn(self, keys: list[int]) -> list[Page[Any]]:
        req, ordering = self.request, self.shape.ordering
        if req.size == 0:
            return [Page([], [], False, req.after is not None, ordering) for _ in keys]
        parent = self.shape.parent()
        conditions = [parent.in_(keys), *self.shape.where()]
        if req.after is not None:
            conditions.append(ordering.after(req.after))
        if req.before is not None:
            conditions.append(ordering.after(req.before, backwards=True))
        rn = (
            func.row_number().over(partition_by=parent, order_by=ordering.order_by(backwards=req.backwards)).label("rn")
        )
        columns = columns_of(parent.class_)
        inner = select(*columns, rn).where(*conditions).subquery()
        stmt = (
            select(*(inner.c[c.key] for c in columns))
            .where(inner.c.rn <= req.size + 1)
            .order_by(inner.c[parent.key], inner.c.rn)
        )
        rows = await self.reader.rows(stmt)
        grouped: dict[int, list[Any]] = {}
        for row in rows:
            grouped.setdefault(getattr(row, parent.key), []).append(row)
        return [make_page(grouped.get(k, []), ordering, req) for k in keys]


class ChildCountLoader(SharedLoader[int, int]):
    """parent id -> number of children in one list shape (a `ListKey` without its parent)."""

    def __init__(self, reader: Reader, *, shape: ListKey[Any]) -> None:
        super().__init__()
        self.reader = reader
        self.shape = shape

    async def batch_load_fn(self, keys: list[int]) -> list[int]:
        parent = self.shape.parent()
        stmt = select(parent, func.count()).where(parent.in_(keys), *self.shape.where()).group_by(parent)
        counts: dict[Any, int] = {row[0]: row[1] for row in await self.reader.rows(stmt)}
        return [int(counts.get(k, 0)) for k in keys]


class Loaders:
    """The bundle of one request. Loaders are made on first use: one per model (by id), one per list shape and
    page (pages), one per list shape (counts)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker  # for writes (and the rare read that needs a session)
        self.reader = Reader(sessionmaker)
        self._loaders: dict[Hashable, DataLoader[Any, Any]] = {}
        self._pages: dict[tuple[ListKey[Any], PageRequest], ChildPageLoader] = {}
        self._counts: dict[ListKey[Any], ChildCountLoader] = {}

    def get(self, key: Hashable, factory: Callable[[], L]) -> L:
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = factory()
        # The bundle holds loaders of every kind; a key is only ever made by one factory, so its loader is an L.
        return cast(L, loader)

    def by_id(self, model: type[M]) -> RowByIdLoader[M]:
        """`<Model>ByIdLoader`: rows of `model` by primary key."""
        return self.get(("by_id", model), lambda: RowByIdLoader(self.reader, model))

    def page(self, key: ListKey[R], request: PageRequest) -> asyncio.Future[Page[R]]:
        """One page of the list `key` (batched with the same page of every other parent of its shape)."""
        shape = key.shape()
        loader = self._pages.get((shape, request))
        if loader is None:
            loader = self._pages[(shape, request)] = ChildPageLoader(self.reader, shape=shape, request=request)
        return loader.load(key.parent_id)

    def count(self, key: ListKey[Any]) -> asyncio.Future[int]:
        """The number of rows in the list `key` (batched over every parent of its shape)."""
        shape = key.shape()
        loader = self._counts.get(shape)
        if loader is None:
            loader = self._counts[shape] = ChildCountLoader(self.reader, shape=shape)
        return loader.load(key.parent_id)

    def cached_count(self, key: ListKey[Any]) -> asyncio.Future[int] | None:
        """The cached count of the list `key`, if one is cached (what `forget_children` drops)."""
        loader = self._counts.get(key.shape())
        return loader.cached(key.parent_id) if loader is not None else None

    def forget(self, model: Any, pk: int) -> None:
        """Drop a cached row after a mutation changed it."""
        loader = self._loaders.get(("by_id", model))
        if loader is not None:
            loader.clear(pk)

    def forget_children(self, *changed: Children) -> None:
        """Drop every cached page and count that shows any of `changed` (after a write): all filters and pages of
        those parents' lists, and nothing of other parents."""
        cached: list[tuple[ListKey[Any], DataLoader[int, Any]]] = [
            (shape, loader) for (shape, _), loader in self._pages.items()
        ]
        cached.extend(self._counts.items())
        for children in changed:
            for shape, loader in cached:
                if shape.shows(children):
                    loader.clear(children.parent_id)

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
