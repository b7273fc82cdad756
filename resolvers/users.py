"""Users: `me`, which users and customers a viewer may see, and account lookups by email."""

from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db import models
from resolvers.context import RequestContext


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
