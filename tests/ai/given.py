"""Givens for the AI tests: a customer with personal data in a chat and in requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from db import models
from db.enums import MessageSender, RequestStatus, Role
from tests.factories import make_customer, make_user

# Personal data that must never reach the provider by default.
PERSONAL = ("Ada", "Lovelace", "ada.lovelace@example.com", "7946", "Oscar", "Opsworth", "ops.oscar@company.example")


async def customer_with_data(app: Any) -> models.Customer:
    return await make_customer(
        app, first_name="Ada", last_name="Lovelace", email="ada.lovelace@example.com", phone="+442079460019"
    )


async def operator(app: Any) -> Any:
    return await make_user(app, Role.OPERATOR, first_name="Oscar", last_name="Opsworth")


async def chat_with_data(app: Any, customer: models.Customer, staff: Any, *, extra: int = 0) -> models.ChatSession:
    """A session whose messages name the customer, its email and phone, and the operator."""
    bodies = [
        (MessageSender.CUSTOMER, "Hi, Ada Lovelace here. My invoice shows the wrong VAT number."),
        (MessageSender.OPERATOR, "Hello Ada, Oscar Opsworth here. Which VAT number should it show?"),
        (MessageSender.CUSTOMER, "GB 123. Write to ada.lovelace@example.com or call 020 7946 0019."),
        (MessageSender.OPERATOR, "Thanks! I'll send a corrected invoice. Reach me at ops.oscar@company.example."),
    ]
    bodies += [(MessageSender.CUSTOMER, f"Filler message number {n} about the delivery.") for n in range(extra)]
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    async with app.state.sessionmaker() as session, session.begin():
        chat = models.ChatSession(customer_id=customer.id, title="Invoice VAT number for Lovelace", started_at=start)
        session.add(chat)
        await session.flush()
        for n, (sender, body) in enumerate(bodies, 1):
            session.add(
                models.ChatMessage(
                    session_id=chat.id,
                    sender=sender.value,
                    author_id=staff.id if sender == MessageSender.OPERATOR else None,
                    body=body,
                    created_at=start + timedelta(minutes=n),
                )
            )
        chat.message_count = len(bodies)
        chat.last_message_at = start + timedelta(minutes=len(bodies))
    return chat


async def request_for(
    app: Any, customer: models.Customer, body: str, *, status: RequestStatus = RequestStatus.PENDING, **fields: Any
) -> models.SupportRequest:
    async with app.state.sessionmaker() as session, session.begin():
        row = models.SupportRequest(customer_id=customer.id, body=body, status=status.value, **fields)
        session.add(row)
    return row
