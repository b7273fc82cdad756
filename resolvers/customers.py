"""Customers: listing and search, lookups, create / update / archive / restore, and their nested counts.

Visibility: staff read every customer; a CUSTOMER reads only its own record, through every path.
Writes: ADMIN and SALES; a CUSTOMER may change its own name and phone (API.md, "Who may do what").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, false, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from db import models
from db.enums import OPEN_REQUEST_STATUSES, Role
from db.loaders import ListKey, fetch_list
from db.paging import Ordering, Page
from db.reader import columns_of
from db.refs import entity_ref
from resolvers import audit, events, outbox, validators
from resolvers.context import RequestContext
from resolvers.errors import BadUserInput, DomainError, ErrorCode, Validation, not_found
from resolvers.pagination import page_request
from resolvers.unit_of_work import unit_of_work
from resolvers.viewer import Viewer, require_role, require_viewer

EDITORS = (Role.ADMIN, Role.SALES)
AUDITED_FIELDS = ("first_name", "last_name", "email", "phone", "company", "archived_at", "version")
EDITABLE_FIELDS = ("first_name", "last_name", "email", "phone", "company")
SEARCH_MAX = 200
OUTBOX_CUSTOMER_CREATED = outbox.CUSTOMER_CREATED
CUSTOMER_CREATED_ACTION = "customer.created"

_C = models.Customer
ORDERINGS: dict[tuple[str, bool], Ordering] = {
    ("CREATED_AT", False): Ordering("customers.created_at", (col(_C.created_at), col(_C.id))),
    ("CREATED_AT", True): Ordering("customers.created_at.desc", (col(_C.created_at), col(_C.id)), descending=True),
    ("LAST_NAME", False): Ordering("customers.last_name", (col(_C.last_name), col(_C.id))),
    ("LAST_NAME", True): Ordering("customers.last_name.desc", (col(_C.last_name), col(_C.id)), descending=True),
}

# The expression the migration's optional trigram index (gin_trgm_ops) is built on: keep them identical.
# Literals are inlined (not bound parameters) so the planner can match the index expression.
_SPACE, _BAR, _EMPTY = (literal_column(f"'{v}'", String) for v in (" ", " | ", ""))
SEARCH_DOCUMENT = func.lower(
    col(_C.first_name)
    + _SPACE
    + col(_C.last_name)
    + _BAR
    + func.coalesce(col(_C.email), _EMPTY)
    + _BAR
    + func.coalesce(col(_C.phone), _EMPTY)
)
_PHONE_CHARS = frozenset("+0123456789 -().")


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_parameters(term: str) -> tuple[str, str | None, str | None]:
    """The LIKE pattern over the search document; for a phone-looking term also the digits' LIKE pattern and
    the E.164 form (else None). Shared with the compiled read path (compiled/), so both search alike."""
    digits = "".join(ch for ch in term if ch.isdigit())
    if set(term) <= _PHONE_CHARS and len(digits) >= 3:
        return _like_pattern(term.lower()), _like_pattern(digits), validators.parse_phone(term)
    return _like_pattern(term.lower()), None, None


def search_condition(term: str) -> ColumnElement[bool]:
    """Case-insensitive substring over "first last | email | phone"; a phone-looking term also matches digits."""
    pattern, digits, e164 = search_parameters(term)
    conditions: list[ColumnElement[bool]] = [SEARCH_DOCUMENT.like(pattern, escape="\\")]
    if digits is not None:
        conditions.append(col(_C.phone).like(digits, escape="\\"))
    if e164 is not None:
        conditions.append(col(_C.phone) == e164)
    return or_(*conditions)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _visible_to(viewer: Viewer) -> list[ColumnElement[bool]]:
    if viewer.is_staff:
        return []
    if viewer.customer_id is None:
        return [false()]
    return [col(_C.id) == viewer.customer_id]


async def list_customers(
    ctx: RequestContext,
    *,
    search: str | None = None,
    include_archived: bool = False,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    order_field: str = "CREATED_AT",
    descending: bool = False,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Page[models.Customer]:
    viewer = require_viewer(ctx.viewer)
    ordering = ORDERINGS[(order_field, descending)]
    req = page_request(ordering, first=first, after=after, last=last, before=before)
    conditions = _visible_to(viewer)
    if not include_archived:
        conditions.append(col(_C.archived_at).is_(None))
    term = (search or "").strip()
    if len(term) > SEARCH_MAX:
        raise BadUserInput(f"`search` must be at most {SEARCH_MAX} characters.", argumentName="filter")
    if term:
        conditions.append(search_condition(term))
    if created_after is not None:
        conditions.append(col(_C.created_at) >= _aware(created_after))
    if created_before is not None:
        conditions.append(col(_C.created_at) < _aware(created_before))
    stmt = select(_C).where(*conditions)
    return await fetch_list(ctx.loaders, stmt, ordering, req, model=_C)


async def get_customer(ctx: RequestContext, *, pk: int | None) -> models.Customer | None:
    """The customer, or None when `pk` (None: the caller's ID named no customer) is not a visible customer's."""
    viewer = require_viewer(ctx.viewer)
    if pk is None or not viewer.can_see_customer(pk):
        return None
    return await ctx.loaders.by_id(_C).load(pk)


async def customer_by_email(ctx: RequestContext, *, email: str) -> models.Customer | None:
    """The live (not erased) customer with this email, case-insensitively; None when not visible."""
    viewer = require_viewer(ctx.viewer)
    address = email.strip().lower()
    if not address:
        return None
    stmt = select(*columns_of(_C)).where(
        func.lower(col(_C.email)) == address,
        col(_C.email).is_not(None),
        col(_C.erased_at).is_(None),
        *_visible_to(viewer),
    )
    found = await ctx.loaders.reader.rows(stmt.limit(1))
    row: _C | None = found[0] if found else None  # a Core row with the model's attributes
    if row is not None:
        ctx.loaders.prime(_C, row)
    return row


@dataclass(frozen=True)
class OpenRequestsOfCustomerKey(ListKey[models.SupportRequest]):
    """`Customer.openRequestCount` (`OpenRequestCountByCustomerLoader`): PENDING + IN_PROGRESS, archived excluded."""

    parent_column = col(models.SupportRequest.customer_id)
    customer_id: int

    def where(self) -> list[ColumnElement[bool]]:
        r = models.SupportRequest
        return [col(r.status).in_([s.value for s in OPEN_REQUEST_STATUSES]), col(r.archived_at).is_(None)]


async def open_request_count(ctx: RequestContext, *, customer: models.Customer) -> int:
    assert customer.id is not None
    return await ctx.loaders.count(OpenRequestsOfCustomerKey(customer_id=customer.id))


# --- writes -------------------------------------------------------------------------------------


def _snapshot(row: models.Customer) -> dict[str, Any]:
    return {name: getattr(row, name) for name in AUDITED_FIELDS}


async def _email_taken(session: AsyncSession, email: str, *, except_id: int | None = None) -> bool:
    stmt = select(col(_C.id)).where(
        func.lower(col(_C.email)) == email.lower(), col(_C.email).is_not(None), col(_C.erased_at).is_(None)
    )
    if except_id is not None:
        stmt = stmt.where(col(_C.id) != except_id)
    return (await session.scalars(stmt.limit(1))).first() is not None


def _email_conflict() -> DomainError:
    return DomainError.one(ErrorCode.CONFLICT, "Another customer already uses this email.", ["email"])


EMAIL_CONFLICTS = {"uq_customers_email_live": _email_conflict()}


def _clean_fields(values: Mapping[str, Any], errors: Validation) -> dict[str, Any]:
    """Validate the editable fields present in `values`; None (or blank) clears an optional one."""
    out: dict[str, Any] = {}
    for field_name, label in (("first_name", "First name"), ("last_name", "Last name")):
        if field_name in values:
            api = "firstName" if field_name == "first_name" else "lastName"
            out[field_name] = validators.name(errors, api, values[field_name], label=label)
    if "email" in values:
        out["email"] = validators.optional_email(errors, "email", values["email"])
    if "phone" in values:
        out["phone"] = validators.optional_phone(errors, "phone", values["phone"])
    if "company" in values:
        out["company"] = validators.optional_text(
            errors, "company", values["company"], label="Company", maximum=validators.COMPANY_MAX
        )
    return out


def new_customer_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The stored fields of a new customer from `values` (first_name, last_name and optionally email, phone,
    company), or DomainError (VALIDATION) listing every problem. Shared with the compiled write (compiled/)."""
    errors = Validation()
    fields = _clean_fields({"first_name": None, "last_name": None, **values}, errors)
    errors.raise_if_any()
    return fields


def created_details(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The `customer.created` audit record's details for a new customer with these stored fields."""
    after = {name: fields.get(name) for name in AUDITED_FIELDS} | {"version": 1, "archived_at": None}
    return {"changes": audit.changes({}, after, AUDITED_FIELDS)}


async def create_customer(ctx: RequestContext, *, values: Mapping[str, Any]) -> models.Customer:
    """`values`: first_name, last_name and optionally email, phone, company."""
    require_role(ctx.viewer, *EDITORS)
    fields = new_customer_fields(values)
    async with unit_of_work(ctx, conflicts=EMAIL_CONFLICTS) as uow:
        if fields.get("email") and await _email_taken(uow.session, fields["email"]):
            raise _email_conflict()
        row = models.Customer(**fields)
        uow.session.add(row)
        await uow.session.flush()
        assert row.id is not None
        gid = entity_ref("Customer", row.id)
        uow.outbox(*outbox.customer_created(row))
        uow.audit(action=CUSTOMER_CREATED_ACTION, entity="Customer", entity_id=gid, details=created_details(fields))
        uow.prime(_C, row)
        await events.customer_created(uow, row)
    return row


async def _locked_visible(session: AsyncSession, viewer: Viewer, pk: int | None) -> models.Customer:
    """The customer row locked for this transaction, or NOT_FOUND when absent or not visible."""
    if pk is None or not viewer.can_see_customer(pk):
        raise not_found("Customer", ["id"])
    row = (await session.scalars(select(_C).where(col(_C.id) == pk).with_for_update())).first()
    if row is None:
        raise not_found("Customer", ["id"])
    return row


def _refuse_erased(row: models.Customer) -> None:
    if row.erased_at is not None:
        raise DomainError.one(ErrorCode.INVALID_TRANSITION, "An erased customer cannot be changed.", ["id"])


async def _apply(
    session: AsyncSession, row: models.Customer, changes: Mapping[str, Any], *, field: str = "id"
) -> models.Customer:
    """Conditional UPDATE: bumps `version` only if nobody changed the row since it was read."""
    stmt = (
        update(_C)
        .where(col(_C.id) == row.id, col(_C.version) == row.version)
        .values(**changes, version=col(_C.version) + 1, updated_at=models.utcnow())
        .returning(_C)
    )
    result = await session.scalars(stmt, execution_options={"populate_existing": True})
    updated = result.first()
    if updated is None:
        raise DomainError.one(ErrorCode.CONFLICT, "The customer changed meanwhile; reload and retry.", [field])
    return updated


async def update_customer(
    ctx: RequestContext, *, pk: int | None, expected_version: int | None, values: Mapping[str, Any]
) -> models.Customer:
    """`values` holds only the fields the caller passed (absent = unchanged, None = cleared)."""
    viewer = require_role(ctx.viewer, *EDITORS, Role.CUSTOMER)
    errors = Validation()
    cleaned = _clean_fields(values, errors)
    async with unit_of_work(ctx, conflicts=EMAIL_CONFLICTS) as uow:
        session = uow.session
        row = await _locked_visible(session, viewer, pk)
        _refuse_erased(row)
        if viewer.is_customer:
            for field_name in ("email", "company"):
                if field_name in values and cleaned.get(field_name) != getattr(row, field_name):
                    errors.add(field_name, f"You cannot change your own {field_name}.", ErrorCode.FORBIDDEN)
        errors.raise_if_any()
        if expected_version is not None and expected_version != row.version:
            raise DomainError.one(
                ErrorCode.CONFLICT,
                f"The customer is at version {row.version}, not {expected_version}; reload and retry.",
                ["expectedVersion"],
            )
        if cleaned.get("email") and cleaned["email"].lower() != (row.email or "").lower():
            if await _email_taken(session, cleaned["email"], except_id=row.id):
                raise _email_conflict()
        before = _snapshot(row)
        updated = await _apply(session, row, cleaned)
        uow.audit(
            action="customer.updated",
            entity="Customer",
            entity_id=updated.id,
            details={"changes": audit.changes(before, _snapshot(updated), AUDITED_FIELDS)},
        )
        uow.prime(_C, updated)
    return updated


async def _set_archived(ctx: RequestContext, *, pk: int | None, archive: bool) -> models.Customer:
    viewer = require_role(ctx.viewer, *EDITORS)
    async with unit_of_work(ctx) as uow:
        row = await _locked_visible(uow.session, viewer, pk)
        _refuse_erased(row)
        if (row.archived_at is not None) == archive:
            state = "archived" if archive else "not archived"
            raise DomainError.one(ErrorCode.INVALID_TRANSITION, f"The customer is already {state}.", ["id"])
        before = _snapshot(row)
        updated = await _apply(uow.session, row, {"archived_at": models.utcnow() if archive else None})
        uow.audit(
            action="customer.archived" if archive else "customer.restored",
            entity="Customer",
            entity_id=updated.id,
            details={"changes": audit.changes(before, _snapshot(updated), AUDITED_FIELDS)},
        )
        uow.prime(_C, updated)
    return updated


async def archive_customer(ctx: RequestContext, *, pk: int | None) -> models.Customer:
    """Soft delete: left out of `customers` unless `includeArchived`; still readable by id."""
    return await _set_archived(ctx, pk=pk, archive=True)


async def restore_customer(ctx: RequestContext, *, pk: int | None) -> models.Customer:
    return await _set_archived(ctx, pk=pk, archive=False)


async def customer_for_new_child(
    session: AsyncSession, *, viewer: Viewer, customer_id: int | None, errors: Validation, what: str
) -> models.Customer | None:
    """The customer a new request, chat session or note is filed under, read in the mutation's session.

    Absent, not visible or None (the caller's ID named no customer): NOT_FOUND on `customerId`; erased: VALIDATION.
    Problems go to `errors`.

    The row is read `FOR SHARE` (as uploads do) and stays locked until the mutation commits: an erasure (which
    takes `FOR UPDATE`) waits for the new child and erases it too, or the child waits for the erasure and then
    reads `erased_at` set. A plain read let a child inserted meanwhile outlive the erasure.
    """
    pk = customer_id
    visible = pk is not None and viewer.can_see_customer(pk)
    customer = await session.get(_C, pk, with_for_update={"read": True}) if visible else None
    if customer is None:
        errors.add("customerId", "Customer not found.", ErrorCode.NOT_FOUND)
    elif customer.erased_at is not None:
        errors.add("customerId", f"The customer was erased; no new {what}.")
    return customer
