"""Support requests and their lifecycle: the Request type, its connection, queries and mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from db import models
from db.paging import Page
from resolvers import requests as requests_resolvers
from resolvers.context import RequestContext
from schema.base import Info, Node, UserError, to_payload
from schema.enums import RequestStatus
from schema.ids import decode_id, filter_id, to_global_id
from schema.pagination import Connection
from schema.refs import CustomerRef, OperatorRef, customer_from_row, operator_from_row

# The lifecycle's transitions (resolvers/requests.py, `LIFECYCLE`) by the mutation that makes them.
MUTATION_TRANSITIONS = {
    "assignRequest": requests_resolvers.Transition.ASSIGN,
    "changeRequestStatus": requests_resolvers.Transition.CHANGE_STATUS,
}


@strawberry.type(description="A customer's support request, moving PENDING → IN_PROGRESS → COMPLETED or REJECTED.")
class Request(Node):
    body: str = strawberry.field(description="What the customer asks (1-10,000 characters).")
    status: RequestStatus = strawberry.field(description="Where the request is in its lifecycle.")
    resolution_comment: str | None = strawberry.field(
        description="The handler's closing words; required when REJECTED."
    )
    created_at: datetime = strawberry.field(description="When the request was filed.")
    updated_at: datetime = strawberry.field(description="When the request last changed.")
    archived_at: datetime | None = strawberry.field(
        description="Set once archived: left out of lists and counts unless `includeArchived`."
    )
    _row: strawberry.Private[models.SupportRequest]

    @classmethod
    def from_row(cls, row: models.SupportRequest) -> Request:
        return cls(
            id=strawberry.ID(to_global_id("Request", row.id)),
            body=row.body,
            status=RequestStatus(row.status),
            resolution_comment=row.resolution_comment,
            created_at=row.created_at,
            updated_at=row.updated_at,
            archived_at=row.archived_at,
            _row=row,
        )

    @strawberry.field(description="The customer the request belongs to.")
    async def customer(self, info: Info) -> CustomerRef:
        return customer_from_row(await requests_resolvers.customer_of(info.context, request=self._row))

    @strawberry.field(description="The owner of the request (the same customer as `customer`; the seed API's name).")
    async def created_by(self, info: Info) -> CustomerRef:
        return customer_from_row(await requests_resolvers.customer_of(info.context, request=self._row))

    @strawberry.field(description="The operator handling the request; null while unassigned.")
    async def processed_by(self, info: Info) -> OperatorRef | None:
        row = await requests_resolvers.processed_by(info.context, request=self._row)
        return operator_from_row(row) if row else None


async def load_request_node(ctx: RequestContext, pk: int) -> Request | None:
    row = await requests_resolvers.visible_request(ctx, pk=pk)
    return Request.from_row(row) if row else None


@strawberry.type(description="A page of support requests (oldest first).")
class RequestConnection(Connection[Request]):
    pass


@strawberry.input(description="Which requests to list; all conditions must hold.")
class RequestFilter:
    status: RequestStatus | None = strawberry.field(default=None, description="Only requests in this status.")
    customer_id: strawberry.ID | None = strawberry.field(default=None, description="Only this customer's requests.")
    operator_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only requests assigned to this operator."
    )
    include_archived: bool | None = strawberry.field(
        default=False, description="Include archived requests (left out by default)."
    )


@strawberry.input(description="A new support request.")
class CreateRequestInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer it is for (a CUSTOMER: itself).")
    body: str = strawberry.field(description="What the customer asks (1-10,000 characters).")


@strawberry.input(description="Who handles a request.")
class AssignRequestInput:
    request_id: strawberry.ID = strawberry.field(description="The request.")
    operator_id: strawberry.ID = strawberry.field(description="The ADMIN or OPERATOR to handle it.")


@strawberry.input(description="A lifecycle move: COMPLETED, REJECTED (needs a comment) or back to PENDING.")
class ChangeRequestStatusInput:
    request_id: strawberry.ID = strawberry.field(description="The request.")
    status: RequestStatus = strawberry.field(description="The new status (IN_PROGRESS goes through assignRequest).")
    resolution_comment: str | None = strawberry.field(
        default=None, description="Closing words for the customer; required for REJECTED."
    )


@strawberry.type(description="The result of a request mutation.")
class RequestPayload:
    request: Request | None = strawberry.field(description="The request after the change; null on errors.")
    errors: list[UserError] = strawberry.field(description="Why the change did not happen; empty on success.")


def _connection(page: Page[Any]) -> RequestConnection:
    return RequestConnection.from_page(page, Request.from_row)


@strawberry.type
class Query:
    @strawberry.field(description="Support requests, oldest first; a CUSTOMER sees only its own.")
    async def requests(
        self,
        info: Info,
        filter: RequestFilter | None = None,
        first: Annotated[int | None, strawberry.argument(description="Page size (default 20, max 50).")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> RequestConnection:
        f = filter or RequestFilter()
        page = await requests_resolvers.list_requests(
            info.context,
            status=f.status,
            customer_id=filter_id(f.customer_id, "Customer"),
            operator_id=filter_id(f.operator_id, "Operator", "User"),
            include_archived=bool(f.include_archived),
            first=first,
            after=after,
        )
        return _connection(page)

    @strawberry.field(description="One request by ID (archived ones too); null when absent or not visible.")
    async def request(self, info: Info, id: strawberry.ID) -> Request | None:
        row = await requests_resolvers.get_request(info.context, pk=decode_id(id, "Request"))
        return Request.from_row(row) if row else None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="File a support request (PENDING): staff for any customer, a CUSTOMER for itself.")
    async def create_request(self, info: Info, input: CreateRequestInput) -> RequestPayload:
        work = requests_resolvers.create_request(
            info.context, customer_id=decode_id(input.customer_id, "Customer"), body=input.body
        )
        return await to_payload(RequestPayload, "request", Request.from_row, work)

    @strawberry.mutation(
        description="Assign a request (→ IN_PROGRESS): an ADMIN to anyone handling requests, an OPERATOR to itself."
    )
    async def assign_request(self, info: Info, input: AssignRequestInput) -> RequestPayload:
        work = requests_resolvers.assign_request(
            info.context,
            request_id=decode_id(input.request_id, "Request"),
            operator_id=decode_id(input.operator_id, "Operator", "User"),
        )
        return await to_payload(RequestPayload, "request", Request.from_row, work)

    @strawberry.mutation(description="Move a request along its lifecycle (see API.md, 'Request lifecycle').")
    async def change_request_status(self, info: Info, input: ChangeRequestStatusInput) -> RequestPayload:
        work = requests_resolvers.change_request_status(
            info.context,
            request_id=decode_id(input.request_id, "Request"),
            status=input.status,
            resolution_comment=input.resolution_comment,
        )
        return await to_payload(RequestPayload, "request", Request.from_row, work)

    @strawberry.mutation(description="Archive a request: hidden from lists and counts unless `includeArchived`.")
    async def archive_request(self, info: Info, id: strawberry.ID) -> RequestPayload:
        work = requests_resolvers.archive_request(info.context, pk=decode_id(id, "Request"))
        return await to_payload(RequestPayload, "request", Request.from_row, work)
