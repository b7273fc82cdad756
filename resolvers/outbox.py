"""The outbox as the API and the relay see it: topics, the email each topic becomes, and ADMIN's list and retry.

Rows are written by mutations in their own transaction (topics below); the relay (server/relay.py) turns each
row into an `EmailMessage` with `compose` at delivery time, so what is sent reflects the data as it is then
(an erased customer is never mailed about). A row that can never become a message — a missing or invalid
recipient, an unknown topic — raises `PermanentFailure` and is marked dead with that reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from db import models
from db.enums import RequestStatus, Role
from db.loaders import fetch_list
from db.paging import Ordering, Page
from db.reader import select_rows
from db.refs import entity_ref
from integrations.email import EmailMessage, PermanentFailure
from integrations.email.addresses import recipients
from integrations.email.templates import one_line, render
from resolvers.context import RequestContext
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.pagination import page_request
from resolvers.settings import ResolverSettings
from resolvers.unit_of_work import unit_of_work
from resolvers.viewer import require_role

CUSTOMER_CREATED = "email.customer_created"  # -> the sales list (EMAIL_SALES_RECIPIENTS)
VERIFY_EMAIL = "email.verify_email"  # -> the new account's address
REQUEST_RESOLVED = "email.request_resolved"  # -> the customer, when it has an email
TOPICS = (CUSTOMER_CREATED, VERIFY_EMAIL, REQUEST_RESOLVED)
STATES = ("pending", "delivered", "dead")
RESOLVED = {RequestStatus.COMPLETED.value: "completed", RequestStatus.REJECTED.value: "rejected"}

OUTBOX_NEWEST_FIRST = Ordering("outbox", (col(models.OutboxMessage.id),), descending=True)


# --- writing rows (inside a mutation's transaction) -----------------------------------------------------


def customer_created(customer: models.Customer, *, source: str = "staff") -> tuple[str, dict[str, Any]]:
    """`uow.outbox(*customer_created(row))`: tell the sales list about a new customer (`source`: staff or signup)."""
    gid = entity_ref("Customer", customer.id)
    return CUSTOMER_CREATED, {"customer_id": customer.id, "id": gid, "source": source}


def request_resolved(request: models.SupportRequest) -> tuple[str, dict[str, Any]]:
    """`uow.outbox(*request_resolved(row))`: tell a customer its request was completed or rejected."""
    gid = entity_ref("Request", request.id)
    return REQUEST_RESOLVED, {"request_id": request.id, "id": gid, "status": request.status}


async def customer_has_email(session: AsyncSession, customer_id: int) -> bool:
    email = await session.scalar(
        select(col(models.Customer.email)).where(
            col(models.Customer.id) == customer_id, col(models.Customer.erased_at).is_(None)
        )
    )
    return bool(email)


# --- composing the email a row stands for (at delivery) -------------------------------------------------

_IDS = bindparam("ids", type_=ARRAY(BigInteger))
CUSTOMERS_BY_ID = select_rows(models.Customer).where(col(models.Customer.id) == any_(_IDS))
REQUESTS_BY_ID = select_rows(models.SupportRequest).where(col(models.SupportRequest.id) == any_(_IDS))
_BIGINT = range(-(2**63), 2**63)


@dataclass(frozen=True)
class Records:
    """What a batch of rows needs from the database to become emails: customers and requests by id, as Core rows
    (attribute access by column name). A row whose record is absent here is composed as "no longer exists"."""

    customers: Mapping[int, Any] = field(default_factory=dict)
    requests: Mapping[int, Any] = field(default_factory=dict)


async def load(db: AsyncConnection | AsyncSession, rows: Sequence[Any]) -> Records:
    """Every record `rows` need, in one SELECT per table (`id = ANY(:ids)`; the same statement text for any batch
    size): requests first (for `email.request_resolved`), then the customers of both topics. No statement at all
    for a batch that needs neither. Run it on an autocommit connection: each SELECT is its own snapshot."""
    request_ids = {pk for row in rows if row.topic == REQUEST_RESOLVED if (pk := _key(_payload(row), "request_id"))}
    requests: dict[int, Any] = {}
    if request_ids:
        found = await db.execute(REQUESTS_BY_ID, {"ids": sorted(request_ids)})
        requests = {request.id: request for request in found}
    customer_ids = {pk for row in rows if row.topic == CUSTOMER_CREATED if (pk := _key(_payload(row), "customer_id"))}
    customer_ids.update(request.customer_id for request in requests.values())
    customers: dict[int, Any] = {}
    if customer_ids:
        found = await db.execute(CUSTOMERS_BY_ID, {"ids": sorted(customer_ids)})
        customers = {customer.id: customer for customer in found}
    return Records(customers, requests)


async def compose(session: AsyncSession, settings: ResolverSettings, row: Any) -> EmailMessage:
    """The email for one outbox row (`row`: id, topic, payload, idempotency_key). The relay loads a whole batch
    with `load` and calls `compose_loaded` per row; this is the same for a single row."""
    return compose_loaded(await load(session, [row]), settings, row)


def compose_loaded(records: Records, settings: ResolverSettings, row: Any) -> EmailMessage:
    """The email for one outbox row from the batch's `records`; `PermanentFailure` when it can never be one."""
    payload = _payload(row)
    key = str(row.idempotency_key)
    app_name = settings.app.name
    if row.topic == VERIFY_EMAIL:
        to = recipients([payload.get("to")])
        subject = f"Confirm your email address for {app_name}"
        verify: dict[str, Any] = {
            "first_name": str(payload.get("firstName") or ""),
            "verify_url": str(payload.get("verifyUrl") or ""),
            "expires_at": _when(payload.get("expiresAt")),
        }
        if not verify["verify_url"]:
            raise PermanentFailure("verification link missing from the message")
        return _message("verify_email", to, subject, key, app_name, verify)
    if row.topic == CUSTOMER_CREATED:
        customer = _customer(records, payload.get("customer_id"))
        to = recipients(settings.email.sales_recipients)
        name = f"{customer.first_name} {customer.last_name}"
        context: dict[str, Any] = {
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "company": customer.company,
            "email": customer.email,
            "phone": customer.phone,
            "customer_id": entity_ref("Customer", customer.id),
            "source": payload.get("source", "staff"),
        }
        subject = f"New customer: {name}" + (f" ({customer.company})" if customer.company else "")
        return _message("customer_created", to, subject, key, app_name, context, category="sales")
    if row.topic == REQUEST_RESOLVED:
        request = records.requests.get(_pk(payload.get("request_id")))
        if request is None:
            raise PermanentFailure("the request no longer exists")
        customer = _customer(records, request.customer_id)
        if not customer.email:
            raise PermanentFailure("recipient missing: the customer has no email address")
        to = recipients([customer.email])
        status = str(payload.get("status") or request.status)
        outcome = RESOLVED.get(status)
        if outcome is None:
            raise PermanentFailure(f"request status {status!r} is not completed or rejected")
        excerpt = one_line(request.body, limit=80)
        resolved: dict[str, Any] = {
            "first_name": customer.first_name,
            "outcome": outcome,
            "excerpt": excerpt,
            "comment": request.resolution_comment,
            "request_id": entity_ref("Request", request.id),
        }
        subject = f"Your support request was {outcome}"
        return _message("request_resolved", to, subject, key, app_name, resolved)
    raise PermanentFailure(f"unknown outbox topic {str(row.topic)[:64]!r}")


