"""Authentication: who the bearer of a token is. (Skeleton: the identity issue adds login, signup, SSO.)"""

from __future__ import annotations

from typing import Any

from db import models
from db.enums import Role
from db.loaders import Loaders
from resolvers.errors import Unauthenticated
from resolvers.viewer import Viewer


async def viewer_from_authorization(header: str | None, *, services: Any, loaders: Loaders) -> Viewer | None:
    """None for no header; the viewer for a valid bearer token; raises Unauthenticated otherwise."""
    if header is None or header == "":
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'.")
    from integrations.auth.tokens import TokenError

    try:
        claims = services.tokens.verify(token.strip())
    except TokenError:
        raise Unauthenticated("Invalid or expired token.")
    sub = str(claims.get("sub", ""))
    if not sub.isdigit():
        raise Unauthenticated("Invalid or expired token.")
    user = await loaders.by_id(models.User).load(int(sub))
    if user is None or not user.is_active:
        raise Unauthenticated("Invalid or expired token.")
    return Viewer(
        user_id=user.id, role=Role(user.role), customer_id=user.customer_id, email_verified=user.email_verified
    )
