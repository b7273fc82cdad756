"""Factories: rows written with the app's own models and sessions, and tokens from its own issuer."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from db import models
from db.enums import Role

_seq = itertools.count(1)


@dataclass
class Account:
    user: models.User
    token: str

    @property
    def id(self) -> int:
        return self.user.id  # type: ignore[return-value]


async def make_customer(app: Any, **fields: Any) -> models.Customer:
    n = next(_seq)
    values = {"first_name": f"First{n}", "last_name": f"Last{n}", "email": f"customer{n}@example.com"}
    values.update(fields)
    async with app.state.sessionmaker() as session:
        row = models.Customer(**values)
        session.add(row)
        await session.commit()
        return row


async def make_user(app: Any, role: Role | str, *, customer: models.Customer | None = None, **fields: Any) -> Account:
    """A user of `role` with a valid access token (CUSTOMER users get a customer record unless given one)."""
    role = Role(role)
    n = next(_seq)
    if role == Role.CUSTOMER and customer is None:
        customer = await make_customer(app)
    values = {
        "email": f"{role.lower()}{n}@example.com",
        "first_name": f"{role.title()}{n}",
        "last_name": "Tester",
        "role": role.value,
        "email_verified": True,
        "customer_id": customer.id if customer else None,
    }
    values.update(fields)
    async with app.state.sessionmaker() as session:
        user = models.User(**values)
        session.add(user)
        await session.commit()
    token = app.state.services.tokens.issue(subject=str(user.id), role=user.role).token
    return Account(user, token)
