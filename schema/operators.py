"""Operators: staff users seen as the people who handle requests. (Skeleton for the domain issue.)"""

from __future__ import annotations

import strawberry

from db import models
from resolvers.ids import to_global_id
from schema.base import Node
from schema.enums import Role


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
            id=strawberry.ID(to_global_id("Operator", row.id)),  # type: ignore[arg-type]
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            role=row.role,  # type: ignore[arg-type]
            _row=row,
        )
