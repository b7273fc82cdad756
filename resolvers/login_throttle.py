"""Failed-login throttling with the counters in PostgreSQL (`login_throttle`), so the limit holds across processes.

One row per key: "account:<lower email>" (whether or not the account exists, so the answer reveals nothing) and
"address:<client ip>". A failure increments the key's counter inside a window; reaching the limit locks the key for
the window's length. While a key is locked, a login attempt is refused before any password check. The counter
update is one atomic `INSERT ... ON CONFLICT DO UPDATE`, so concurrent failures from many processes all count.
A successful login clears the account's counter (not the address's: one success must not reset a spray).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.models import LoginThrottle


@dataclass(frozen=True)
class Limit:
    key: str
    max_failures: int


def account_key(email: str) -> str:
    return f"account:{email.strip().lower()[:380]}"


def address_key(address: str) -> str:
    return f"address:{address[:380]}"


async def retry_after(session: AsyncSession, *, keys: Sequence[str]) -> int | None:
    """Seconds until every given key is unlocked; None when none is locked."""
    if not keys:
        return None
    remaining = func.extract("epoch", col(LoginThrottle.locked_until) - func.now())
    stmt = select(func.max(remaining)).where(
        col(LoginThrottle.key).in_(list(keys)), col(LoginThrottle.locked_until) > func.now()
    )
    seconds = await session.scalar(stmt)
    return max(1, math.ceil(float(seconds))) if seconds is not None else None


async def record_failure(session: AsyncSession, *, limits: Sequence[Limit], window_seconds: int) -> int | None:
    """Count one failure against every key; the lock's duration in seconds if any key is now locked."""
    window = timedelta(seconds=window_seconds)
    table = LoginThrottle.__table__  # type: ignore[attr-defined]  # SQLModel sets `__table__` in its metaclass without declaring it
    locked: int | None = None
    for limit in limits:
        expired = table.c.window_started_at < func.now() - window
        failures = case((expired, literal(1)), else_=table.c.failures + 1)
        first_lock = func.now() + window if limit.max_failures <= 1 else None
        stmt = (
            insert(table)
            .values(key=limit.key, failures=1, window_started_at=func.now(), locked_until=first_lock)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "failures": failures,
                    "window_started_at": case((expired, func.now()), else_=table.c.window_started_at),
                    "locked_until": case(
                        (failures >= limit.max_failures, func.now() + window), else_=table.c.locked_until
                    ),
                },
            )
            .returning(table.c.locked_until, func.now())
        )
        row = (await session.execute(stmt)).one()
        if row[0] is not None and row[0] > row[1]:
            locked = window_seconds
    return locked


async def clear(session: AsyncSession, *, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(col(LoginThrottle.key) == key))
