"""Foundation fixtures: scratch databases on the session's PostgreSQL server, and a clean environment for
running the `customer-graph` command in a subprocess."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

_SCRIPT = Path(sys.executable).parent / "customer-graph"
# The installed console script, as a user runs it (or the module, where the script is not installed).
CUSTOMER_GRAPH = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "server.cli"]
SETTING_PREFIXES = ("APP_", "DATABASE_", "AUTH_", "STORAGE_", "EMAIL_", "OUTBOX_", "AI_", "LIMITS_")


async def _fetch(url: str, sql: str) -> list[asyncpg.Record]:
    u = make_url(url)
    conn = await asyncpg.connect(
        user=u.username,
        password=u.password or None,
        host=u.host or u.query.get("host"),
        port=u.port,
        database=u.database,
    )
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def run_sql(url: str, sql: str) -> list[asyncpg.Record]:
    """Run one statement on its own connection (from synchronous test code); return its rows."""
    return asyncio.run(_fetch(url, sql))


@pytest.fixture
def scratch_database(server_url: str) -> Iterator[Callable[[], str]]:
    """Make empty databases (no migrations applied) on the session's server; all dropped afterwards."""
    made: list[str] = []

    def make() -> str:
        name = f"cg_scratch_{uuid.uuid4().hex[:10]}"
        run_sql(server_url, f'CREATE DATABASE "{name}"')
        made.append(name)
        return make_url(server_url).set(database=name).render_as_string(hide_password=False)

    yield make
    for name in made:
        run_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment without any of our settings: what a fresh shell on a new machine has."""
    return {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port_url() -> str:
    """A PostgreSQL URL nobody listens on (a port just released on 127.0.0.1)."""
    return f"postgresql://nobody:secret@127.0.0.1:{free_port()}/nothing"
