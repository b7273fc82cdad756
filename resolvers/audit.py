"""Audit helpers kept for existing imports; audit rows are built only by the unit of work (`uow.audit`)."""

from __future__ import annotations

from resolvers.unit_of_work import SECRET_KEYS, changes

__all__ = ["SECRET_KEYS", "changes"]
