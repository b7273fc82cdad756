"""The SQL expressions behind the compiled path's global IDs and DateTimes give, for values the differential test's
small world does not reach (ids of every length up to a bigint's, timestamps at the edges), the resolver path's
strings exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from compiled import sqltext as q
from schema.ids import to_global_id
from tests.conftest import _asyncpg_dsn

IDS = [1, 9, 10, 99, 100, 999, 1000, 12345, 123456, 1234567, 2**31 - 1, 2**31, 10**12 + 7, 2**63 - 1]
TYPES = ["Customer", "Request", "Operator", "ChatSession", "ChatMessage", "Note", "User", "Contract", "AuditRecord"]
TIMES = [
    datetime(2026, 12, 2, 15, 4, 5, tzinfo=UTC),
    datetime(2026, 12, 2, 15, 4, 5, 1, tzinfo=UTC),
    datetime(2026, 12, 2, 15, 4, 5, 100000, tzinfo=UTC),
    datetime(2026, 12, 2, 15, 4, 5, 999999, tzinfo=UTC),
    datetime(2000, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),  # (asyncpg sends datetime.min and .max as -infinity and infinity)
    datetime(9999, 12, 31, 23, 59, 58, 999999, tzinfo=UTC),
]


@pytest.fixture
async def conn(database_url: str):
    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    yield connection
    await connection.close()


@pytest.mark.parametrize("type_name", TYPES)
async def test_global_ids_in_sql_are_the_resolver_paths(conn, type_name):
    # given ids of every length, as a table's id column
    rows = ", ".join(f"({i}::bigint)" for i in IDS)
    # when PostgreSQL builds their global IDs with the compiled path's expression
    found = await conn.fetch(f"SELECT {q.global_id(type_name, 't')} FROM (VALUES {rows}) AS t(id)")
    # then they are the resolver path's, one for one
    assert [r[0] for r in found] == [to_global_id(type_name, i) for i in IDS]


async def test_datetimes_in_sql_are_pythons_isoformat(conn):
    # given timestamps with and without microseconds, at the edges of the calendar
    found = [await conn.fetchval(f"SELECT {q.iso('$1::timestamptz')}", at) for at in TIMES]
    # then each is the resolver path's `isoformat()`, and NULL stays NULL
    assert found == [at.isoformat() for at in TIMES]
    assert await conn.fetchval(f"SELECT {q.iso('NULL::timestamptz')}") is None
