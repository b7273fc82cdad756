"""Users: `me`, and which users and customers a viewer may see."""

from __future__ import annotations

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
