"""The audit trail as an API: ADMIN reads, filters, and creates, updates or deletes records by hand.

Each of those hand-made changes is audited itself (`audit_record.created|updated|deleted`) in the same
transaction, so the trail shows who edited the trail. Lists are newest first (keyset on id, descending).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db import models
from db.enums import AuditStatus, Role
from db.loaders import fetch_list
from db.paging import Ordering, Page
from resolvers import audit
from resolvers.context import RequestContext
from resolvers.errors import Validation, not_found
from resolvers.pagination import page_request
from resolvers.unit_of_work import unit_of_work
from resolvers.viewer import require_role

AUDIT_NEWEST_FIRST = Ordering("audit_records", (col(models.AuditRecord.id),), descending=True)
ACTION_MAX = 64
ENTITY_TYPE_MAX = 64
ENTITY_ID_MAX = 128
DETAILS_MAX_BYTES = 64 * 1024


class Keep(Enum):
    """An update argument that was not given: the value stays as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


# --- reads -------------------------------------------------------------------------------------------


async def audit_records(
    ctx: RequestContext,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor_id: int | None = None,
    action: str | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Page[models.AuditRecord]:
    """Filters combine with AND; `from` is inclusive, `to` exclusive. ADMIN only. `entity_id` is a stored
    reference (db/refs.py); `actor_id` a user's id (one no user has matches nothing)."""
    require_role(ctx.viewer, Role.ADMIN)
    request = page_request(AUDIT_NEWEST_FIRST, first=first, after=after, last=last, before=before)
    stmt = select(models.AuditRecord)
    if entity_type is not None:
        stmt = stmt.where(col(models.AuditRecord.entity_type) == entity_type)
    if entity_id is not None:
        stmt = stmt.where(col(models.AuditRecord.entity_id) == entity_id)
    if actor_id is not None:
        stmt = stmt.where(col(models.AuditRecord.actor_id) == actor_id)
    if action is not None:
        stmt = stmt.where(col(models.AuditRecord.action) == action)
    if occurred_from is not None:
        stmt = stmt.where(col(models.AuditRecord.occurred_at) >= occurred_from)
    if occurred_to is not None:
        stmt = stmt.where(col(models.AuditRecord.occurred_at) < occurred_to)
    return await fetch_list(ctx.loaders, stmt, AUDIT_NEWEST_FIRST, request, model=models.AuditRecord)


async def audit_record(ctx: RequestContext, *, pk: int | None) -> models.AuditRecord | None:
    """ADMIN only (others: FORBIDDEN); null for an unknown ID (`pk` None)."""
    require_role(ctx.viewer, Role.ADMIN)
    return None if pk is None else await ctx.loaders.by_id(models.AuditRecord).load(pk)


async def visible_audit_record(ctx: RequestContext, *, record_id: int) -> models.AuditRecord | None:
    """For `node(id:)`: an audit record exists only for ADMIN viewers."""
    if ctx.viewer is None or not ctx.viewer.is_admin:
        return None
    return await ctx.loaders.by_id(models.AuditRecord).load(record_id)


# --- mutations ---------------------------------------------------------------------------------------


def _label(v: Validation, value: str, *, field: str, max_len: int, what: str) -> str:
    text = value.strip()
    if not text:
        v.add(field, f"{what} must not be empty.")
    elif len(text) > max_len:
        v.add(field, f"{what} must be at most {max_len} characters.")
    return text


def _status(v: Validation, value: str) -> str:
    if value not in {s.value for s in AuditStatus}:
        v.add("status", "Status must be SUCCESS or FAILURE.")
    return value


def _details(v: Validation, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        v.add("details", "Details must be a JSON object.")
        return {}
    if len(orjson.dumps(value)) > DETAILS_MAX_BYTES:
        v.add("details", f"Details must be at most {DETAILS_MAX_BYTES // 1024} KiB of JSON.")
    return {k: val for k, val in value.items() if k not in audit.SECRET_KEYS}


def _summary(row: models.AuditRecord) -> dict[str, Any]:
    return {"action": row.action, "entityType": row.entity_type, "entityId": row.entity_id, "status": row.status}


async def create_audit_record(
    ctx: RequestContext,
    *,
    action: str,
    entity_type: str,
    entity_id: str | None = None,
    status: str | None = None,
    details: Any = None,
) -> models.AuditRecord:
    require_role(ctx.viewer, Role.ADMIN)
    v = Validation()
    clean_action = _label(v, action, field="action", max_len=ACTION_MAX, what="The action")
    clean_type = _label(v, entity_type, field="entityType", max_len=ENTITY_TYPE_MAX, what="The entity type")
    clean_id = None
    if entity_id is not None:
        clean_id = entity_id.strip() or None
        if clean_id is not None and len(clean_id) > ENTITY_ID_MAX:
            v.add("entityId", f"The entity ID must be at most {ENTITY_ID_MAX} characters.")
    clean_status = _status(v, status) if status is not None else AuditStatus.SUCCESS.value
    clean_details = _details(v, details)
    v.raise_if_any()
    async with unit_of_work(ctx) as uow:
        row = uow.audit(
            action=clean_action,
            entity=clean_type,
            entity_id=clean_id,
            details=clean_details,
            status=AuditStatus(clean_status),
        )
        await uow.session.flush()
        assert row.id is not None
        uow.audit(action="audit_record.created", entity="AuditRecord", entity_id=row.id, details=_summary(row))
        uow.prime(models.AuditRecord, row)
    return row


async def _locked(session: AsyncSession, pk: int | None) -> models.AuditRecord:
    row = None
    if pk is not None:
        stmt = select(models.AuditRecord).where(col(models.AuditRecord.id) == pk).with_for_update()
        row = (await session.scalars(stmt)).one_or_none()
    if row is None:
        raise not_found("Audit record", ["id"])
    return row


async def update_audit_record(
    ctx: RequestContext,
    *,
    pk: int | None,
    status: str | None | Keep = KEEP,
    details: Any = KEEP,
) -> models.AuditRecord:
    """`status`: absent or null keeps it. `details`: absent keeps them, null clears them to `{}`."""
    require_role(ctx.viewer, Role.ADMIN)
    v = Validation()
    new_status = _status(v, status) if isinstance(status, str) else None
    new_details = _details(v, details) if details is not KEEP else None
    async with unit_of_work(ctx) as uow:
        row = await _locked(uow.session, pk)
        v.raise_if_any()
        before = {"status": row.status, "details": row.details}
        if new_status is not None:
            row.status = new_status
        if new_details is not None:
            row.details = new_details
        after = {"status": row.status, "details": row.details}
        uow.audit(
            action="audit_record.updated",
            entity="AuditRecord",
            entity_id=row.id,
            details=audit.changes(before, after, ["status", "details"]),
        )
        uow.prime(models.AuditRecord, row)
    return row


async def delete_audit_record(ctx: RequestContext, *, pk: int | None) -> models.AuditRecord:
    """Deletes the record; the payload returns it as it was."""
    require_role(ctx.viewer, Role.ADMIN)
    async with unit_of_work(ctx) as uow:
        row = await _locked(uow.session, pk)
        assert row.id is not None
        await uow.session.delete(row)
        uow.audit(action="audit_record.deleted", entity="AuditRecord", entity_id=row.id, details=_summary(row))
        uow.forget(models.AuditRecord, row.id)
    return row
