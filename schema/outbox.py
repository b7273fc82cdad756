"""The outbox for ADMINs: `outboxMessages(state:, topic:, first:, after:)` and `retryOutboxMessage(id:)`."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from db import models
from resolvers import outbox as outbox_resolvers
from resolvers.context import RequestContext
from schema.base import Info, Node, UserError, to_payload
from schema.ids import decode_id, to_global_id
from schema.pagination import Connection


@strawberry.enum(description="Where an outbox message is in its delivery.")
class OutboxMessageState(Enum):
    PENDING = strawberry.enum_value(
        "pending", description="Not delivered yet: due, waiting to be retried, or in flight."
    )
    DELIVERED = strawberry.enum_value("delivered", description="Accepted by the email provider (or the mailbox).")
    DEAD = strawberry.enum_value("dead", description="Given up: a permanent failure or out of attempts; see lastError.")


@strawberry.type(description="A side effect (an email) written with a change and delivered after it committed.")
class OutboxMessage(Node):
    topic: str = strawberry.field(description='What the message is, e.g. "email.customer_created".')
    state: OutboxMessageState = strawberry.field(description="Where the message is in its delivery.")
    attempts: int = strawberry.field(description="Delivery attempts so far (reset by retryOutboxMessage).")
    last_error: str | None = strawberry.field(description="Why the last attempt failed; null once delivered.")
    idempotency_key: str = strawberry.field(
        description="Carried by every delivery attempt of this message, so a receiver can drop repeats."
    )
    created_at: datetime = strawberry.field(description="When the change that wrote it committed.")
    next_attempt_at: datetime | None = strawberry.field(description="When a pending message is tried next.")
    delivered_at: datetime | None = strawberry.field(description="When it was delivered.")
    dead_at: datetime | None = strawberry.field(description="When it was given up.")

    @classmethod
    def from_row(cls, row: models.OutboxMessage) -> OutboxMessage:
        return cls(
            id=strawberry.ID(to_global_id("OutboxMessage", row.id)),
            topic=row.topic,
            state=OutboxMessageState(row.state),
            attempts=row.attempts,
            last_error=row.last_error,
            idempotency_key=str(row.idempotency_key),
            created_at=row.created_at,
            next_attempt_at=row.available_at if row.state == "pending" else None,
            delivered_at=row.delivered_at,
            dead_at=row.dead_at,
        )


@strawberry.type(description="A page of outbox messages, newest first.")
class OutboxMessageConnection(Connection[OutboxMessage]):
    pass


async def load_outbox_message_node(ctx: RequestContext, pk: int) -> OutboxMessage | None:
    row = await outbox_resolvers.visible_outbox_message(ctx, message_id=pk)
    return OutboxMessage.from_row(row) if row else None


@strawberry.type(description="The result of retrying an outbox message.")
class OutboxMessagePayload:
    outbox_message: OutboxMessage | None = strawberry.field(
        description="The message, pending again; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type
class Query:
    @strawberry.field(description="Outbox messages (email) newest first, by state and topic (ADMIN only).")
    async def outbox_messages(
        self,
        info: Info,
        state: Annotated[OutboxMessageState | None, strawberry.argument(description="Only this state.")] = None,
        topic: Annotated[
            str | None, strawberry.argument(description='Only this topic, e.g. "email.verify_email".')
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size: 0-50 (default 20).")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor: items after this one.")] = None,
    ) -> OutboxMessageConnection:
        page = await outbox_resolvers.outbox_messages(
            info.context, state=str(state.value) if state else None, topic=topic, first=first, after=after
        )
        return OutboxMessageConnection.from_page(page, OutboxMessage.from_row)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Send a dead outbox message again: pending, due now, attempts from zero (ADMIN only); audited."
    )
    async def retry_outbox_message(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The dead outbox message.")]
    ) -> OutboxMessagePayload:
        work = outbox_resolvers.retry_outbox_message(info.context, pk=decode_id(id, "OutboxMessage"))
        return await to_payload(OutboxMessagePayload, "outbox_message", OutboxMessage.from_row, work)
