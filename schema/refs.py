"""Customer and Operator for the domains that point back at them, without importing their modules.

schema/customers.py imports chat, notes, contracts and requests to nest their connections under Customer, and
schema/operators.py imports requests for Operator.assignedRequests. The fields pointing back (ChatSession.customer,
Request.processedBy, ...) name the type through `strawberry.lazy`, which strawberry resolves when the schema is
built, and build a value with the function below that the owning module provides when it is imported. So imports
at start-up point one way (tests/test_architecture.py fails on a cycle); schema/root.py imports every domain
before the schema exists, so no request can come before a function is provided.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Generic, TypeVar

import strawberry

from db import models

if TYPE_CHECKING:
    from schema.customers import Customer
    from schema.operators import Operator

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]
OperatorRef = Annotated["Operator", strawberry.lazy("schema.operators")]

RowT = TypeVar("RowT")
TypeT = TypeVar("TypeT")


class FromRow(Generic[RowT, TypeT]):
    """`Type.from_row` of a type defined in a module that may not be imported from here."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        self._from_row: Callable[[RowT], TypeT] | None = None

    def provide(self, from_row: Callable[[RowT], TypeT]) -> None:
        self._from_row = from_row

    def __call__(self, row: RowT) -> TypeT:
        if self._from_row is None:
            raise RuntimeError(f"{self.type_name} has no from_row yet: build the schema with schema.root")
        return self._from_row(row)


customer_from_row: FromRow[models.Customer, Customer] = FromRow("Customer")  # provided by schema/customers.py
operator_from_row: FromRow[models.User, Operator] = FromRow("Operator")  # provided by schema/operators.py
