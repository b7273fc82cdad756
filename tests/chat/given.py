"""Givens for the chat, notes, contracts and audit tests: rows written with the app's own models
(like tests/factories.py), and small readers of what the database holds afterwards."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from db import models
from db.enums import ChatSessionStatus, MessageSender
from schema.ids import to_global_id

_seq = itertools.count(1)


def gid(type_name: str, row: Any) -> str:
    return to_global_id(type_name, row.id)


def own_customer_id(account: Any) -> str:
    """The global ID of a CUSTOMER account's own customer record."""
    return to_global_id("Customer", account.user.customer_id)


async def make_session(
    app: Any,
    customer: models.Customer,
    *,
    title: str = "Billing question",
    status: ChatSessionStatus = ChatSessionStatus.OPEN,
    messages: int = 0,
    author: models.User | None = None,
    sender: MessageSender = MessageSender.CUSTOMER,
) -> models.ChatSession:
    """A session with `messages` messages (bodies "message 1", ...), its counters kept right."""
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=next(_seq))
    async with app.state.sessionmaker() as session, session.begin():
        chat = models.ChatSession(customer_id=customer.id, title=title, status=status.value, started_at=start)
        if status == ChatSessionStatus.CLOSED:
            chat.closed_at = start
        session.add(chat)
        await session.flush()
        for n in range(1, messages + 1):
            session.add(
                models.ChatMessage(
                    session_id=chat.id,
                    sender=sender.value,
                    author_id=author.id if author else None,
                    body=f"message {n}",
                    created_at=start + timedelta(seconds=n),
                )
            )
        chat.message_count = messages
        chat.last_message_at = start + timedelta(seconds=messages) if messages else None
    return chat


async def make_note(app: Any, customer: models.Customer, *, body: str = "Prefers email", author: Any = None) -> Any:
    async with app.state.sessionmaker() as session, session.begin():
        note = models.Note(customer_id=customer.id, body=body, author_id=author.id if author else None)
        session.add(note)
    return note


async def make_contract(app: Any, customer: models.Customer, *, title: str | None = "Service agreement", **fields: Any):
    n = next(_seq)
    values: dict[str, Any] = {
        "customer_id": customer.id,
        "title": title,
        "filename": f"contract-{n}.pdf",
        "content_type": "application/pdf",
        "size": 1000 + n,
        "sha256": f"{n:064x}",
        "storage_key": f"contracts/{n:08d}",
    }
    values.update(fields)
    async with app.state.sessionmaker() as session, session.begin():
        contract = models.Contract(**values)
        session.add(contract)
    return contract


async def audit_rows(app: Any, **where: Any) -> list[models.AuditRecord]:
    """Audit records (oldest first) whose columns equal `where`."""
    stmt = select(models.AuditRecord).order_by(models.AuditRecord.id)  # type: ignore[arg-type]
    for key, value in where.items():
        stmt = stmt.where(getattr(models.AuditRecord, key) == value)
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(stmt)).all())


async def count(app: Any, model: Any, *where: Any) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def fetch(app: Any, model: Any, pk: int) -> Any:
    async with app.state.sessionmaker() as session:
        return await session.get(model, pk)


async def make_audit(app: Any, **fields: Any) -> models.AuditRecord:
    values: dict[str, Any] = {
        "action": "customer.created",
        "entity_type": "Customer",
        "entity_id": to_global_id("Customer", 1),
        "actor_label": "system",
        "details": {},
    }
    values.update(fields)
    async with app.state.sessionmaker() as session, session.begin():
        row = models.AuditRecord(**values)
        session.add(row)
    return row
