"""GDPR: `exportCustomerData` (access and portability) and `eraseCustomer` (the right to be forgotten)."""

from __future__ import annotations

from typing import cast

import strawberry
from strawberry.scalars import JSON

from resolvers import gdpr as gdpr_resolvers
from schema.base import Info, UserError, to_payload
from schema.customers import Customer
from schema.ids import decode_id


@strawberry.type(description="The result of eraseCustomer: the tombstone left behind.")
class EraseCustomerPayload:
    customer: Customer | None = strawberry.field(
        description='The tombstone: "Erased Customer", contact fields null, erasedAt set; null on errors.'
    )
    errors: list[UserError] = strawberry.field(description="Why it did not happen; empty on success.")


@strawberry.type
class Query:
    @strawberry.field(
        description="Everything stored about a customer, as JSON: {exportedAt, customer, requests, chatSessions "
        "(with messages), contracts, notes, auditRecords}. ADMIN, or the customer itself; null when not visible."
    )
    async def export_customer_data(self, info: Info, customer_id: strawberry.ID) -> JSON | None:
        data = await gdpr_resolvers.export_customer_data(info.context, pk=decode_id(customer_id, "Customer"))
        return cast("JSON | None", data)  # JSON is a NewType of object: a dict is one


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Erase a customer's personal data (ADMIN; irreversible): a tombstone remains, request and "
        'message bodies read "[erased]", notes and contract files are deleted, audit details are scrubbed. '
        "Erasing an erased customer is INVALID_TRANSITION."
    )
    async def erase_customer(self, info: Info, id: strawberry.ID) -> EraseCustomerPayload:
        work = gdpr_resolvers.erase_customer(info.context, pk=decode_id(id, "Customer"))
        return await to_payload(EraseCustomerPayload, "customer", Customer.from_row, work)
