"""Customers. (Skeleton: the domain issue adds queries, mutations and nested connections.)"""

from __future__ import annotations

from datetime import datetime

import strawberry

from db import models
from resolvers import users as users_resolvers
from resolvers.ids import to_global_id
from schema.base import Node
from schema.node import register_node


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
    # --- end of nested fields owned by chat / notes / contracts ---

    @classmethod
    def from_row(cls, row: models.Customer) -> Customer:
        return cls(
            id=strawberry.ID(to_global_id("Customer", row.id)),  # type: ignore[arg-type]
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


@register_node("Customer")
async def load_customer_node(ctx, pk: int) -> Customer | None:  # type: ignore[no-untyped-def]
    row = await users_resolvers.visible_customer(ctx, customer_id=pk)
    return Customer.from_row(row) if row else None
