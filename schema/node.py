"""`node(id:)`: the refetchable types, listed in one place and built into a registry when the schema is built.

Each domain module defines its type and an `async def load_<type>_node(ctx, pk)` that returns the object, or None
when it is absent or not visible to the viewer. `node_registry()` lists them; nothing registers itself on import.
A new refetchable type is one more line in `node_registry()` (tests/foundation/test_node_registry.py fails when a
type implementing Node is missing from it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import strawberry
from strawberry.types.base import get_object_definition

from resolvers.context import RequestContext
from schema import audit, chat, contracts, customers, notes, operators, outbox, requests, users
from schema.base import Info, Node
from schema.ids import parse_global_id

NodeLoader = Callable[[RequestContext, int], Awaitable[Node | None]]


@dataclass(frozen=True)
class NodeRegistry:
    """The loader of each refetchable type, by its GraphQL name (the name a global ID carries)."""

    by_name: Mapping[str, NodeLoader]
    types: tuple[type, ...]

    async def resolve(self, ctx: RequestContext, global_id: str) -> Node | None:
        parsed = parse_global_id(global_id)
        if parsed is None:
            return None
        type_name, pk = parsed
        loader = self.by_name.get(type_name)
        if loader is None or not pk.isdigit() or len(pk) > 18:
            return None
        return await loader(ctx, int(pk))


def registry_of(entries: tuple[tuple[type, NodeLoader], ...]) -> NodeRegistry:
    loaders: dict[str, NodeLoader] = {}
    for cls, load in entries:
        name = get_object_definition(cls, strict=True).name
        if name in loaders:
            raise ValueError(f"node type {name} is listed twice")
        loaders[name] = load
    return NodeRegistry(by_name=loaders, types=tuple(cls for cls, _ in entries))


def node_registry() -> NodeRegistry:
    """Every type implementing Node, with how to load it by primary key (visibility included)."""
    return registry_of(
        (
            (users.User, users.load_user_node),
            (requests.Request, requests.load_request_node),
            (customers.Customer, customers.load_customer_node),
            (operators.Operator, operators.load_operator_node),
            (notes.Note, notes.load_note_node),
            (chat.ChatSession, chat.load_chat_session_node),
            (chat.ChatMessage, chat.load_chat_message_node),
            (contracts.Contract, contracts.load_contract_node),
            (audit.AuditRecord, audit.load_audit_record_node),
            (outbox.OutboxMessage, outbox.load_outbox_message_node),
        )
    )


def node_query(registry: NodeRegistry) -> type:
    """The root `node(id:)` field, resolving through `registry`."""

    @strawberry.type
    class NodeQuery:
        @strawberry.field(description="Refetch any object by its global ID; null when absent or not visible.")
        async def node(self, info: Info, id: strawberry.ID) -> Node | None:
            return await registry.resolve(info.context, id)

    return NodeQuery
