"""Live events, the publishing side: a mutation publishes through its unit of work (`uow.publish`, a NOTIFY
inside the transaction; db/events.py listens).

An event therefore exists only if the change committed; a rolled-back mutation publishes nothing. A payload
carries ids only (resolvers/subscriptions.py re-reads the row for each subscriber); the customer id lets a
subscriber skip other customers' events without a query.
"""

from __future__ import annotations

from db import models
from resolvers.unit_of_work import UnitOfWork

REQUEST_UPDATED = "request_updated"
CHAT_MESSAGE_ADDED = "chat_message_added"
CUSTOMER_CREATED = "customer_created"
CHANNELS = (REQUEST_UPDATED, CHAT_MESSAGE_ADDED, CUSTOMER_CREATED)


async def request_updated(uow: UnitOfWork, row: models.SupportRequest, *, change: str) -> None:
    """`change`: created, assigned, status_changed or archived."""
    await uow.publish(REQUEST_UPDATED, {"id": row.id, "customer_id": row.customer_id, "change": change})


async def chat_message_added(uow: UnitOfWork, message: models.ChatMessage, *, customer_id: int) -> None:
    payload = {"id": message.id, "session_id": message.session_id, "customer_id": customer_id}
    await uow.publish(CHAT_MESSAGE_ADDED, payload)


async def customer_created(uow: UnitOfWork, row: models.Customer) -> None:
    await uow.publish(CUSTOMER_CREATED, {"id": row.id})
