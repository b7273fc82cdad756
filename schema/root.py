"""The root types, composed from each domain module's `Query` / `Mutation`, and the schema factory."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules
from strawberry.tools import merge_types

from schema import ai, audit, auth, chat, contracts, customers, gdpr, notes, operators, requests, users
from schema.base import Info, Node
from schema.extensions import AnonymousGate, ErrorPolicy
from schema.node import resolve_node

# Every module that contributes root fields; a domain adds itself here.
DOMAINS: tuple[ModuleType, ...] = (users, auth, customers, operators, notes, requests, chat, contracts, audit, gdpr, ai)


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Refetch any object by its global ID; null when absent or not visible.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info.context, id)


ROOT_DESCRIPTIONS = {
    "Query": "Everything that can be read.",
    "Mutation": "Everything that can be changed; each returns a payload with `errors`.",
    "Subscription": "Live events over the graphql-transport-ws protocol.",
}


def _merge(name: str, attr: str, base: tuple[type, ...] = ()) -> Any:
    parts = base + tuple(getattr(m, attr) for m in DOMAINS if hasattr(m, attr))
    if not parts:
        return None
    merged = merge_types(name, parts)
    merged.__strawberry_definition__.description = ROOT_DESCRIPTIONS[name]  # type: ignore[attr-defined]
    return merged


def _types() -> list[type]:
    """Every type implementing Node, so `node(id:)` can return any of them."""
    found: list[type] = []
    for module in DOMAINS:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Node) and value is not Node and value not in found:
                found.append(value)
    return found


def build_schema(*, introspection: bool = True, extra_extensions: tuple[Any, ...] = ()) -> strawberry.Schema:
    """`extra_extensions` run after ours (the server adds the compiled read path there)."""
    extensions: list[Any] = [AnonymousGate, ErrorPolicy, *extra_extensions]
    if not introspection:
        extensions.append(AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return strawberry.Schema(
        query=_merge("Query", "Query", (NodeQuery,)),
        mutation=_merge("Mutation", "Mutation"),
        subscription=_merge("Subscription", "Subscription"),
        types=_types(),
        extensions=extensions,
    )
