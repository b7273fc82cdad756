"""A mutation is one unit of work: when it fails after its audit and outbox rows were added, none of its rows exist.

The failure is real: a deferred constraint trigger, created by the test in PostgreSQL, fires at COMMIT — after
`createCustomer` has flushed the customer, its audit row and its outbox row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from db import models
from db.enums import Role
from tests.factories import make_user
from tests.identity.helpers import count

CREATE = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } errors { code field message } }
}
"""

_FUNCTION = """
CREATE FUNCTION test_refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_ARGV[0] = 'unique' THEN
    RAISE EXCEPTION 'doomed customer' USING ERRCODE = 'unique_violation', CONSTRAINT = 'uq_customers_email_live';
  END IF;
  RAISE EXCEPTION 'doomed customer' USING ERRCODE = 'check_violation';
END $$
"""


async def _sql(app: Any, *statements: str) -> None:
    async with app.state.engine.begin() as conn:
        for statement in statements:
            await conn.exec_driver_sql(statement)


@pytest.fixture
async def doomed(app: Any) -> AsyncIterator[Any]:
    """`await doomed(kind)`: customers named "Doomed" fail at commit with a unique or a check violation."""

    async def install(kind: str) -> None:
        await _sql(
            app,
            _FUNCTION,
            "CREATE CONSTRAINT TRIGGER test_doomed AFTER INSERT ON customers DEFERRABLE INITIALLY DEFERRED "
            f"FOR EACH ROW WHEN (NEW.first_name = 'Doomed') EXECUTE FUNCTION test_refuse_doomed('{kind}')",
        )

    yield install
    await _sql(app, "DROP TRIGGER IF EXISTS test_doomed ON customers", "DROP FUNCTION IF EXISTS test_refuse_doomed()")


async def _rows(app: Any) -> tuple[int, int, int]:
    return (
        await count(app, models.Customer),
        await count(app, models.AuditRecord),
        await count(app, models.OutboxMessage),
    )


async def test_a_mutation_failing_at_commit_leaves_no_entity_no_audit_and_no_outbox_row(app, gql, doomed):
    # given
    await doomed("check")
    sales = await make_user(app, Role.SALES)
    # when
    body = await gql(CREATE, {"input": {"firstName": "Doomed", "lastName": "Case"}}, token=sales.token)
    # then: the commit failed, and nothing of the mutation is left
    assert body["data"] is None and body["errors"]
    assert "doomed" not in str(body)  # the database's message is never shown
    assert await _rows(app) == (0, 0, 0)


async def test_a_unique_violation_at_commit_is_the_mutations_conflict_and_nothing_is_written(app, gql, doomed):
    # given
    await doomed("unique")
    sales = await make_user(app, Role.SALES)
    # when
    body = await gql(CREATE, {"input": {"firstName": "Doomed", "lastName": "Case"}}, token=sales.token)
    # then: mapped to createCustomer's own CONFLICT on `email`
    assert body["data"]["createCustomer"] == {
        "customer": None,
        "errors": [{"code": "CONFLICT", "field": ["email"], "message": "Another customer already uses this email."}],
    }
    assert await _rows(app) == (0, 0, 0)


async def test_the_same_mutation_without_the_fault_writes_all_three_rows(app, gql, doomed):
    # given
    await doomed("check")
    sales = await make_user(app, Role.SALES)
    # when
    body = await gql(CREATE, {"input": {"firstName": "Lucky", "lastName": "Case"}}, token=sales.token)
    # then
    assert body["data"]["createCustomer"]["errors"] == []
    assert await _rows(app) == (1, 1, 1)
