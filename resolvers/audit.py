"""Audit trail: one `AuditRecord` per mutation, added to the mutation's own session (same transaction)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.enums import AuditStatus
from db.models import AuditRecord
from resolvers.context import RequestContext

# Never written to an audit record, whatever a caller passes.
SECRET_KEYS = frozenset({"password", "password_hash", "token", "secret", "file", "content", "api_key"})


def actor_label(ctx: RequestContext) -> str:
    """Who acted, without personal data: "<role>:<user id>", or "anonymous"/"system"."""
    viewer = ctx.viewer
    return f"{viewer.role.lower()}:{viewer.user_id}" if viewer else "anonymous"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def changes(before: Mapping[str, Any], after: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """{field: {"from": old, "to": new}} for the fields whose value changed."""
    out: dict[str, Any] = {}
    for name in fields:
        if name in SECRET_KEYS:
            continue
        old, new = before.get(name), after.get(name)
        if old != new:
            out[name] = {"from": _plain(old), "to": _plain(new)}
    return out


def record(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    action: str,
    entity_type: str,
    entity_id: str | None,
    details: Mapping[str, Any] | None = None,
    status: AuditStatus = AuditStatus.SUCCESS,
    actor_id: int | None = None,
) -> AuditRecord:
    """Add the record to `session`; it commits (or rolls back) with the change it describes."""
    clean = {k: v for k, v in (details or {}).items() if k not in SECRET_KEYS}
    row = AuditRecord(
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        actor_id=actor_id if actor_id is not None else (ctx.viewer.user_id if ctx.viewer else None),
        actor_label=actor_label(ctx),
        status=status.value,
        details=clean,
        request_id=ctx.request_id,
    )
    session.add(row)
    return row
