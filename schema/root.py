"""The root types, composed from each domain module's `Query` / `Mutation`, and the schema factory."""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules
from strawberry.tools import merge_types
from strawberry.types.base import get_object_definition

from resolvers.errors import CodedError, DomainError
from schema import (
    ai,
    audit,
    auth,
    chat,
    contracts,
    customers,
    gdpr,
    notes,
    operators,
    outbox,
    requests,
    subscriptions,
    users,
)
from schema.extensions import AnonymousGate, ErrorPolicy
from schema.input_guard import guard_root_fields
from schema.limits import Limits, QueryLimits
from schema.node import node_query, node_registry

error_log = logging.getLogger("strawberry.execution")

# Every module that contributes root fields; a domain adds itself here.
DOMAINS: tuple[ModuleType, ...] = (
    users,
    auth,
    customers,
    operators,
    notes,
    requests,
    chat,
    contracts,
    audit,
    gdpr,
    outbox,
    ai,
    subscriptions,
)


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
    get_object_definition(merged, strict=True).description = ROOT_DESCRIPTIONS[name]
    return merged


# Valid documents are remembered by QueryLimits (schema/limits.py), which validates them itself. strawberry's
# ParserCache and ValidationCache are left out on purpose: they parse and validate ahead of QueryLimits, which
# then loses its token limit, its error codes and its checks.


class Schema(strawberry.Schema):
    """strawberry's schema, logging only what the client caused — syntax, validation, variables, coded errors such
    as FORBIDDEN, a resolver's DomainError — at INFO without a traceback. Everything else (bugs, an unavailable
    database) is logged once by ErrorPolicy (schema/extensions.py) after it has been classified."""

    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, (GraphQLError, CodedError, DomainError)):
                error_log.info(error)


def build_schema(
    *, introspection: bool = True, limits: Limits | None = None, extra_extensions: tuple[Any, ...] = ()
) -> strawberry.Schema:
    """`extra_extensions` run after ours (the server adds the compiled read path there)."""
    limits = limits or Limits(introspection=introspection)
    extensions: list[Any] = [
        lambda: QueryLimits(limits=limits),
        AnonymousGate,
        ErrorPolicy,
        *extra_extensions,
    ]
    if not introspection:
        extensions.append(AddValidationRules([NoSchemaIntrospectionCustomRule]))
    nodes = node_registry()  # the refetchable types, so `node(id:)` can return any of them
    query = _merge("Query", "Query", (node_query(nodes),))
    mutation = _merge("Mutation", "Mutation")
    guard_root_fields(query)
    guard_root_fields(mutation)
    return Schema(
        query=query,
        mutation=mutation,
        subscription=_merge("Subscription", "Subscription"),
        types=nodes.types,
        extensions=extensions,
    )
