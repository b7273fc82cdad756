"""Support requests: lists, lookups, nested connections, and the lifecycle (API.md, "Request lifecycle").

The lifecycle is the one table `LIFECYCLE` below. Every move locks the row (SELECT … FOR UPDATE) and then
writes with a conditional `UPDATE … WHERE status = <seen> AND version = <seen>`, so of two racing moves
exactly one wins; the other re-reads the new status and gets INVALID_TRANSITION (or CONFLICT).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import false, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from db import models
from db.enums import OPEN_REQUEST_STATUSES, STAFF_ROLES, RequestStatus, Role
from db.loaders import fetch_list
from db.paging import Ordering, Page
from resolvers import audit, events, outbox, validators
from resolvers.context import RequestContext
from resolvers.customers import customer_for_new_child
from resolvers.errors import DomainError, ErrorCode, Validation, not_found
from resolvers.ids import decode_id, to_global_id
from resolvers.pagination import page_request
from resolvers.unit_of_work import UnitOfWork, unit_of_work
from resolvers.viewer import Viewer, require_role, require_viewer

_R = models.SupportRequest
ORDERING = Ordering("requests.id", (col(_R.id),))  # oldest first: the order they were filed in
HANDLERS = (Role.ADMIN, Role.OPERATOR)  # roles that may be assigned a request
AUDITED_FIELDS = ("status", "processed_by", "resolution_comment", "archived_at")


class Actor(StrEnum):
    """Who may make a move, relative to the request."""

    ADMIN = "ADMIN"  # any ADMIN
    ASSIGNEE = "ASSIGNEE"  # the operator the request is assigned to
    ANY_OPERATOR = "ANY_OPERATOR"  # any OPERATOR
    SELF_ASSIGN = "SELF_ASSIGN"  # an OPERATOR assigning the request to itself


@dataclass(frozen=True)
class Move:
    mutation: str
    by: frozenset[Actor]
    needs_comment: bool = False
    unassigns: bool = False


_A = Actor
_S = RequestStatus
LIFECYCLE: dict[tuple[RequestStatus, RequestStatus], Move] = {
    (_S.PENDING, _S.IN_PROGRESS): Move("assignRequest", frozenset({_A.ADMIN, _A.SELF_ASSIGN})),
    (_S.IN_PROGRESS, _S.IN_PROGRESS): Move("assignRequest", frozenset({_A.ADMIN, _A.SELF_ASSIGN})),
    (_S.IN_PROGRESS, _S.COMPLETED): Move("changeRequestStatus", frozenset({_A.ASSIGNEE, _A.ADMIN})),
    (_S.PENDING, _S.REJECTED): Move(
        "changeRequestStatus", frozenset({_A.ASSIGNEE, _A.ADMIN, _A.ANY_OPERATOR}), needs_comment=True
    ),
    (_S.IN_PROGRESS, _S.REJECTED): Move("changeRequestStatus", frozenset({_A.ASSIGNEE, _A.ADMIN}), needs_comment=True),
    (_S.IN_PROGRESS, _S.PENDING): Move("changeRequestStatus", frozenset({_A.ASSIGNEE, _A.ADMIN}), unassigns=True),
}


def actors(viewer: Viewer, row: models.SupportRequest, *, assignee_id: int | None = None) -> frozenset[Actor]:
    found: set[Actor] = set()
    if viewer.role == Role.ADMIN:
        found.add(Actor.ADMIN)
    if viewer.role == Role.OPERATOR:
        found.add(Actor.ANY_OPERATOR)
        if assignee_id == viewer.user_id:
            found.add(Actor.SELF_ASSIGN)
    if viewer.role in HANDLERS and row.processed_by_id == viewer.user_id:
        found.add(Actor.ASSIGNEE)
    return frozenset(found)


def find_move(row: models.SupportRequest, target: RequestStatus, mutation: str) -> Move:
    """The lifecycle entry for this move, or INVALID_TRANSITION (reported alone, before any other check)."""
    current = RequestStatus(row.status)
    move = LIFECYCLE.get((current, target))
    if row.archived_at is not None:
        raise DomainError.one(ErrorCode.INVALID_TRANSITION, "An archived request cannot change.")
    if move is None or move.mutation != mutation:
        field = ["status"] if mutation == "changeRequestStatus" else None
        raise DomainError.one(ErrorCode.INVALID_TRANSITION, f"A request cannot go from {current} to {target}.", field)
    return move


# --- reads ---------------------------------------------------------------------------------------


def visible_conditions(viewer: Viewer) -> list[ColumnElement[bool]]:
    if viewer.is_staff:
        return []
    if viewer.customer_id is None:
        return [false()]
    return [col(_R.customer_id) == viewer.customer_id]


def _filters(status: RequestStatus | None, include_archived: bool) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(col(_R.status) == RequestStatus(status).value)
    if not include_archived:
        conditions.append(col(_R.archived_at).is_(None))
    return conditions


async def list_requests(
    ctx: RequestContext,
    *,
    status: RequestStatus | None = None,
    customer_id: str | None = None,
    operator_id: str | None = None,
    include_archived: bool = False,
    first: int | None = None,
    after: str | None = None,
) -> Page[models.SupportRequest]:
    """IDs in the filter that are not customers/operators match nothing (an empty list, not an error)."""
    viewer = require_viewer(ctx.viewer)
    req = page_request(ORDERING, first=first, after=after)
    conditions = visible_conditions(viewer) + _filters(status, include_archived)
    if customer_id is not None:
        pk = decode_id(customer_id, "Customer")
        conditions.append(col(_R.customer_id) == pk if pk is not None else false())
    if operator_id is not None:
        pk = decode_id(operator_id, "Operator", "User")
        conditions.append(col(_R.processed_by_id) == pk if pk is not None else false())
    stmt = select(_R).where(*conditions)
    return await fetch_list(ctx.loaders, stmt, ORDERING, req, model=_R)


async def visible_request(ctx: RequestContext, *, pk: int) -> models.SupportRequest | None:
    """Archived ones included: fetched directly, a request comes back with `archivedAt` set."""
    viewer = require_viewer(ctx.viewer)
    row: models.SupportRequest | None = await ctx.loaders.by_id(_R).load(pk)
    if row is None or not viewer.can_see_customer(row.customer_id):
        return None
    return row


async def get_request(ctx: RequestContext, *, global_id: str) -> models.SupportRequest | None:
    require_viewer(ctx.viewer)
    pk = decode_id(global_id, "Request")
    return None if pk is None else await visible_request(ctx, pk=pk)


async def _child_page(
    ctx: RequestContext,
    *,
    name: str,
    parent_column: Any,
    parent_id: int,
    where: list[ColumnElement[bool]],
    where_key: Hashable,
    first: int | None,
    after: str | None,
) -> Page[models.SupportRequest]:
    """One page of a nested request connection, batched over all parents (page and totalCount alike)."""
    req = page_request(ORDERING, first=first, after=after)
    loader = ctx.loaders.child_page(
        name=name,
        model=_R,
        parent_column=parent_column,
        ordering=ORDERING,
        request=req,
        where=where,
        where_key=where_key,
    )
    page: Page[models.SupportRequest] = await loader.load(parent_id)
    counter = ctx.loaders.child_count(name=name, parent_column=parent_column, where=where, where_key=where_key)

    async def total() -> int:
        return await counter.load(parent_id)

    page.total = total
    return page


async def requests_of_customer(
    ctx: RequestContext,
    *,
    customer: models.Customer,
    status: RequestStatus | None = None,
    include_archived: bool = False,
    first: int | None = None,
    after: str | None = None,
) -> Page[models.SupportRequest]:
    """`RequestsByCustomerLoader`. The customer itself was visible, so all its requests are."""
    return await _child_page(
        ctx,
        name="requests_by_customer",
        parent_column=col(_R.customer_id),
        parent_id=customer.id,
        where=_filters(status, include_archived),
        where_key=(status, include_archived),
        first=first,
        after=after,
    )


async def requests_of_operator(
    ctx: RequestContext,
    *,
    operator_id: int,
    status: RequestStatus | None = None,
    include_archived: bool = False,
    first: int | None = None,
    after: str | None = None,
) -> Page[models.SupportRequest]:
    """`AssignedRequestsByOperatorLoader`; a CUSTOMER viewer sees only its own requests in it."""
    viewer = require_viewer(ctx.viewer)
    return await _child_page(
        ctx,
        name="requests_by_operator",
        parent_column=col(_R.processed_by_id),
        parent_id=operator_id,
        where=_filters(status, include_archived) + visible_conditions(viewer),
        where_key=(status, include_archived, viewer.is_staff, viewer.customer_id),
        first=first,
        after=after,
    )


async def open_count_of_operator(ctx: RequestContext, *, operator_id: int) -> int:
    """`OpenRequestCountByOperatorLoader`: open requests assigned to the operator, archived excluded."""
    viewer = require_viewer(ctx.viewer)
    loader = ctx.loaders.child_count(
        name="open_requests_by_operator",
        parent_column=col(_R.processed_by_id),
        where=[
            col(_R.status).in_([s.value for s in OPEN_REQUEST_STATUSES]),
            col(_R.archived_at).is_(None),
            *visible_conditions(viewer),
        ],
        where_key=(viewer.is_staff, viewer.customer_id),
    )
    return await loader.load(operator_id)


async def customer_of(ctx: RequestContext, *, request: models.SupportRequest) -> models.Customer:
    row = await ctx.loaders.by_id(models.Customer).load(request.customer_id)
    return cast(models.Customer, row)  # customer_id is a NOT NULL foreign key


async def processed_by(ctx: RequestContext, *, request: models.SupportRequest) -> models.User | None:
    if request.processed_by_id is None:
        return None
    row: models.User | None = await ctx.loaders.by_id(models.User).load(request.processed_by_id)
    return row if row is not None and row.role in STAFF_ROLES else None


# --- writes --------------------------------------------------------------------------------------


def _snapshot(row: models.SupportRequest) -> dict[str, Any]:
    return {
        "status": row.status,
        "processed_by": to_global_id("Operator", row.processed_by_id) if row.processed_by_id else None,
        "resolution_comment": row.resolution_comment,
        "archived_at": row.archived_at,
    }


async def _locked_visible(session: AsyncSession, viewer: Viewer, global_id: str, field: str) -> models.SupportRequest:
    pk = decode_id(global_id, "Request")
    if pk is None:
        raise not_found("Request", [field])
    row = (await session.scalars(select(_R).where(col(_R.id) == pk).with_for_update())).first()
    if row is None or not viewer.can_see_customer(row.customer_id):
        raise not_found("Request", [field])
    return row


async def _write(session: AsyncSession, row: models.SupportRequest, values: dict[str, Any]) -> models.SupportRequest:
    """Conditional UPDATE on the status and version that were read: a concurrent change makes it miss."""
    stmt = (
        update(_R)
        .where(col(_R.id) == row.id, col(_R.status) == row.status, col(_R.version) == row.version)
        .values(**values, version=col(_R.version) + 1, updated_at=models.utcnow())
        .returning(_R)
    )
    updated = (await session.scalars(stmt, execution_options={"populate_existing": True})).first()
    if updated is None:
        raise DomainError.one(ErrorCode.CONFLICT, "The request changed meanwhile; reload and retry.")
    return updated


def _audit(uow: UnitOfWork, action: str, before: dict[str, Any], row: models.SupportRequest) -> None:
    uow.audit(
        action=action,
        entity="Request",
        entity_id=row.id,
        details={
            "customer": to_global_id("Customer", row.customer_id),
            "changes": audit.changes(before, _snapshot(row), AUDITED_FIELDS),
        },
    )
    uow.prime(_R, row)
    # Nested request pages and counts cached earlier in this request are stale after a write.
    uow.forget_lists("requests_by_", "open_requests_by_")


async def create_request(ctx: RequestContext, *, customer_id: str, body: str) -> models.SupportRequest:
    """Staff for any visible customer, a CUSTOMER for itself; a new request is PENDING."""
    viewer = require_viewer(ctx.viewer)
    errors = Validation()
    text = validators.text(errors, "body", body, label="The body", maximum=validators.BODY_MAX)
    async with unit_of_work(ctx) as uow:
        customer = await customer_for_new_child(
            uow.session, viewer=viewer, customer_id=customer_id, errors=errors, what="requests"
        )
        errors.raise_if_any()
        assert customer is not None and customer.id is not None and text is not None
        row = models.SupportRequest(
            customer_id=customer.id, created_by_id=viewer.user_id, body=text, status=RequestStatus.PENDING.value
        )
        uow.session.add(row)
        await uow.session.flush()
        uow.audit(
            action="request.created",
            entity="Request",
            entity_id=row.id,
            details={
                "customer": to_global_id("Customer", customer.id),
                "body_length": len(row.body),
                "changes": audit.changes({}, _snapshot(row), AUDITED_FIELDS),
            },
        )
        uow.prime(_R, row)
        uow.prime(models.Customer, customer)
        uow.forget_lists("requests_by_", "open_requests_by_")
        await events.request_updated(uow, row, change="created")
    return row


async def assign_request(ctx: RequestContext, *, request_id: str, operator_id: str) -> models.SupportRequest:
    """ADMIN assigns anyone who handles requests; an OPERATOR assigns itself. Sets IN_PROGRESS."""
    viewer = require_role(ctx.viewer, *HANDLERS)
    assignee_pk = decode_id(operator_id, "Operator", "User")
    async with unit_of_work(ctx) as uow:
        session = uow.session
        row = await _locked_visible(session, viewer, request_id, "requestId")
        assignee = await session.get(models.User, assignee_pk) if assignee_pk is not None else None
        if assignee is None or assignee.role not in STAFF_ROLES:
            raise not_found("Operator", ["operatorId"])
        move = find_move(row, RequestStatus.IN_PROGRESS, "assignRequest")
        if not move.by & actors(viewer, row, assignee_id=assignee.id):
            raise DomainError.one(
                ErrorCode.FORBIDDEN, "An operator may assign requests only to itself.", ["operatorId"]
            )
        if assignee.role not in HANDLERS or not assignee.is_active:
            raise DomainError.one(
                ErrorCode.VALIDATION, "Requests are handled by active ADMIN or OPERATOR users.", ["operatorId"]
            )
        before = _snapshot(row)
        updated = await _write(
            session, row, {"processed_by_id": assignee.id, "status": RequestStatus.IN_PROGRESS.value}
        )
        _audit(uow, "request.assigned", before, updated)
        await events.request_updated(uow, updated, change="assigned")
        uow.prime(models.User, assignee)
    return updated


async def change_request_status(
    ctx: RequestContext, *, request_id: str, status: RequestStatus, resolution_comment: str | None
) -> models.SupportRequest:
    """COMPLETED, REJECTED (with a comment) or back to PENDING (un-assigns), as LIFECYCLE allows."""
    viewer = require_role(ctx.viewer, *HANDLERS)
    target = RequestStatus(status)
    if target == RequestStatus.IN_PROGRESS:
        raise DomainError.one(ErrorCode.VALIDATION, "Use assignRequest to put a request in progress.", ["status"])
    async with unit_of_work(ctx) as uow:
        row = await _locked_visible(uow.session, viewer, request_id, "requestId")
        move = find_move(row, target, "changeRequestStatus")
        if not move.by & actors(viewer, row):
            raise DomainError.one(
                ErrorCode.FORBIDDEN, "Only the assigned operator or an ADMIN may make this change.", ["requestId"]
            )
        errors = Validation()
        comment = validators.optional_text(
            errors, "resolutionComment", resolution_comment, label="Resolution comment", maximum=validators.BODY_MAX
        )
        if move.needs_comment and comment is None and not errors.problems:
            errors.add("resolutionComment", "A rejection needs a resolution comment.")
        errors.raise_if_any()
        values: dict[str, Any] = {"status": target.value}
        if move.unassigns:
            values.update(processed_by_id=None, resolution_comment=None)
        else:
            values["resolution_comment"] = comment
        before = _snapshot(row)
        updated = await _write(uow.session, row, values)
        _audit(uow, "request.status_changed", before, updated)
        if target.value in outbox.RESOLVED and await outbox.customer_has_email(uow.session, updated.customer_id):
            uow.outbox(*outbox.request_resolved(updated))
        await events.request_updated(uow, updated, change="status_changed")
    return updated


async def archive_request(ctx: RequestContext, *, global_id: str) -> models.SupportRequest:
    """ADMIN or OPERATOR; hides the request from every list and count unless `includeArchived`."""
    viewer = require_role(ctx.viewer, *HANDLERS)
    async with unit_of_work(ctx) as uow:
        row = await _locked_visible(uow.session, viewer, global_id, "id")
        if row.archived_at is not None:
            raise DomainError.one(ErrorCode.INVALID_TRANSITION, "The request is already archived.", ["id"])
        before = _snapshot(row)
        updated = await _write(uow.session, row, {"archived_at": models.utcnow()})
        _audit(uow, "request.archived", before, updated)
        await events.request_updated(uow, updated, change="archived")
    return updated
