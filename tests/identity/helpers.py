"""Shared pieces of the identity tests: accounts with known passwords, rows read back for assertions."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from db import models
from db.enums import Role
from integrations.auth.passwords import hash_password
from tests.factories import Account, make_user

PASSWORD = "correct horse battery"
_HASH = hash_password(PASSWORD)


async def make_login(app: Any, role: Role = Role.OPERATOR, **fields: Any) -> Account:
    """A user whose password is PASSWORD."""
    return await make_user(app, role, **{"password_hash": _HASH, **fields})


async def rows(app: Any, model: Any, *where: Any) -> list[Any]:
    async with app.state.sessionmaker() as session:
        order = list(model.__table__.primary_key.columns)
        return list((await session.scalars(select(model).where(*where).order_by(*order))).all())


async def count(app: Any, model: Any, *where: Any) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def audit_actions(app: Any) -> list[str]:
    return [r.action for r in await rows(app, models.AuditRecord)]


def client_from(app: Any, address: str) -> httpx.AsyncClient:
    """An HTTP client whose requests come from `address` (the ASGI scope's client)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, token: str | None = None
):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()
