"""Users: `me`, which users and customers a viewer may see, and the rules for account fields."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db import models
from integrations.auth import passwords
from resolvers.context import RequestContext
from resolvers.errors import Validation


async def me(ctx: RequestContext) -> models.User | None:
    if ctx.viewer is None:
        return None
    return await ctx.loaders.by_id(models.User).load(ctx.viewer.user_id)


async def visible_user(ctx: RequestContext, *, user_id: int) -> models.User | None:
    """Staff see every user; a customer sees only itself."""
    viewer = ctx.viewer
    if viewer is None or (not viewer.is_staff and viewer.user_id != user_id):
        return None
    return await ctx.loaders.by_id(models.User).load(user_id)


async def visible_customer(ctx: RequestContext, *, customer_id: int) -> models.Customer | None:
    """Staff see every customer; a customer sees only its own record."""
    viewer = ctx.viewer
    if viewer is None or not viewer.can_see_customer(customer_id):
        return None
    return await ctx.loaders.by_id(models.Customer).load(customer_id)


# --- account validation, shared by signup, create-admin and (if they wish) the operator domain ---

NAME_MAX = 100
EMAIL_MAX = 320


def normalize_email(value: str | None) -> str | None:
    """The normalized address (domain lower-cased, IDN handled), or None when it is not a valid address."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > EMAIL_MAX:
        return None
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized if len(result.normalized) <= EMAIL_MAX else None


def clean_name(value: str | None) -> str | None:
    """The trimmed name when it is 1-100 characters, else None."""
    if not isinstance(value, str):
        return None
    trimmed = value.strip()
    return trimmed if 1 <= len(trimmed) <= NAME_MAX else None


def password_problem(password: str | None) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if not isinstance(password, str) or len(password) < passwords.MIN_LENGTH:
        return f"Password must be at least {passwords.MIN_LENGTH} characters."
    if len(password) > passwords.MAX_LENGTH:
        return f"Password must be at most {passwords.MAX_LENGTH} characters."
    return None


def validate_account(
    v: Validation, *, email: str | None, password: str | None, first_name: str | None, last_name: str | None
) -> tuple[str, str, str]:
    """Adds every problem to `v`; returns (email, first name, last name) normalized (meaningful when no problems)."""
    normalized = normalize_email(email)
    if normalized is None:
        v.add("email", "Enter a valid email address.")
    problem = password_problem(password)
    if problem:
        v.add("password", problem)
    first, last = clean_name(first_name), clean_name(last_name)
    if first is None:
        v.add("firstName", f"First name must be 1-{NAME_MAX} characters.")
    if last is None:
        v.add("lastName", f"Last name must be 1-{NAME_MAX} characters.")
    return normalized or "", first or "", last or ""


async def user_by_email(session: AsyncSession, *, email: str) -> models.User | None:
    stmt = select(models.User).where(func.lower(col(models.User.email)) == email.strip().lower())
    return (await session.scalars(stmt)).first()


async def email_taken(session: AsyncSession, *, email: str) -> bool:
    """Whether a user or a live (not erased) customer already has this address, case-insensitively."""
    lowered = email.strip().lower()
    user = select(col(models.User.id)).where(func.lower(col(models.User.email)) == lowered)
    customer = select(col(models.Customer.id)).where(
        func.lower(col(models.Customer.email)) == lowered, col(models.Customer.erased_at).is_(None)
    )
    found = await session.scalar(select(exists(user.union_all(customer).subquery().select())))
    return bool(found)
