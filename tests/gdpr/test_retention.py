"""Retention: `customer-graph purge --older-than …` and the server's own schedule erase customers archived too long."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from db import models
from server import retention
from tests import conftest
from tests.contracts.given import rows
from tests.factories import make_customer


async def archived(app, days_ago: float | None, **fields) -> models.Customer:  # type: ignore[no-untyped-def]
    when = None if days_ago is None else datetime.now(UTC) - timedelta(days=days_ago)
    return await make_customer(app, archived_at=when, **fields)


async def erased_ids(app) -> set[int]:  # type: ignore[no-untyped-def]
    return {c.id for c in await rows(app, models.Customer) if c.erased_at is not None}  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "period"),
    [("365d", timedelta(days=365)), ("52w", timedelta(weeks=52)), ("12h", timedelta(hours=12)), ("30", timedelta(30))],
)
def test_periods(text, period):
    assert retention.parse_period(text) == period


@pytest.mark.parametrize("text", ["", "a year", "-5d", "5y", "1.5d"])
def test_bad_periods(text):
    with pytest.raises(ValueError):
        retention.parse_period(text)


async def test_purge_erases_only_customers_archived_longer_than_the_period(app):
    old = await archived(app, 400, first_name="Octavia", email="octavia@example.com")
    recent = await archived(app, 10)
    live = await archived(app, None)
    shown = io.StringIO()
    result = await retention.purge(
        app.state.sessionmaker,
        app.state.services.storage,
        older_than=timedelta(days=365),
        progress=retention.progress_bar(shown),
    )
    assert (result.due, result.erased, result.skipped, result.failed) == (1, 1, 0, 0)
    assert await erased_ids(app) == {old.id}
    [tomb] = await rows(app, models.Customer, models.Customer.id == old.id)
    assert (tomb.first_name, tomb.email) == ("Erased", None)
    assert recent.id not in await erased_ids(app) and live.id not in await erased_ids(app)
    [record] = await rows(app, models.AuditRecord, models.AuditRecord.action == "customer.erased")
    assert record.actor_label == "system:retention" and record.actor_id is None
    assert shown.getvalue().endswith("[##############################] 1/1 customers\n")
    again = await retention.purge(app.state.sessionmaker, app.state.services.storage, older_than=timedelta(days=365))
    assert (again.due, again.erased) == (0, 0)


async def test_a_dry_run_only_counts(app):
    await archived(app, 400)
    result = await retention.purge(
        app.state.sessionmaker, app.state.services.storage, older_than=timedelta(days=365), dry_run=True
    )
    assert (result.due, result.erased) == (1, 0)
    assert await erased_ids(app) == set()


async def test_a_customer_restored_before_its_turn_is_left_alone(app):
    customer = await archived(app, 400)
    from resolvers import gdpr
    from resolvers.errors import DomainError
    from resolvers.unit_of_work import system_unit_of_work

    async with app.state.sessionmaker() as session, session.begin():
        row = await session.get(models.Customer, customer.id)
        row.archived_at = None  # restored after the purge listed it
    with pytest.raises(DomainError):
        async with system_unit_of_work(app.state.sessionmaker, label="system:retention") as uow:
            await gdpr.erase(
                uow,
                app.state.services.storage,
                customer_id=customer.id,  # type: ignore[arg-type]
                archived_before=datetime.now(UTC) - timedelta(days=365),
            )
    assert await erased_ids(app) == set()


async def test_the_server_runs_the_purge_on_its_schedule(app):
    old = await archived(app, 40)
    settings = conftest.test_settings(retention__archived_days=30, retention__interval_seconds=3600)
    task = asyncio.create_task(retention.run_periodically(app.state, settings, first_delay=0))
    try:
        for _ in range(100):
            if old.id in await erased_ids(app):
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert await erased_ids(app) == {old.id}
    assert retention.start(app.state, conftest.test_settings()) is None  # unset: no schedule


def _cli(args: list[str], database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "STORAGE_LOCAL_PATH": str(tmp_path / "files"),
        "AUTH_JWT_SECRET": "cli-secret-" + "x" * 32,
    }
    exe = Path(sys.executable).with_name("customer-graph")
    return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=120)


async def test_the_purge_command_shows_progress_and_erases(app, database_url, tmp_path):
    first = await archived(app, 800)
    second = await archived(app, 700)
    await archived(app, 5)
    dry = await asyncio.to_thread(_cli, ["purge", "--older-than", "365d", "--dry-run"], database_url, tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "2 customers archived for longer than 365 days would be erased" in dry.stderr
    assert await erased_ids(app) == set()
    done = await asyncio.to_thread(_cli, ["purge", "--older-than", "365d"], database_url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[###############---------------] 1/2 customers" in done.stderr
    assert "erased 2 of 2 customers" in done.stderr
    assert await erased_ids(app) == {first.id, second.id}


async def test_the_purge_command_refuses_a_bad_period(app, database_url, tmp_path):
    bad = await asyncio.to_thread(_cli, ["purge", "--older-than", "one year"], database_url, tmp_path)
    assert bad.returncode == 2
    assert "not a period" in bad.stderr
    none = await asyncio.to_thread(_cli, ["purge"], database_url, tmp_path)
    assert none.returncode == 2
    assert "--older-than" in none.stderr