def _message(
    template: str,
    to: tuple[str, ...],
    subject: str,
    key: str,
    app_name: str,
    context: dict[str, Any],
    *,
    category: str = "transactional",
) -> EmailMessage:
    subject = one_line(subject)
    text, html = render(template, subject=subject, app_name=app_name, **context)
    return EmailMessage(to=to, subject=subject, text=text, html=html, key=key, category=category)


def _payload(row: Any) -> dict[str, Any]:
    return row.payload if isinstance(row.payload, dict) else {}


def _pk(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PermanentFailure("the message names no record")
    return value


def _key(payload: dict[str, Any], name: str) -> int | None:
    """The id `payload[name]` names if it could be a row's (a BIGINT), for `load`; anything else loads nothing and
    is reported by `compose_loaded` (no record named, or no longer exists), so one odd row cannot fail a batch."""
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value not in _BIGINT:
        return None
    return value


def _customer(records: Records, customer_id: Any) -> Any:
    customer = records.customers.get(_pk(customer_id))
    if customer is None:
        raise PermanentFailure("the customer no longer exists")
    if customer.erased_at is not None:
        raise PermanentFailure("the customer was erased before the message was sent")
    return customer


def _when(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return "the time given when you signed up"


# --- ADMIN: list and retry ------------------------------------------------------------------------------


async def outbox_messages(
    ctx: RequestContext,
    *,
    state: str | None = None,
    topic: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[models.OutboxMessage]:
    """Newest first, optionally one state and/or topic. ADMIN only (others: FORBIDDEN)."""
    require_role(ctx.viewer, Role.ADMIN)
    request = page_request(OUTBOX_NEWEST_FIRST, first=first, after=after)
    stmt = select(models.OutboxMessage)
    if state is not None:
        stmt = stmt.where(col(models.OutboxMessage.state) == state)
    if topic is not None:
        stmt = stmt.where(col(models.OutboxMessage.topic) == topic)
    return await fetch_list(ctx.loaders, stmt, OUTBOX_NEWEST_FIRST, request, model=models.OutboxMessage)


async def visible_outbox_message(ctx: RequestContext, *, message_id: int) -> models.OutboxMessage | None:
    """For `node(id:)`: outbox messages exist only for ADMIN viewers."""
    if ctx.viewer is None or not ctx.viewer.is_admin:
        return None
    return await ctx.loaders.by_id(models.OutboxMessage).load(message_id)


async def retry_outbox_message(ctx: RequestContext, *, pk: int | None) -> models.OutboxMessage:
    """A dead message back to pending, due now, with a fresh count of attempts; its last error stays until it is
    delivered. ADMIN only. Anything but a dead message is INVALID_TRANSITION."""
    require_role(ctx.viewer, Role.ADMIN)
    if pk is None:
        raise not_found("Outbox message", ["id"])
    async with unit_of_work(ctx) as uow:
        row = await uow.session.get(models.OutboxMessage, pk, with_for_update=True)
        if row is None:
            raise not_found("Outbox message", ["id"])
        if row.state != "dead":
            raise DomainError.one(
                ErrorCode.INVALID_TRANSITION, f"Only a dead message can be retried; this one is {row.state}.", ["id"]
            )
        details = {"topic": row.topic, "attempts": row.attempts, "lastError": row.last_error}
        row.state, row.attempts, row.available_at = "pending", 0, models.utcnow()
        row.dead_at = row.claimed_until = row.claimed_by = None
        uow.audit(action="outbox_message.retried", entity="OutboxMessage", entity_id=pk, details=details)
        uow.prime(models.OutboxMessage, row)
    return row
