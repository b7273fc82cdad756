"""Support requests: lists, lookups, nested connections, and the lifecycle (API.md, "Request lifecycle").

The lifecycle is the one table `LIFECYCLE` below, keyed by (from, to) status; each entry names its `Transition`
(schema/requests.py maps the mutations onto them). Every move locks the row (SELECT … FOR UPDATE) and then
writes with a conditional `UPDATE … WHERE status = <seen> AND version = <seen>`, so of two racing moves
exactly one wins; the other re-reads the new status and gets INVALID_TRANSITION (or CONFLICT).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import false, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from db import models
from db.enums import OPEN_REQUEST_STATUSES, STAFF_ROLES, RequestStatus, Role
from db.loaders import ListKey, fetch_list
from db.paging import Ordering, Page
from db.refs import entity_ref
from resolvers import audit, events, outbox, validators
from resolvers.context import RequestContext
from resolvers.customers import customer_for_new_child
from resolvers.errors import DomainError, ErrorCode, Validation, not_found
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


class Transition(StrEnum):
    """The lifecycle's actions."""

    ASSIGN = "ASSIGN"  # give the request to a handler: it goes IN_PROGRESS
    CHANGE_STATUS = "CHANGE_STATUS"  # complete, reject, or hand back to PENDING


@dataclass(frozen=True)
class Move:
    transition: Transition
    by: frozenset[Actor]
    needs_comment: bool = False
    unassigns: bool = False


_A = Actor
_S = RequestStatus
_T = Transition
LIFECYCLE: dict[tuple[RequestStatus, RequestStatus], Move] = {
    (_S.PENDING, _S.IN_PROGRESS): Move(_T.ASSIGN, frozenset({_A.ADMIN, _A.SELF_ASSIGN})),
    (_S.IN_PROGRESS, _S.IN_PROGRESS): Move(_T.ASSIGN, frozenset({_A.ADMIN, _A.SELF_ASSIGN})),
    (_S.IN_PROGRESS, _S.COMPLETED): Move(_T.CHANGE_STATUS, frozenset({_A.ASSIGNEE, _A.ADMIN})),
    (_S.PENDING, _S.REJECTED): Move(
        _T.CHANGE_STATUS, frozenset({_A.ASSIGNEE, _A.ADMIN, _A.ANY_OPERATOR}), needs_comment=True
    ),
    (_S.IN_PROGRESS, _S.REJECTED): Move(_T.CHANGE_STATUS, frozenset({_A.ASSIGNEE, _A.ADMIN}), needs_comment=True),
    (_S.IN_PROGRESS, _S.PENDING): Move(_T.CHANGE_STATUS, frozenset({_A.ASSIGNEE, _A.ADMIN}), unassigns=True),
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


def find_move(row: models.SupportRequest, target: RequestStatus, transition: Transition) -> Move:
    """The lifecycle entry for this move, or INVALID_TRANSITION (reported alone, before any other check)."""
    current = RequestStatus(row.status)
    move = LIFECYCLE.get((current, target))
    if row.archived_at is not None:
        raise DomainError.one(ErrorCode.INVALID_TRANSITION, "An archived request cannot change.")
    if move is None or move.transition != transition:
        field = ["status"] if transition == Transition.CHANGE_STATUS else None
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
    customer_id: int | None = None,
    operator_id: int | None = None,
    include_archived: bool = False,
    first: int | None = None,
    after: str | None = None,
) -> Page[models.SupportRequest]:
    """`customer_id`/`operator_id`: None is no filter; an id no row has matches nothing (not an error)."""
    viewer = require_viewer(ctx.viewer)
    req = page_request(ORDERING, first=first, after=after)
    conditions = visible_conditions(viewer) + _filters(status, include_archived)
    if customer_id is not None:
        conditions.append(col(_R.customer_id) == customer_id)
    if operator_id is not None:
        conditions.append(col(_R.processed_by_id) == operator_id)
    stmt = select(_R).where(*conditions)
    return await fetch_list(ctx.loaders, stmt, ORDERING, req, model=_R)


async def visible_request(ctx: RequestContext, *, pk: int) -> models.SupportRequest | None:
    """Archived ones included: fetched directly, a request comes back with `archivedAt` set."""
    viewer = require_viewer(ctx.viewer)
    row: models.SupportRequest | None = await ctx.loaders.by_id(_R).load(pk)
    if row is None or not viewer.can_see_customer(row.customer_id):
        return None
    return row


async def get_request(ctx: RequestContext, *, pk: int | None) -> models.SupportRequest | None:
    """`pk` None: the caller's ID named no request."""
    require_viewer(ctx.viewer)
    return None if pk is None else await visible_request(ctx, pk=pk)


@dataclass(frozen=True)
class RequestsOfCustomerKey(ListKey[models.SupportRequest]):
    """`Customer.requests` (`RequestsByCustomerLoader`). The customer itself was visible, so all its requests are."""

    parent_column = col(_R.customer_id)
    ordering = ORDERING
    customer_id: int
    status: RequestStatus | None
    include_archived: bool

    def where(self) -> list[ColumnElement[bool]]:
        return _filters(self.status, self.include_archived)


