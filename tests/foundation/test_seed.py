"""Demo data loads once and hangs together; the bulk generator adds consistent rows at any size, repeatedly."""

import asyncio

import pytest

from integrations.auth.passwords import verify_password
from server import migrate
from server.seed import DEMO_PASSWORD, seed_bulk, seed_demo_once
from tests.foundation.conftest import run_sql

CONSISTENCY = """
SELECT count(*) FROM chat_sessions s
WHERE s.message_count <> (SELECT count(*) FROM chat_messages m WHERE m.session_id = s.id)
   OR s.last_message_at IS DISTINCT FROM (SELECT max(created_at) FROM chat_messages m WHERE m.session_id = s.id)
"""
COUNTS = {
    table: f"SELECT count(*) FROM {table}"
    for table in ("users", "customers", "requests", "chat_sessions", "chat_messages", "notes", "audit_records")
}


def _query(url: str, sql: str):
    return run_sql(url, sql)


def _counts(url: str) -> dict[str, int]:
    return {table: _query(url, sql)[0][0] for table, sql in COUNTS.items()}


@pytest.fixture
def migrated(scratch_database) -> str:
    url = scratch_database()
    migrate.upgrade(url)
    return url


def test_demo_data_loads_once(migrated):
    logins = seed_demo_once(migrated)
    assert {(email, role) for email, role, _ in logins} == {
        ("admin@demo.local", "ADMIN"),
        ("operator@demo.local", "OPERATOR"),
        ("sales@demo.local", "SALES"),
        ("customer@demo.local", "CUSTOMER"),
    }
    assert {password for _, _, password in logins} == {DEMO_PASSWORD}
    assert len(DEMO_PASSWORD) >= 10
    before = _counts(migrated)

    assert seed_demo_once(migrated) == []
    assert _counts(migrated) == before


def test_demo_data_hangs_together(migrated):
    seed_demo_once(migrated)
    counts = _counts(migrated)
    assert counts["customers"] >= 10 and counts["chat_messages"] > 0 and counts["notes"] > 0
    assert _query(migrated, CONSISTENCY)[0][0] == 0

    (ed,) = _query(migrated, "SELECT phone FROM customers WHERE first_name = 'Ed' AND last_name = 'Stark'")
    assert ed["phone"] == "+442083661171"

    for row in _query(migrated, "SELECT email, password_hash FROM users"):
        assert verify_password(DEMO_PASSWORD, row["password_hash"]), row["email"]
    (account,) = _query(
        migrated,
        "SELECT u.email_verified, c.email FROM users u JOIN customers c ON c.id = u.customer_id "
        "WHERE u.role = 'CUSTOMER'",
    )
    assert account["email_verified"] and account["email"] == "customer@demo.local"

    statuses = {
        row["status"]: row
        for row in _query(
            migrated,
            "SELECT status, count(*) AS n, count(processed_by_id) AS processed, count(resolution_comment) AS commented "
            "FROM requests GROUP BY status",
        )
    }
    assert set(statuses) == {"PENDING", "IN_PROGRESS", "COMPLETED", "REJECTED"}
    assert statuses["PENDING"]["processed"] == 0
    for status in ("IN_PROGRESS", "COMPLETED", "REJECTED"):
        assert statuses[status]["processed"] == statuses[status]["n"]
    for status in ("COMPLETED", "REJECTED"):
        assert statuses[status]["commented"] == statuses[status]["n"]
    assert _query(migrated, "SELECT count(*) FROM audit_records WHERE action = 'system.seeded'")[0][0] == 1


def test_bulk_seed_adds_consistent_rows_and_can_run_again(migrated):
    seed_demo_once(migrated)
    before = _counts(migrated)
    lines: list[str] = []

    result = seed_bulk(migrated, customers=23, chunk=10, progress=lines.append)
    seed_bulk(migrated, customers=7, progress=lines.append)

    after = _counts(migrated)
    assert after["customers"] - before["customers"] == 30
    assert after["requests"] - before["requests"] == 150
    assert after["chat_sessions"] - before["chat_sessions"] == 60
    assert after["chat_messages"] - before["chat_messages"] == 600
    assert after["users"] == before["users"]  # the demo's staff process the requests
    assert result["customers"] == 23 and result["chat_messages"] == 460
    assert any("23/23 customers" in line for line in lines) and any("10/23" in line for line in lines)

    assert _query(migrated, CONSISTENCY)[0][0] == 0
    assert _query(migrated, "SELECT count(email) - count(DISTINCT lower(email)) FROM customers")[0][0] == 0
    unprocessed = _query(
        migrated,
        "SELECT count(*) FROM requests r LEFT JOIN users u ON u.id = r.processed_by_id "
        "WHERE r.status <> 'PENDING' AND u.role NOT IN ('ADMIN', 'OPERATOR')",
    )
    assert unprocessed[0][0] == 0
    orphans = "SELECT count(*) FROM requests WHERE status <> 'PENDING' AND processed_by_id IS NULL"
    assert _query(migrated, orphans)[0][0] == 0


def test_bulk_seed_on_an_empty_database_creates_its_operators(migrated):
    seed_bulk(migrated, customers=5, progress=lambda line: None)
    roles = _query(migrated, "SELECT role, count(*) AS n FROM users GROUP BY role")
    assert [(row["role"], row["n"]) for row in roles] == [("OPERATOR", 5)]
    assert _query(migrated, "SELECT count(*) FROM requests")[0][0] == 25


def test_seeding_refuses_a_running_event_loop(migrated):
    async def inside() -> None:
        seed_demo_once(migrated)

    with pytest.raises(RuntimeError, match="own event loop"):
        asyncio.run(inside())
