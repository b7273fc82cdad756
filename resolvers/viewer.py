"""Who is asking, and the checks every resolver applies (the "Who may do what" table of API.md)."""

from __future__ import annotations

from dataclasses import dataclass

from db.enums import STAFF_ROLES, Role
from resolvers.errors import Forbidden, Unauthenticated


@dataclass(frozen=True)
class Viewer:
    user_id: int
    role: Role
    customer_id: int | None = None  # set for CUSTOMER accounts
    email_verified: bool = True

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles

    def can_see_customer(self, customer_id: int) -> bool:
        return self.is_staff or self.customer_id == customer_id


def require_viewer(viewer: Viewer | None) -> Viewer:
    if viewer is None:
        raise Unauthenticated()
    return viewer


def require_role(viewer: Viewer | None, *roles: Role) -> Viewer:
    """A role that may never run the operation gets a top-level FORBIDDEN."""
    v = require_viewer(viewer)
    if v.role not in roles:
        raise Forbidden()
    return v


def require_staff(viewer: Viewer | None) -> Viewer:
    return require_role(viewer, *STAFF_ROLES)
