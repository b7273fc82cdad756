"""Shared schema pieces: the typed Info, the Node interface, UserError, and the payload adapter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from resolvers.context import RequestContext
from resolvers.errors import DomainError
from schema.enums import ErrorCode

Info = strawberry.Info[RequestContext, None]


@strawberry.interface(description="An object with a global ID, refetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID.")


@strawberry.type(description="An expected failure of a mutation: validation, not found, conflict, ...")
class UserError:
    code: ErrorCode = strawberry.field(description="Machine-readable code.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: list[str] | None = strawberry.field(
        default=None, description="Path of the offending value inside the mutation's input, without `input`."
    )
    retry_after: int | None = strawberry.field(
        default=None, description="Seconds to wait before retrying, on retryable codes."
    )


def user_errors(error: DomainError) -> list[UserError]:
    return [
        UserError(
            code=p.code,
            message=p.message,
            field=list(p.field) if p.field else None,
            retry_after=p.retry_after,
        )
        for p in error.problems
    ]


P = TypeVar("P")
R = TypeVar("R")


async def to_payload(payload: Callable[..., P], name: str, mapper: Callable[[R], Any], work: Awaitable[R]) -> P:
    """Run a resolver; map its row into the payload, or its DomainError into `errors`."""
    try:
        row = await work
    except DomainError as error:
        return payload(**{name: None, "errors": user_errors(error)})
    return payload(**{name: mapper(row) if row is not None else None, "errors": []})
