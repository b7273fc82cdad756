"""`node(id:)`: each domain registers how to load its type by primary key (visibility included)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from resolvers.context import RequestContext
from resolvers.ids import parse_global_id

if TYPE_CHECKING:
    from schema.base import Node

NodeLoader = Callable[[RequestContext, int], Awaitable["Node | None"]]
_REGISTRY: dict[str, NodeLoader] = {}


def register_node(type_name: str) -> Callable[[NodeLoader], NodeLoader]:
    """Decorate `async def load(ctx, pk) -> StrawberryObject | None` (None when absent or not visible)."""

    def decorate(fn: NodeLoader) -> NodeLoader:
        _REGISTRY[type_name] = fn
        return fn

    return decorate


async def resolve_node(ctx: RequestContext, global_id: str) -> Node | None:
    parsed = parse_global_id(global_id)
    if parsed is None:
        return None
    type_name, pk = parsed
    loader = _REGISTRY.get(type_name)
    if loader is None or not pk.isdigit() or len(pk) > 18:
        return None
    return await loader(ctx, int(pk))
