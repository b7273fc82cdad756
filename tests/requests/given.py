"""Givens for request tests: rows written with the app's own models and sessions (like tests/factories.py)."""

from __future__ import annotations

from typing import Any

from db import models
from db.enums import RequestStatus
from schema.ids import to_global_id


async def make_request(
    app: Any,
    customer: models.Customer,
    *,
    body: str = "Please help",
    status: RequestStatus = RequestStatus.PENDING,
    processed_by: models.User | None = None,
    archived: bool = False,
    **fields: Any,
) -> models.SupportRequest:
    async with app.state.sessionmaker() as session:
        row = models.SupportRequest(
            customer_id=customer.id,
            body=body,
            status=status.value,
            processed_by_id=processed_by.id if processed_by else None,
            archived_at=models.utcnow() if archived else None,
            **fields,
        )
        session.add(row)
        await session.commit()
        return row


def gid(type_name: str, row: Any) -> str:
    return to_global_id(type_name, row.id)


async def audit_actions(app: Any) -> list[str]:
    from sqlalchemy import select

    async with app.state.sessionmaker() as session:
        rows = (await session.scalars(select(models.AuditRecord).order_by(models.AuditRecord.id))).all()
    return [r.action for r in rows]


async def audit_records(app: Any) -> list[models.AuditRecord]:
    from sqlalchemy import select

    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(models.AuditRecord).order_by(models.AuditRecord.id))).all())
