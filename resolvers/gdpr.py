"""GDPR: a customer's data exported (access, portability) and erased (the right to be forgotten).

Erasure is one unit of work: the customer row is locked, so of two racing erasures one wins and the other is told
the customer is already erased. In that one transaction:

- the customer becomes a tombstone: "Erased Customer", email / phone / company null, `erasedAt` set (its email is
  free again: uniqueness counts only customers not erased);
- its requests' bodies (and resolution comments) and every message of its chat sessions read "[erased]", session
  titles too; its notes and contracts are deleted, and the contract files removed from storage;
- its login (if it has one) is anonymised and deactivated, its verification tokens and login-throttle rows deleted,
  undelivered outbox rows addressed to it dropped and delivered ones emptied;
- audit `details` that concern it are rewritten without personal values (names, emails, phones, companies, texts);
- a `customer.erased` audit record says how much was erased.

Contract files are removed last, after every row change, still inside the transaction: if storage is unreachable
the whole erasure rolls back (`STORAGE_UNAVAILABLE`) and can simply be retried.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, bindparam, case, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db import models
from db.enums import Role
from db.refs import entity_ref
from integrations.storage import Storage, StorageUnavailable
from resolvers import contracts as contracts_resolvers
from resolvers.context import RequestContext
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.login_throttle import account_key
from resolvers.unit_of_work import UnitOfWork, unit_of_work
from resolvers.viewer import require_role

ERASED = "[erased]"
TOMBSTONE = {"first_name": "Erased", "last_name": "Customer", "email": None, "phone": None, "company": None}
# Keys whose values are personal wherever they appear in audit details (camelCase and snake_case).
PERSONAL_KEYS = frozenset(
    {
        "first_name",
        "firstName",
        "last_name",
        "lastName",
        "name",
        "email",
        "to",
        "phone",
        "company",
        "title",
        "body",
        "text",
        "filename",
        "resolution_comment",
        "resolutionComment",
        "comment",
        "search",
    }
)


@dataclass
class Erasure:
    customer: models.Customer
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def scrub(value: Any, personal: Iterable[str], *, key: str | None = None) -> Any:
    """`value` without personal values: personal keys' values become "[erased]" (both sides of a change),
    and any string containing one of the `personal` strings (case-insensitively) becomes "[erased]"."""
    needles = [p.lower() for p in personal if p and len(p) >= 3]
    return _scrub(value, needles, key)


def _scrub(value: Any, needles: list[str], key: str | None) -> Any:
    if key in PERSONAL_KEYS:
        if isinstance(value, dict):
            return {k: (None if v is None else ERASED) for k, v in value.items()}
        return None if value is None else ERASED
    if isinstance(value, dict):
        return {k: _scrub(v, needles, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, needles, None) for v in value]
    if isinstance(value, str) and any(n in value.lower() for n in needles):
        return ERASED
    return value


async def _ids(session: AsyncSession, column: Any, *where: Any) -> list[int]:
    return list((await session.scalars(select(column).where(*where))).all())


async def erase(
    uow: UnitOfWork,
    store: Storage,
    *,
    customer_id: int,
    retry_after: int = 30,
    archived_before: datetime | None = None,
) -> Erasure:
    """Erase one customer inside `uow` (see the module docstring). NOT_FOUND when there is no such customer,
    INVALID_TRANSITION when it is already erased (or, with `archived_before`, not archived before then)."""
    started = time.perf_counter()
    session = uow.session
    C = models.Customer
    customer = (await session.scalars(select(C).where(col(C.id) == customer_id).with_for_update())).first()
    if customer is None:
        raise not_found("Customer", ["id"])
    if customer.erased_at is not None:
        raise DomainError.one(ErrorCode.INVALID_TRANSITION, "The customer is already erased.", ["id"])
    if archived_before is not None and (customer.archived_at is None or customer.archived_at >= archived_before):
        raise DomainError.one(ErrorCode.INVALID_TRANSITION, "The customer is not due for erasure.", ["id"])
    gid = entity_ref("Customer", customer_id)
    users = list((await session.scalars(select(models.User).where(col(models.User.customer_id) == customer_id))).all())
    user_ids = [u.id for u in users if u.id is not None]
    emails = {e.lower() for e in [customer.email, *(u.email for u in users)] if e}
    personal = {
        *emails,
        customer.first_name,
        customer.last_name,
        f"{customer.first_name} {customer.last_name}",
        customer.phone or "",
        customer.company or "",
        *(f"{u.first_name} {u.last_name}" for u in users),
    }
    counts: dict[str, int] = {}

    # requests: bodies and resolution comments
    R = models.SupportRequest
    request_ids = await _ids(session, col(R.id), col(R.customer_id) == customer_id)
    handlers: list[int | None] = []  # the operators whose assigned-request lists show them
    if request_ids:
        assigned = await session.scalars(
            update(R)
            .where(col(R.customer_id) == customer_id)
            .values(
                body=ERASED,
                resolution_comment=case((col(R.resolution_comment).is_(None), None), else_=ERASED),
                updated_at=func.now(),
            )
            .returning(col(R.processed_by_id))
            .execution_options(synchronize_session=False)
        )
        handlers = list(set(assigned.all()))
    counts["requests"] = len(request_ids)

    # chat: session titles and every message body, one statement each
    S, M = models.ChatSession, models.ChatMessage
    session_ids = await _ids(session, col(S.id), col(S.customer_id) == customer_id)
    messages = 0
    if session_ids:
        await session.execute(
            update(S)
            .where(col(S.customer_id) == customer_id)
            .values(title=ERASED)
            .execution_options(synchronize_session=False)
        )
        result = await session.execute(
            update(M)
            .where(col(M.session_id).in_(select(col(S.id)).where(col(S.customer_id) == customer_id)))
            .values(body=ERASED)
            .execution_options(synchronize_session=False)
        )
        messages = int(result.rowcount or 0)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
    counts["chatSessions"], counts["messages"] = len(session_ids), messages

    # notes and contracts: deleted (the files after every row change)
    N, K = models.Note, models.Contract
    note_ids = list(
        (await session.scalars(delete(N).where(col(N.customer_id) == customer_id).returning(col(N.id)))).all()
    )
    removed = list(
        (
            await session.execute(
                delete(K).where(col(K.customer_id) == customer_id).returning(col(K.id), col(K.storage_key))
            )
        ).all()
    )
    counts["notes"], counts["contracts"] = len(note_ids), len(removed)

    # the customer's own login: anonymised, deactivated; its tokens and throttle counters gone
    U = models.User
    for user in users:
        await session.execute(
            update(U)
            .where(col(U.id) == user.id)
            .values(
                email=f"erased-user-{user.id}@erased.invalid",
                first_name=TOMBSTONE["first_name"],
                last_name=TOMBSTONE["last_name"],
                password_hash=None,
                sso_subject=None,
                is_active=False,
                email_verified=False,
                updated_at=func.now(),
            )
            .execution_options(synchronize_session=False)
        )
    if user_ids:
        await session.execute(
            delete(models.EmailVerificationToken).where(col(models.EmailVerificationToken.user_id).in_(user_ids))
        )
    if emails:
        await session.execute(
            delete(models.LoginThrottle).where(col(models.LoginThrottle.key).in_([account_key(e) for e in emails]))
        )

    # outbox rows about it: undelivered ones dropped (no email to an erased person), delivered ones emptied
    OB = models.OutboxMessage
    payload_text = cast(col(OB.payload), String)
    about = [
        OB.payload["customer_id"].astext == str(customer_id),
        OB.payload["customerId"].astext == gid,
        *(OB.payload["userId"].astext == str(u) for u in user_ids),
        *(func.lower(payload_text).contains(e, autoescape=True) for e in emails),
    ]
    await session.execute(delete(OB).where(or_(*about), col(OB.delivered_at).is_(None)))
    await session.execute(update(OB).where(or_(*about)).values(payload={"erased": True}))

    # audit details that concern it, rewritten without personal values
    A = models.AuditRecord
    entity_ids = [
        gid,
        *(entity_ref("Request", i) for i in request_ids),
        *(entity_ref("ChatSession", i) for i in session_ids),
        *(entity_ref("Note", i) for i in note_ids),
        *(entity_ref("Contract", i) for i, _ in removed),
        *(entity_ref("User", i) for i in user_ids),
    ]
    concerning = [
        col(A.entity_id).in_(entity_ids),
        A.details["customerId"].astext == gid,
        A.details["sessionId"].astext.in_([entity_ref("ChatSession", i) for i in session_ids]),
    ]
    if user_ids:
        concerning.append(col(A.actor_id).in_(user_ids))
    audit_rows = list((await session.execute(select(col(A.id), col(A.details)).where(or_(*concerning)))).all())
    rewritten = [
        {"pk": pk, "new_details": clean} for pk, details in audit_rows if (clean := scrub(details, personal)) != details
    ]
    if rewritten:
        # Core executemany: one round trip for every rewritten record
        audit_table: Any = A.__table__  # type: ignore[attr-defined]  # SQLModel sets `__table__` in its metaclass without declaring it
        await session.execute(
            update(audit_table).where(audit_table.c.id == bindparam("pk")).values(details=bindparam("new_details")),
            rewritten,
        )
    counts["auditRecordsRewritten"] = len(rewritten)

    # the tombstone
    tombstone = (
        await session.scalars(
            update(C)
            .where(col(C.id) == customer_id)
            .values(**TOMBSTONE, erased_at=datetime.now(UTC), updated_at=func.now(), version=col(C.version) + 1)
            .returning(C),
            execution_options={"populate_existing": True},
        )
    ).one()
    uow.audit(action="customer.erased", entity="Customer", entity_id=customer_id, details=dict(counts))

    for _, key in removed:
        try:
            await store.delete(key)
        except StorageUnavailable:
            raise DomainError.one(
                ErrorCode.STORAGE_UNAVAILABLE,
                "File storage is unavailable, so the customer's contracts cannot be removed; retry shortly.",
                ["id"],
                retry_after=retry_after,
            )
    uow.prime(C, tombstone)
    # what changed: every list of its requests, sessions, messages, notes and contracts; its requests and sessions
    uow.children_changed(col(R.customer_id), customer_id)
    uow.children_changed(col(R.processed_by_id), *handlers)
    uow.children_changed(col(S.customer_id), customer_id)
    uow.children_changed(col(M.session_id), *session_ids)
    uow.children_changed(col(N.customer_id), customer_id)
    uow.children_changed(col(K.customer_id), customer_id)
    for request_id in request_ids:
        uow.forget(R, request_id)
    for session_id in session_ids:
        uow.forget(S, session_id)
    return Erasure(tombstone, counts, time.perf_counter() - started)


async def erase_customer(ctx: RequestContext, *, pk: int | None) -> models.Customer:
    """`eraseCustomer` (ADMIN): irreversible; returns the tombstone."""
    require_role(ctx.viewer, Role.ADMIN)
    if pk is None:
        raise not_found("Customer", ["id"])
    async with unit_of_work(ctx) as uow:
        done = await erase(
            uow, ctx.services.storage, customer_id=pk, retry_after=ctx.settings.storage.retry_after_seconds
        )
    return done.customer


# --- export ---------------------------------------------------------------------------------------


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_customer_data(ctx: RequestContext, *, pk: int | None) -> dict[str, Any] | None:
    """`exportCustomerData` (ADMIN, or the customer itself): everything stored about the customer, as JSON.
    None when `pk` is not a customer the viewer may see (as if it did not exist)."""
    viewer = require_role(ctx.viewer, Role.ADMIN, Role.CUSTOMER)
    if pk is None or not viewer.can_see_customer(pk):
        return None
    async with ctx.sessionmaker() as session, session.begin():
        # one snapshot for the whole export
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        customer = await session.get(models.Customer, pk)
        if customer is None:
            return None
        R, S, M, N, K, U, A = (
            models.SupportRequest,
            models.ChatSession,
            models.ChatMessage,
            models.Note,
            models.Contract,
            models.User,
            models.AuditRecord,
        )
        requests = (await session.scalars(select(R).where(col(R.customer_id) == pk).order_by(col(R.id)))).all()
        sessions = (await session.scalars(select(S).where(col(S.customer_id) == pk).order_by(col(S.id)))).all()
        session_ids = [s.id for s in sessions]
        messages = (
            (await session.scalars(select(M).where(col(M.session_id).in_(session_ids)).order_by(col(M.id)))).all()
            if session_ids
            else []
        )
        notes = (await session.scalars(select(N).where(col(N.customer_id) == pk).order_by(col(N.id)))).all()
        contracts = (await session.scalars(select(K).where(col(K.customer_id) == pk).order_by(col(K.id)))).all()
        user_ids = list((await session.scalars(select(col(U.id)).where(col(U.customer_id) == pk))).all())
        gid = entity_ref("Customer", pk)
        entity_ids = [
            gid,
            *(entity_ref("Request", r.id) for r in requests),
            *(entity_ref("ChatSession", s.id) for s in sessions),
            *(entity_ref("Note", n.id) for n in notes),
            *(entity_ref("Contract", k.id) for k in contracts),
            *(entity_ref("User", u) for u in user_ids),
        ]
        concerning = [
            col(A.entity_id).in_(entity_ids),
            A.details["customerId"].astext == gid,
            A.details["sessionId"].astext.in_([entity_ref("ChatSession", s.id) for s in sessions]),
        ]
        if user_ids:
            concerning.append(col(A.actor_id).in_(user_ids))
        audits = (await session.scalars(select(A).where(or_(*concerning)).order_by(col(A.id).desc()))).all()

    by_session: dict[int, list[dict[str, Any]]] = {}
    for m in messages:
        by_session.setdefault(m.session_id, []).append(
            {
                "id": entity_ref("ChatMessage", m.id),
                "sender": m.sender,
                "body": m.body,
                "createdAt": _when(m.created_at),
            }
        )
    return {
        "exportedAt": datetime.now(UTC).isoformat(),
        "customer": {
            "id": gid,
            "firstName": customer.first_name,
            "lastName": customer.last_name,
            "email": customer.email,
            "phone": customer.phone,
            "company": customer.company,
            "createdAt": _when(customer.created_at),
            "updatedAt": _when(customer.updated_at),
            "archivedAt": _when(customer.archived_at),
            "erasedAt": _when(customer.erased_at),
            "version": customer.version,
        },
        "requests": [
            {
                "id": entity_ref("Request", r.id),
                "body": r.body,
                "status": r.status,
                "resolutionComment": r.resolution_comment,
                "createdAt": _when(r.created_at),
                "updatedAt": _when(r.updated_at),
                "archivedAt": _when(r.archived_at),
            }
            for r in requests
        ],
        "chatSessions": [
            {
                "id": entity_ref("ChatSession", s.id),
                "title": s.title,
                "status": s.status,
                "startedAt": _when(s.started_at),
                "closedAt": _when(s.closed_at),
                "messages": by_session.get(s.id, []),
            }
            for s in sessions
        ],
        "contracts": [
            {
                "id": entity_ref("Contract", k.id),
                "title": k.title,
                "filename": k.filename,
                "contentType": k.content_type,
                "size": k.size,
                "sha256": k.sha256,
                "createdAt": _when(k.created_at),
                "downloadUrl": contracts_resolvers.download_url(ctx, contract=k),
            }
            for k in contracts
        ],
        "notes": [
            {
                "id": entity_ref("Note", n.id),
                "body": n.body,
                "createdAt": _when(n.created_at),
            }
            for n in notes
        ],
        "auditRecords": [
            {
                "id": entity_ref("AuditRecord", a.id),
                "occurredAt": _when(a.occurred_at),
                "action": a.action,
                "entityType": a.entity_type,
                "entityId": a.entity_id,
                "actorLabel": a.actor_label,
                "status": a.status,
                "details": a.details,
            }
            for a in audits
        ],
    }
