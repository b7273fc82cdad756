"""Customer and Operator for the domains that point back at them, without importing their modules.

schema/customers.py imports chat, notes, contracts and requests to nest their connections under Customer, and
schema/operators.py imports requests for Operator.assignedRequests. The fields pointing back (ChatSession.customer,
Request.processedBy, ...) name the type through `strawberry.lazy`, which strawberry resolves when the schema is
built, and build a value with the functions below, which find the class the same way, by module and name, when the
first request needs it (by then every domain is imported). So imports at start-up point one way, and
tests/test_architecture.py, which reads the lazy references as edges, fails on a cycle.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, get_args

import strawberry

from db import models

if TYPE_CHECKING:
    from schema.customers import Customer
    from schema.operators import Operator

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]
OperatorRef = Annotated["Operator", strawberry.lazy("schema.operators")]


@cache
def _resolve(ref: Any) -> Any:
    """The class a `Annotated["Name", strawberry.lazy("module")]` names (strawberry's LazyType does the lookup)."""
    name, lazy = get_args(ref)
    return lazy.resolve_forward_ref(name).resolve_type()


def customer_from_row(row: models.Customer) -> Customer:
    customer: type[Customer] = _resolve(CustomerRef)
    return customer.from_row(row)


def operator_from_row(row: models.User) -> Operator:
    operator: type[Operator] = _resolve(OperatorRef)
    return operator.from_row(row)
