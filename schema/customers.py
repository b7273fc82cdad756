"""Customers: the type with its nested requests, the list with search and orderings, lookups, mutations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import strawberry

from db import models
from resolvers import customers as customers_resolvers
from resolvers import requests as requests_resolvers
from resolvers import users as users_resolvers
from resolvers.context import RequestContext
from schema import chat as chat_schema  # nested fields owned by chat / notes / contracts
from schema import contracts as contracts_schema
from schema import notes as notes_schema
from schema.base import Info, Node, UserError, to_payload
from schema.enums import OrderDirection, RequestStatus
from schema.ids import decode_id, to_global_id
from schema.pagination import Connection
from schema.requests import Request, RequestConnection

PageSize = Annotated[int | None, strawberry.argument(description="Page size from the start: 0-50 (default 20).")]
After = Annotated[str | None, strawberry.argument(description="Cursor: items after this one.")]


@strawberry.type(description="A customer record.")
class Customer(Node):
    first_name: str = strawberry.field(description="First name (1-100 characters).")
    last_name: str = strawberry.field(description="Last name (1-100 characters).")
    email: str | None = strawberry.field(description="Email, unique among live customers.")
    phone: str | None = strawberry.field(description="Phone in E.164 form.")
    company: str | None = strawberry.field(description="Company name.")
    created_at: datetime = strawberry.field(description="When the record was created.")
    updated_at: datetime = strawberry.field(description="When the record last changed.")
    archived_at: datetime | None = strawberry.field(description="Set while archived (soft-deleted).")
    erased_at: datetime | None = strawberry.field(description="Set once erased under GDPR.")
    version: int = strawberry.field(description="Optimistic-concurrency version; pass as expectedVersion.")
    _row: strawberry.Private[models.Customer]

    # --- nested fields owned by chat / notes / contracts (schema/chat.py, notes.py, contracts.py) ---
    chat_sessions = strawberry.field(
        resolver=chat_schema.customer_chat_sessions,
        description="The customer's chat sessions, newest first (one statement for a whole page of customers).",
    )
    notes = strawberry.field(
        resolver=notes_schema.customer_notes,
        description="Internal notes, newest first. Staff only: null with a FORBIDDEN error for customers.",
    )
    contracts = strawberry.field(
        resolver=contracts_schema.customer_contracts,
        description="The customer's contracts, newest first.",
    )
    # --- end of nested fields owned by chat / notes / contracts ---

    @strawberry.field(description="The customer's support requests, oldest first (batched over a page of customers).")
    async def requests(
        self,
        info: Info,
        status: Annotated[RequestStatus | None, strawberry.argument(description="Only this status.")] = None,
        include_archived: Annotated[
            bool | None, strawberry.argument(description="Include archived requests (left out by default).")
        ] = False,
        first: PageSize = None,
        after: After = None,
    ) -> RequestConnection:
        page = await requests_resolvers.requests_of_customer(
            info.context,
            customer=self._row,
            status=status,
            include_archived=bool(include_archived),
            first=first,
            after=after,
        )
        return RequestConnection.from_page(page, Request.from_row)

    @strawberry.field(description="How many of the customer's requests are PENDING or IN_PROGRESS (archived excluded).")
    async def open_request_count(self, info: Info) -> int:
        return await customers_resolvers.open_request_count(info.context, customer=self._row)

    @classmethod
    def from_row(cls, row: models.Customer) -> Customer:
        return cls(
            id=strawberry.ID(to_global_id("Customer", row.id)),
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            phone=row.phone,
            company=row.company,
            created_at=row.created_at,
            updated_at=row.updated_at,
            archived_at=row.archived_at,
            erased_at=row.erased_at,
            version=row.version,
            _row=row,
        )


async def load_customer_node(ctx: RequestContext, pk: int) -> Customer | None:
    row = await users_resolvers.visible_customer(ctx, customer_id=pk)
    return Customer.from_row(row) if row else None


@strawberry.type(description="A page of customers.")
class CustomerConnection(Connection[Customer]):
    pass


@strawberry.enum(description="What customers can be sorted by.")
class CustomerOrderField(StrEnum):
    CREATED_AT = "CREATED_AT"
    LAST_NAME = "LAST_NAME"


@strawberry.input(description="How to sort customers; ties are broken by creation order.")
class CustomerOrder:
    field: CustomerOrderField = strawberry.field(description="The sort key.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description="Ascending or descending.")


@strawberry.input(description="Which customers to list; all conditions must hold.")
class CustomerFilter:
    search: str | None = strawberry.field(
        default=None,
        description="Case-insensitive substring of first name, last name, full name, email or phone "
        "(a phone-looking term also matches the stored E.164 digits).",
    )
    include_archived: bool | None = strawberry.field(
        default=False, description="Include archived customers (left out by default)."
    )
    created_after: datetime | None = strawberry.field(default=None, description="Created at or after this time.")
    created_before: datetime | None = strawberry.field(default=None, description="Created before this time.")


@strawberry.input(description="A new customer.")
class CreateCustomerInput:
    first_name: str = strawberry.field(description="First name (1-100 characters after trimming).")
    last_name: str = strawberry.field(description="Last name (1-100 characters after trimming).")
    email: str | None = strawberry.field(default=None, description="Email, unique among live customers.")
    phone: str | None = strawberry.field(
        default=None, description="Phone: with +country code, or a UK number; stored as E.164."
    )
    company: str | None = strawberry.field(default=None, description="Company name (up to 200 characters).")


@strawberry.input(description="Changes to a customer: a field left out stays as it is, null clears it.")
class UpdateCustomerInput:
    id: strawberry.ID = strawberry.field(description="The customer.")
    expected_version: int | None = strawberry.field(
        default=strawberry.UNSET, description="The version you read; a newer one makes the update a CONFLICT."
    )
    first_name: str | None = strawberry.field(default=strawberry.UNSET, description="New first name.")
    last_name: str | None = strawberry.field(default=strawberry.UNSET, description="New last name.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="New email; null clears it.")
    phone: str | None = strawberry.field(default=strawberry.UNSET, description="New phone; null clears it.")
    company: str | None = strawberry.field(default=strawberry.UNSET, description="New company; null clears it.")


@strawberry.type(description="The result of a customer mutation.")
class CustomerPayload:
    customer: Customer | None = strawberry.field(description="The customer after the change; null on errors.")
    errors: list[UserError] = strawberry.field(description="Why the change did not happen; empty on success.")


def _given(value: Any) -> bool:
    return value is not strawberry.UNSET


@strawberry.type
class Query:
    @strawberry.field(description="Customers (a CUSTOMER sees only itself); archived ones only on request.")
    async def customers(
        self,
        info: Info,
        filter: CustomerFilter | None = None,
        order_by: Annotated[
            CustomerOrder | None, strawberry.argument(description="Sort order (default: CREATED_AT ASC).")
        ] = None,
        first: PageSize = None,
        after: After = None,
        last: Annotated[int | None, strawberry.argument(description="Page size from the end: 0-50.")] = None,
        before: Annotated[str | None, strawberry.argument(description="Cursor: items before this one.")] = None,
    ) -> CustomerConnection:
        f = filter or CustomerFilter()
        order = order_by or CustomerOrder(field=CustomerOrderField.CREATED_AT)
        page = await customers_resolvers.list_customers(
            info.context,
            search=f.search,
            include_archived=bool(f.include_archived),
            created_after=f.created_after,
            created_before=f.created_before,
            order_field=order.field.value,
            descending=order.direction == OrderDirection.DESC,
            first=first,
            after=after,
            last=last,
            before=before,
        )
        return CustomerConnection.from_page(page, Customer.from_row)

    @strawberry.field(description="One customer by ID (archived ones too); null when absent or not visible.")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        row = await customers_resolvers.get_customer(info.context, pk=decode_id(id, "Customer"))
        return Customer.from_row(row) if row else None

    @strawberry.field(description="The live customer with this email (case-insensitive); null when none is visible.")
    async def customer_by_email(self, info: Info, email: str) -> Customer | None:
        row = await customers_resolvers.customer_by_email(info.context, email=email)
        return Customer.from_row(row) if row else None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a customer (ADMIN, SALES); the sales list is notified by email.")
    async def create_customer(self, info: Info, input: CreateCustomerInput) -> CustomerPayload:
        values = {
            "first_name": input.first_name,
            "last_name": input.last_name,
            "email": input.email,
            "phone": input.phone,
            "company": input.company,
        }
        work = customers_resolvers.create_customer(info.context, values=values)
        return await to_payload(CustomerPayload, "customer", Customer.from_row, work)

    @strawberry.mutation(
        description="Change a customer (ADMIN, SALES; a CUSTOMER its own name and phone). "
        "A stale `expectedVersion` is a CONFLICT."
    )
    async def update_customer(self, info: Info, input: UpdateCustomerInput) -> CustomerPayload:
        values = {
            name: getattr(input, name)
            for name in ("first_name", "last_name", "email", "phone", "company")
            if _given(getattr(input, name))
        }
        expected = input.expected_version if _given(input.expected_version) else None
        work = customers_resolvers.update_customer(
            info.context, pk=decode_id(input.id, "Customer"), expected_version=expected, values=values
        )
        return await to_payload(CustomerPayload, "customer", Customer.from_row, work)

    @strawberry.mutation(description="Archive (soft-delete) a customer (ADMIN, SALES).")
    async def archive_customer(self, info: Info, id: strawberry.ID) -> CustomerPayload:
        work = customers_resolvers.archive_customer(info.context, pk=decode_id(id, "Customer"))
        return await to_payload(CustomerPayload, "customer", Customer.from_row, work)

    @strawberry.mutation(description="Bring an archived customer back (ADMIN, SALES).")
    async def restore_customer(self, info: Info, id: strawberry.ID) -> CustomerPayload:
        work = customers_resolvers.restore_customer(info.context, pk=decode_id(id, "Customer"))
        return await to_payload(CustomerPayload, "customer", Customer.from_row, work)
