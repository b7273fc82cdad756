"""Operators: staff users seen as the people who handle requests."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db import models
from resolvers import operators as operators_resolvers
from resolvers import requests as requests_resolvers
from resolvers.context import RequestContext
from schema.base import Info, Node, UserError, to_payload
from schema.enums import RequestStatus, Role
from schema.ids import to_global_id
from schema.pagination import Connection
from schema.requests import Request, RequestConnection

PageSize = Annotated[int | None, strawberry.argument(description="Page size (default 20, max 50).")]
After = Annotated[str | None, strawberry.argument(description="Cursor to continue after.")]


@strawberry.type(description="A staff user (ADMIN, OPERATOR or SALES) who can handle requests.")
class Operator(Node):
    first_name: str = strawberry.field(description="First name.")
    last_name: str = strawberry.field(description="Last name.")
    email: str = strawberry.field(description="Work email.")
    role: Role = strawberry.field(description="ADMIN, OPERATOR or SALES.")
    _row: strawberry.Private[models.User]

    @classmethod
    def from_row(cls, row: models.User) -> Operator:
        return cls(
            id=strawberry.ID(to_global_id("Operator", row.id)),
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            role=row.role,  # type: ignore[arg-type]  # the row holds the role's text; strawberry serialises text and member alike
            _row=row,
        )

    @strawberry.field(description="Requests assigned to this operator, oldest first (a CUSTOMER sees only its own).")
    async def assigned_requests(
        self,
        info: Info,
        status: Annotated[RequestStatus | None, strawberry.argument(description="Only this status.")] = None,
        include_archived: Annotated[
            bool | None, strawberry.argument(description="Include archived requests (left out by default).")
        ] = False,
        first: PageSize = None,
        after: After = None,
    ) -> RequestConnection:
        page = await requests_resolvers.requests_of_operator(
            info.context,
            operator_id=self._row.id,
            status=status,
            include_archived=bool(include_archived),
            first=first,
            after=after,
        )
        return RequestConnection.from_page(page, Request.from_row)

    @strawberry.field(description="How many requests assigned to this operator are open (archived excluded).")
    async def open_request_count(self, info: Info) -> int:
        return await requests_resolvers.open_count_of_operator(info.context, operator_id=self._row.id)


async def load_operator_node(ctx: RequestContext, pk: int) -> Operator | None:
    row = await operators_resolvers.visible_operator(ctx, pk=pk)
    return Operator.from_row(row) if row else None


@strawberry.type(description="A page of operators, by last name.")
class OperatorConnection(Connection[Operator]):
    pass


@strawberry.input(description="A new staff account.")
class CreateOperatorInput:
    first_name: str = strawberry.field(description="First name (1-100 characters).")
    last_name: str = strawberry.field(description="Last name (1-100 characters).")
    email: str = strawberry.field(description="Work email, unique among users.")
    password: str | None = strawberry.field(
        default=None, description="10-1000 characters; leave out for an SSO-only account."
    )
    role: Role | None = strawberry.field(default=Role.OPERATOR, description="ADMIN, OPERATOR or SALES.")


@strawberry.type(description="The result of an operator mutation.")
class OperatorPayload:
    operator: Operator | None = strawberry.field(description="The operator; null on errors.")
    errors: list[UserError] = strawberry.field(description="Why the change did not happen; empty on success.")


@strawberry.type
class Query:
    @strawberry.field(description="Staff users who handle requests, by last name (staff only).")
    async def operators(self, info: Info, first: PageSize = None, after: After = None) -> OperatorConnection:
        page = await operators_resolvers.list_operators(info.context, first=first, after=after)
        return OperatorConnection.from_page(page, Operator.from_row)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a staff account (ADMIN only).")
    async def create_operator(self, info: Info, input: CreateOperatorInput) -> OperatorPayload:
        work = operators_resolvers.create_operator(
            info.context,
            first_name=input.first_name,
            last_name=input.last_name,
            email=input.email,
            password=input.password,
            role=input.role,
        )
        return await to_payload(OperatorPayload, "operator", Operator.from_row, work)
