"""Retention: customers archived for longer than a period are erased (GDPR storage limitation).

- `customer-graph purge --older-than 365d` erases, once, every customer archived before that cutoff (progress bar on
  stderr; `--dry-run` only counts).
- With `RETENTION_ARCHIVED_DAYS` set, every server process also runs the purge itself every
  `RETENTION_INTERVAL_SECONDS` (first run a minute after start-up). Several processes may do so safely: each erasure
  locks its customer row and a customer erased meanwhile is skipped.

Each customer is erased in its own unit of work by the system actor `system:retention`, through the same code as
`eraseCustomer` (resolvers/gdpr.py), and only if it is still archived before the cutoff when its row is locked (a
customer restored meanwhile is left alone).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from sqlalchemy import select
from sqlmodel import col

from db import models
from db.engine import create_engine, create_sessionmaker
from integrations.storage import Storage, storage_from_settings
from resolvers import gdpr
from resolvers.errors import DomainError, ErrorCode
from resolvers.unit_of_work import system_unit_of_work
from server.settings import get_settings

log = logging.getLogger("customer_graph.retention")
ACTOR = "system:retention"
_PERIOD = re.compile(r"^\s*(\d+)\s*([dwhm]?)\s*$", re.I)
_UNITS = {"": "days", "d": "days", "w": "weeks", "h": "hours", "m": "minutes"}


def parse_period(text: str) -> timedelta:
    """ "365d", "52w", "12h", "30m" or a plain number of days."""
    match = _PERIOD.match(text or "")
    if not match:
        raise ValueError(f"not a period: {text!r} (use e.g. 365d, 52w, 12h)")
    return timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})


def describe(period: timedelta) -> str:
    if period % timedelta(days=1) == timedelta(0):
        return f"{period.days} days"
    return f"{int(period.total_seconds() // 60)} minutes"


@dataclass
class PurgeResult:
    due: int = 0
    erased: int = 0
    skipped: int = 0
    failed: int = 0


async def due_customers(sessionmaker: Any, *, cutoff: datetime) -> list[int]:
    C = models.Customer
    stmt = (
        select(col(C.id))
        .where(col(C.archived_at) < cutoff, col(C.erased_at).is_(None))
        .order_by(col(C.archived_at), col(C.id))
    )
    async with sessionmaker() as session:
        return list((await session.scalars(stmt)).all())


async def purge(
    sessionmaker: Any,
    store: Storage,
    *,
    older_than: timedelta,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    retry_after: int = 30,
) -> PurgeResult:
    cutoff = datetime.now(UTC) - older_than
    ids = await due_customers(sessionmaker, cutoff=cutoff)
    result = PurgeResult(due=len(ids))
    if dry_run:
        return result
    if progress:
        progress(0, len(ids))
    for n, pk in enumerate(ids, start=1):
        try:
            async with system_unit_of_work(sessionmaker, label=ACTOR) as uow:
                await gdpr.erase(uow, store, customer_id=pk, retry_after=retry_after, archived_before=cutoff)
            result.erased += 1
        except DomainError as error:
            codes = {p.code for p in error.problems}
            if codes & {ErrorCode.STORAGE_UNAVAILABLE}:
                result.failed += 1
            else:  # erased or restored meanwhile, or gone
                result.skipped += 1
        except Exception:
            result.failed += 1
            log.exception("retention: erasing a customer failed", extra={"customer_id": pk})
        if progress:
            progress(n, len(ids))
    log.info(
        "retention purge",
        extra={"due": result.due, "erased": result.erased, "skipped": result.skipped, "failed": result.failed},
    )
    return result


def progress_bar(stream: TextIO = sys.stderr, width: int = 30) -> Callable[[int, int], None]:
    """A one-line text progress bar: `[#########-----]  60/100 customers`."""

    def show(done: int, total: int) -> None:
        filled = width if total == 0 else int(width * done / total)
        end = "\n" if done >= total else ""
        stream.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {done:>{len(str(total))}}/{total} customers{end}")
        stream.flush()

    return show


async def run_periodically(state: Any, settings: Any, *, first_delay: float = 60.0) -> None:
    """The server's own schedule (RETENTION_ARCHIVED_DAYS set): purge now and then until cancelled."""
    retention = settings.retention
    await asyncio.sleep(first_delay)
    while True:
        try:
            await purge(
                state.sessionmaker,
                state.services.storage,
                older_than=timedelta(days=retention.archived_days),
                retry_after=settings.storage.retry_after_seconds,
            )
        except Exception:  # the database may be down: try again next time
            log.warning("retention purge could not run", exc_info=True)
        await asyncio.sleep(retention.interval_seconds)


def run_purge_command(url: str, *, older_than: str | None, dry_run: bool, stream: TextIO = sys.stderr) -> int:
    """`customer-graph purge`: erase every customer archived longer than `older_than` (or RETENTION_ARCHIVED_DAYS)."""
    settings = get_settings()
    if older_than is None:
        if not settings.retention.archived_days:
            raise ValueError("give --older-than (e.g. 365d) or set RETENTION_ARCHIVED_DAYS")
        period = timedelta(days=settings.retention.archived_days)
    else:
        period = parse_period(older_than)

    async def run() -> PurgeResult:
        engine = create_engine(url, pool_size=2, max_overflow=0)
        try:
            return await purge(
                create_sessionmaker(engine),
                storage_from_settings(settings.storage),
                older_than=period,
                dry_run=dry_run,
                progress=None if dry_run else progress_bar(stream),
                retry_after=settings.storage.retry_after_seconds,
            )
        finally:
            await engine.dispose()

    result = asyncio.run(run())
    if dry_run:
        print(f"{result.due} customers archived for longer than {describe(period)} would be erased", file=stream)
        return 0
    print(
        f"erased {result.erased} of {result.due} customers archived for longer than {describe(period)}"
        f" (skipped {result.skipped}, failed {result.failed})",
        file=stream,
    )
    return 1 if result.failed else 0


def start(state: Any, settings: Any) -> asyncio.Task[None] | None:
    """Start the periodic purge in this process when RETENTION_ARCHIVED_DAYS is set (called by the app's lifespan)."""
    if not settings.retention.archived_days:
        return None
    return asyncio.get_running_loop().create_task(run_periodically(state, settings), name="retention-purge")
