"""User accounts and `me`."""

from __future__ import annotations

import strawberry

from db import models
from db.enums import STAFF_ROLES
from resolvers import users as users_resolvers
from resolvers.context import RequestContext
from schema.base import Info, Node
from schema.enums import Role
from schema.ids import to_global_id
from schema.operators import Operator
from schema.refs import CustomerRef, customer_from_row


@strawberry.type(description="A login: staff (ADMIN, OPERATOR, SALES) or a customer's own account.")
class User(Node):
    email: str = strawberry.field(description="Login email.")
    first_name: str = strawberry.field(description="First name.")
    last_name: str = strawberry.field(description="Last name.")
    role: Role = strawberry.field(description="The user's role.")
    email_verified: bool = strawberry.field(description="Whether the email address was confirmed.")
    _row: strawberry.Private[models.User]

    @classmethod
    def from_row(cls, row: models.User) -> User:
        return cls(
            id=strawberry.ID(to_global_id("User", row.id)),
            email=row.email,
            first_name=row.first_name,
            last_name=row.last_name,
            role=row.role,  # type: ignore[arg-type]  # the row holds the role's text; strawberry serialises text and member alike
            email_verified=row.email_verified,
            _row=row,
        )

    @strawberry.field(description="The customer record of a CUSTOMER account; null for staff.")
    async def customer(self, info: Info) -> CustomerRef | None:
        if self._row.customer_id is None:
            return None
        row = await users_resolvers.visible_customer(info.context, customer_id=self._row.customer_id)
        return customer_from_row(row) if row else None

    @strawberry.field(description="The staff user as an Operator; null for customers.")
    async def operator(self, info: Info) -> Operator | None:
        if self._row.role not in STAFF_ROLES:
            return None
        return Operator.from_row(self._row)


async def load_user_node(ctx: RequestContext, pk: int) -> User | None:
    row = await users_resolvers.visible_user(ctx, user_id=pk)
    return User.from_row(row) if row else None


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in user; null for anonymous callers.")
    async def me(self, info: Info) -> User | None:
        row = await users_resolvers.me(info.context)
        return User.from_row(row) if row else None