@dataclass(frozen=True)
class RequestsOfOperatorKey(ListKey[models.SupportRequest]):
    """`Operator.assignedRequests` (`AssignedRequestsByOperatorLoader`); a CUSTOMER viewer sees only its own
    customer's requests in it."""

    parent_column = col(_R.processed_by_id)
    ordering = ORDERING
    processed_by_id: int
    status: RequestStatus | None
    include_archived: bool
    viewer: Viewer

    def where(self) -> list[ColumnElement[bool]]:
        return _filters(self.status, self.include_archived) + visible_conditions(self.viewer)


@dataclass(frozen=True)
class OpenRequestsOfOperatorKey(ListKey[models.SupportRequest]):
    """`Operator.openRequestCount` (`OpenRequestCountByOperatorLoader`): open requests assigned to the operator,
    archived excluded, as far as the viewer may see them."""

    parent_column = col(_R.processed_by_id)
    processed_by_id: int
    viewer: Viewer

    def where(self) -> list[ColumnElement[bool]]:
        return [
            col(_R.status).in_([s.value for s in OPEN_REQUEST_STATUSES]),
            col(_R.archived_at).is_(None),
            *visible_conditions(self.viewer),
        ]


async def _child_page(
    ctx: RequestContext, key: ListKey[models.SupportRequest], *, first: int | None, after: str | None
) -> Page[models.SupportRequest]:
    """One page of a nested request connection, batched over all parents (page and totalCount alike)."""
    page = await ctx.loaders.page(key, page_request(ORDERING, first=first, after=after))

    async def total() -> int:
        return await ctx.loaders.count(key)

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
    """`Customer.requests`, see `RequestsOfCustomerKey`."""
    assert customer.id is not None
    key = RequestsOfCustomerKey(customer_id=customer.id, status=status, include_archived=include_archived)
    return await _child_page(ctx, key, first=first, after=after)


async def requests_of_operator(
    ctx: RequestContext,
    *,
    operator_id: int,
    status: RequestStatus | None = None,
    include_archived: bool = False,
    first: int | None = None,
    after: str | None = None,
) -> Page[models.SupportRequest]:
    """`Operator.assignedRequests`, see `RequestsOfOperatorKey`."""
    viewer = require_viewer(ctx.viewer)
    key = RequestsOfOperatorKey(
        processed_by_id=operator_id, status=status, include_archived=include_archived, viewer=viewer
    )
    return await _child_page(ctx, key, first=first, after=after)


async def open_count_of_operator(ctx: RequestContext, *, operator_id: int) -> int:
    """`Operator.openRequestCount`, see `OpenRequestsOfOperatorKey`."""
    viewer = require_viewer(ctx.viewer)
    return await ctx.loaders.count(OpenRequestsOfOperatorKey(processed_by_id=operator_id, viewer=viewer))


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
        "processed_by": entity_ref("Operator", row.processed_by_id) if row.processed_by_id else None,
        "resolution_comment": row.resolution_comment,
        "archived_at": row.archived_at,
    }


async def _customer_erased(session: AsyncSession, pk: int | None) -> bool:
    """Whether the customer of request `pk` is erased, read `FOR SHARE` and locked until commit, as for every new
    child of a customer (resolvers/customers.py `customer_for_new_child`): an erasure running meanwhile either
    finished first (then the text is refused) or waits for this write and erases it too. Taken before the
    request's own row lock, in the order an erasure takes them (customer, then its requests): no deadlock."""
    if pk is None:
        return False
    owner = select(col(_R.customer_id)).where(col(_R.id) == pk).scalar_subquery()
    C = models.Customer
    found = (
        await session.execute(select(col(C.erased_at)).where(col(C.id) == owner).with_for_update(read=True))
    ).first()
    return found is not None and found[0] is not None


async def _locked_visible(session: AsyncSession, viewer: Viewer, pk: int | None, field: str) -> models.SupportRequest:
    if pk is None:
        raise not_found("Request", [field])
    row = (await session.scalars(select(_R).where(col(_R.id) == pk).with_for_update())).first()
    if row is None or not viewer.can_see_customer(row.customer_id):
        raise not_found("Request", [field])
    return row


async def _write(uow: UnitOfWork, row: models.SupportRequest, values: dict[str, Any]) -> models.SupportRequest:
    """Conditional UPDATE on the status and version that were read: a concurrent change makes it miss.
    Records the lists it changes: the customer's, and those of the operators it was and is assigned to."""
    was_assigned_to = row.processed_by_id
    stmt = (
        update(_R)
        .where(col(_R.id) == row.id, col(_R.status) == row.status, col(_R.version) == row.version)
        .values(**values, version=col(_R.version) + 1, updated_at=models.utcnow())
        .returning(_R)
    )
    updated = (await uow.session.scalars(stmt, execution_options={"populate_existing": True})).first()
    if updated is None:
        raise DomainError.one(ErrorCode.CONFLICT, "The request changed meanwhile; reload and retry.")
    uow.children_changed(col(_R.customer_id), updated.customer_id)
    uow.children_changed(col(_R.processed_by_id), was_assigned_to, updated.processed_by_id)
    return updated


