"""Relay connections. Each domain declares `@strawberry.type class XConnection(Connection[X])`;
strawberry names its edge type `XEdge`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, Self, TypeVar

import strawberry

from db.paging import Page
from resolvers.pagination import encode_cursor

T = TypeVar("T")


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item of the page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item of the page.")


@strawberry.type(description="An item of a list with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque cursor: pass to `after`/`before`.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The page's items with their cursors.")
    nodes: list[T] = strawberry.field(description="The page's items.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    _total: strawberry.Private[Callable[[], Awaitable[int]] | None] = None

    @strawberry.field(description="How many items the whole list holds (all pages).")
    async def total_count(self) -> int:
        if self._total is None:
            return len(self.nodes)
        return await self._total()

    @classmethod
    def from_page(cls, page: Page[Any], to_node: Callable[[Any], T]) -> Self:
        nodes = [to_node(row) for row in page.rows]
        assert page.ordering is not None
        cursors = [encode_cursor(page.ordering, key) for key in page.keys]
        return cls(
            edges=[Edge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True)],
            nodes=nodes,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=cursors[0] if cursors else None,
                end_cursor=cursors[-1] if cursors else None,
            ),
            _total=page.total,
        )
