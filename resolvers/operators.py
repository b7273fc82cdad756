"""Operators: staff users (ADMIN, OPERATOR, SALES) seen as the people who handle requests.

Staff see every operator. A CUSTOMER sees an operator only where one handles (or handled) one of its
own requests — `processedBy` — and `node(id)` follows the same rule; the `operators` list is staff only.
"""

from __future__ import annotations

import anyio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db import models
from db.enums import STAFF_ROLES, Role
from db.loaders import fetch_list
from db.paging import Ordering, Page
from integrations.auth.passwords import hash_password
from resolvers import audit, validators
from resolvers.context import RequestContext
from resolvers.errors import DomainError, ErrorCode, Validation
from resolvers.pagination import page_request
from resolvers.unit_of_work import unit_of_work
from resolvers.viewer import require_role, require_staff, require_viewer

_U = models.User
ORDERING = Ordering("operators.last_name", (col(_U.last_name), col(_U.id)))
STAFF_VALUES = [r.value for r in STAFF_ROLES]
AUDITED_FIELDS = ("first_name", "last_name", "email", "role", "sso_only")


async def list_operators(
    ctx: RequestContext, *, first: int | None = None, after: str | None = None
) -> Page[models.User]:
    """Staff users by last name. Staff only (a CUSTOMER gets a top-level FORBIDDEN)."""
    require_staff(ctx.viewer)
    req = page_request(ORDERING, first=first, after=after)
    stmt = select(_U).where(col(_U.role).in_(STAFF_VALUES))
    return await fetch_list(ctx.loaders, stmt, ORDERING, req, model=_U)


async def visible_operator(ctx: RequestContext, *, pk: int) -> models.User | None:
    viewer = require_viewer(ctx.viewer)
    row: models.User | None = await ctx.loaders.by_id(_U).load(pk)
    if row is None or row.role not in STAFF_VALUES:
        return None
    if viewer.is_staff:
        return row
    r = models.SupportRequest
    stmt = select(col(r.id)).where(col(r.processed_by_id) == pk, col(r.customer_id) == viewer.customer_id).limit(1)
    handles_own = await ctx.loaders.reader.scalar(stmt) is not None
    return row if handles_own else None


async def _email_taken(session: AsyncSession, email: str) -> bool:
    stmt = select(col(_U.id)).where(func.lower(col(_U.email)) == email.lower()).limit(1)
    return (await session.scalars(stmt)).first() is not None


async def create_operator(
    ctx: RequestContext,
    *,
    first_name: str,
    last_name: str,
    email: str,
    password: str | None,
    role: Role | None,
) -> models.User:
    """ADMIN only. No password means the account signs in through SSO only."""
    require_role(ctx.viewer, Role.ADMIN)
    errors = Validation()
    first = validators.name(errors, "firstName", first_name, label="First name")
    last = validators.name(errors, "lastName", last_name, label="Last name")
    address = validators.email(errors, "email", email)
    chosen = Role(role) if role is not None else Role.OPERATOR
    if chosen not in STAFF_ROLES:
        errors.add("role", "An operator's role is ADMIN, OPERATOR or SALES.")
    if password is not None:
        validators.password(errors, "password", password)
    errors.raise_if_any()
    assert first is not None and last is not None and address is not None
    password_hash = await anyio.to_thread.run_sync(hash_password, password) if password is not None else None
    async with unit_of_work(ctx, conflicts={"uq_users_email_lower": _email_conflict()}) as uow:
        if await _email_taken(uow.session, address):
            raise _email_conflict()
        row = models.User(
            email=address,
            first_name=first,
            last_name=last,
            role=chosen.value,
            password_hash=password_hash,
            # An ADMIN vouches for a staff address; staff may sign in straight away.
            email_verified=True,
        )
        uow.session.add(row)
        await uow.session.flush()
        after = {
            "first_name": row.first_name,
            "last_name": row.last_name,
            "email": row.email,
            "role": row.role,
            "sso_only": password_hash is None,
        }
        uow.audit(
            action="operator.created",
            entity="Operator",
            entity_id=row.id,
            details={"changes": audit.changes({}, after, AUDITED_FIELDS)},
        )
        uow.prime(_U, row)
    return row


def _email_conflict() -> DomainError:
    return DomainError.one(ErrorCode.CONFLICT, "A user with this email already exists.", ["email"])