def _audit(uow: UnitOfWork, action: str, before: dict[str, Any], row: models.SupportRequest) -> None:
    uow.audit(
        action=action,
        entity="Request",
        entity_id=row.id,
        details={
            "customer": entity_ref("Customer", row.customer_id),
            "changes": audit.changes(before, _snapshot(row), AUDITED_FIELDS),
        },
    )
    uow.prime(_R, row)


async def create_request(ctx: RequestContext, *, customer_id: int | None, body: str) -> models.SupportRequest:
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
                "customer": entity_ref("Customer", customer.id),
                "body_length": len(row.body),
                "changes": audit.changes({}, _snapshot(row), AUDITED_FIELDS),
            },
        )
        uow.prime(_R, row)
        uow.prime(models.Customer, customer)
        uow.children_changed(col(_R.customer_id), customer.id)
        await events.request_updated(uow, row, change="created")
    return row


async def assign_request(
    ctx: RequestContext, *, request_id: int | None, operator_id: int | None
) -> models.SupportRequest:
    """ADMIN assigns anyone who handles requests; an OPERATOR assigns itself. Sets IN_PROGRESS."""
    viewer = require_role(ctx.viewer, *HANDLERS)
    assignee_pk = operator_id
    async with unit_of_work(ctx) as uow:
        session = uow.session
        row = await _locked_visible(session, viewer, request_id, "requestId")
        assignee = await session.get(models.User, assignee_pk) if assignee_pk is not None else None
        if assignee is None or assignee.role not in STAFF_ROLES:
            raise not_found("Operator", ["operatorId"])
        move = find_move(row, RequestStatus.IN_PROGRESS, Transition.ASSIGN)
        if not move.by & actors(viewer, row, assignee_id=assignee.id):
            raise DomainError.one(
                ErrorCode.FORBIDDEN, "An operator may assign requests only to itself.", ["operatorId"]
            )
        if assignee.role not in HANDLERS or not assignee.is_active:
            raise DomainError.one(
                ErrorCode.VALIDATION, "Requests are handled by active ADMIN or OPERATOR users.", ["operatorId"]
            )
        before = _snapshot(row)
        updated = await _write(uow, row, {"processed_by_id": assignee.id, "status": RequestStatus.IN_PROGRESS.value})
        _audit(uow, "request.assigned", before, updated)
        await events.request_updated(uow, updated, change="assigned")
        uow.prime(models.User, assignee)
    return updated


async def change_request_status(
    ctx: RequestContext, *, request_id: int | None, status: RequestStatus, resolution_comment: str | None
) -> models.SupportRequest:
    """COMPLETED, REJECTED (with a comment) or back to PENDING (un-assigns), as LIFECYCLE allows."""
    viewer = require_role(ctx.viewer, *HANDLERS)
    target = RequestStatus(status)
    if target == RequestStatus.IN_PROGRESS:
        raise DomainError.one(ErrorCode.VALIDATION, "Use assignRequest to put a request in progress.", ["status"])
    async with unit_of_work(ctx) as uow:
        erased = await _customer_erased(uow.session, request_id)
        row = await _locked_visible(uow.session, viewer, request_id, "requestId")
        move = find_move(row, target, Transition.CHANGE_STATUS)
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
        if erased and comment is not None and not errors.problems:
            errors.add("resolutionComment", "The customer was erased; a resolution comment cannot be added.")
        errors.raise_if_any()
        values: dict[str, Any] = {"status": target.value}
        if move.unassigns:
            values.update(processed_by_id=None, resolution_comment=None)
        else:
            values["resolution_comment"] = comment
        before = _snapshot(row)
        updated = await _write(uow, row, values)
        _audit(uow, "request.status_changed", before, updated)
        if target.value in outbox.RESOLVED and await outbox.customer_has_email(uow.session, updated.customer_id):
            uow.outbox(*outbox.request_resolved(updated))
        await events.request_updated(uow, updated, change="status_changed")
    return updated


async def archive_request(ctx: RequestContext, *, pk: int | None) -> models.SupportRequest:
    """ADMIN or OPERATOR; hides the request from every list and count unless `includeArchived`."""
    viewer = require_role(ctx.viewer, *HANDLERS)
    async with unit_of_work(ctx) as uow:
        row = await _locked_visible(uow.session, viewer, pk, "id")
        if row.archived_at is not None:
            raise DomainError.one(ErrorCode.INVALID_TRANSITION, "The request is already archived.", ["id"])
        before = _snapshot(row)
        updated = await _write(uow, row, {"archived_at": models.utcnow()})
        _audit(uow, "request.archived", before, updated)
        await events.request_updated(uow, updated, change="archived")
    return updated
