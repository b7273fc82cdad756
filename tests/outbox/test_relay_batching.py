"""What one relay round costs in SQL, counted with the `sql_counter` fixture (statements plus the driver's BEGIN /
COMMIT / ROLLBACK): the claim, ONE read of every customer (and request) the batch needs, ONE update for every row
that was sent; a row that fails (dead, retried) adds one statement of its own and is never recorded delivered."""

from __future__ import annotations

from pathlib import Path

import anyio

from db.enums import RequestStatus, Role
from tests.factories import make_customer, make_user
from tests.outbox.conftest import CHANGE_STATUS, CREATE_CUSTOMER, mailbox_relay, outbox_rows, sendgrid_relay
from tests.outbox.sendgrid_stub import HANG, Answer
from tests.requests.given import gid, make_request


async def new_customers(app, gql, n: int) -> None:
    sales = await make_user(app, Role.SALES)
    for i in range(n):
        body = await gql(CREATE_CUSTOMER, {"input": {"firstName": f"Bo{i}", "lastName": "Batch"}}, token=sales.token)
        assert body["data"]["createCustomer"]["errors"] == []


def shape(statements: list[str]) -> list[str]:
    """Each statement by what it is for."""
    names = []
    for statement in statements:
        sql = " ".join(statement.split())
        if sql in ("BEGIN", "COMMIT", "ROLLBACK"):
            names.append(sql)
        elif "FOR UPDATE SKIP LOCKED" in sql:
            names.append("claim")
        elif sql.startswith("SELECT") and "FROM customers" in sql:
            names.append("customers")
        elif sql.startswith("SELECT") and "FROM requests" in sql:
            names.append("requests")
        elif "state = 'delivered'" in sql:
            names.append("delivered" if "ANY" in sql else "delivered one")
        elif "state = 'dead'" in sql:
            names.append("dead")
        elif "SET available_at" in sql:
            names.append("retry")
        else:
            names.append(sql[:60])
    return names


ROUND = ["claim", "customers", "delivered"]


async def test_a_round_costs_the_same_statements_for_2_or_10_messages(app, gql, clock, sql_counter):
    # given: 12 new customers, so 12 `email.customer_created` rows; rounds of 2, then of 10
    await new_customers(app, gql, 12)
    small = mailbox_relay(app, clock, outbox__batch_size=2)
    large = mailbox_relay(app, clock, outbox__batch_size=10)

    # when
    sql_counter.statements.clear()
    assert await small.run_once() == 2
    two = shape(sql_counter.statements)
    sql_counter.statements.clear()
    assert await large.run_once() == 10
    ten = shape(sql_counter.statements)

    # then: claim, one read, one update, whatever the batch size
    assert two == ROUND
    assert ten == ROUND
    rows = await outbox_rows(app)
    assert [r.state for r in rows] == ["delivered"] * 12
    assert all(r.delivered_at and r.claimed_by is None and r.claimed_until is None for r in rows)
    files = [p.stem for relay in (small, large) for p in (Path(relay.settings.app.data_dir) / "mail").glob("*.eml")]
    assert sorted(files) == sorted(str(r.idempotency_key) for r in rows)


async def test_one_erased_and_one_missing_customer_are_dead_the_rest_delivered_in_one_update(
    app, gql, clock, sql_counter
):
    # given: five messages; one customer erased, one gone since
    await new_customers(app, gql, 5)
    rows = await outbox_rows(app)
    erased, gone = rows[1].payload["customer_id"], rows[3].payload["customer_id"]
    async with app.state.engine.begin() as conn:
        await conn.exec_driver_sql(f"UPDATE customers SET erased_at = now() WHERE id = {erased}")
        await conn.exec_driver_sql(f"DELETE FROM customers WHERE id = {gone}")
    relay = mailbox_relay(app, clock, outbox__batch_size=10)

    # when
    sql_counter.statements.clear()
    await relay.run_once()
    statements = shape(sql_counter.statements)

    # then
    after = await outbox_rows(app)
    assert [r.state for r in after] == ["delivered", "dead", "delivered", "dead", "delivered"]
    assert after[1].last_error == "the customer was erased before the message was sent"
    assert after[3].last_error == "the customer no longer exists"
    assert sorted(statements) == sorted([*ROUND, "dead", "dead"])
    mail = Path(relay.settings.app.data_dir) / "mail"
    assert sorted(p.stem for p in mail.glob("*.eml")) == sorted(
        str(r.idempotency_key) for r in after if r.state == "delivered"
    )


async def test_a_failed_send_is_retried_and_never_recorded_delivered_with_the_others(
    app, gql, stub, clock, sql_counter
):
    # given: four messages; SendGrid refuses the second request for now
    await new_customers(app, gql, 4)
    stub.answer(Answer(202), Answer(503), Answer(202), Answer(202))
    relay = sendgrid_relay(app, stub, clock, outbox__batch_size=10, outbox__concurrency=1)

    # when
    sql_counter.statements.clear()
    await relay.run_once()
    statements = shape(sql_counter.statements)

    # then
    rows = await outbox_rows(app)
    assert sorted(r.state for r in rows) == ["delivered", "delivered", "delivered", "pending"]
    [failed] = [r for r in rows if r.state == "pending"]
    assert failed.delivered_at is None and failed.last_error.startswith("SendGrid answered 503")
    assert failed.attempts == 1 and failed.claimed_by is None and failed.available_at > clock()
    assert sorted(statements) == sorted([*ROUND, "retry"])
    assert sorted(stub.accepted()) == sorted(str(r.idempotency_key) for r in rows if r.state == "delivered")


async def test_resolved_requests_read_requests_and_customers_once_each(app, gql, clock, sql_counter):
    # given: three resolved requests of two customers, and a new customer's notice, in one batch
    admin = await make_user(app, Role.ADMIN)
    bea = await make_customer(app, first_name="Bea", email="bea@example.com")
    cy = await make_customer(app, first_name="Cy", email="cy@example.com")
    for customer in (bea, cy, bea):
        request = await make_request(app, customer, status=RequestStatus.IN_PROGRESS, processed_by=admin.user)
        body = await gql(
            CHANGE_STATUS, {"input": {"requestId": gid("Request", request), "status": "COMPLETED"}}, token=admin.token
        )
        assert body["data"]["changeRequestStatus"]["errors"] == []
    await new_customers(app, gql, 1)
    relay = mailbox_relay(app, clock, outbox__batch_size=10)

    # when
    sql_counter.statements.clear()
    assert await relay.run_once() == 4

    # then
    assert shape(sql_counter.statements) == ["claim", "requests", "customers", "delivered"]
    assert {r.state for r in await outbox_rows(app)} == {"delivered"}
    mail = Path(relay.settings.app.data_dir) / "mail"
    texts = [p.read_text() for p in mail.glob("*.eml")]
    assert sum("To: bea@example.com" in t for t in texts) == 2 and sum("To: cy@example.com" in t for t in texts) == 1


async def test_a_cancelled_round_still_records_what_it_had_sent(app, gql, stub, clock):
    # given: three messages; SendGrid accepts two, then hangs on the third
    await new_customers(app, gql, 3)
    stub.answer(Answer(202), Answer(202), HANG)
    relay = sendgrid_relay(app, stub, clock, outbox__batch_size=10, outbox__concurrency=1, email__timeout_seconds=5.0)

    # when: the round is cancelled (a server shutting down) while the third send hangs
    async with anyio.create_task_group() as group:
        group.start_soon(relay.run_once)
        assert await anyio.to_thread.run_sync(stub.wait_for, 3)
        group.cancel_scope.cancel()  # cancels every await of the round, unless shielded
    stub.release.set()

    # then: the two sent ones are delivered (one update at the end of the round), the third is still claimed
    rows = await outbox_rows(app)
    assert sorted(r.state for r in rows) == ["delivered", "delivered", "pending"]
    assert sorted(stub.accepted()) == sorted(str(r.idempotency_key) for r in rows if r.state == "delivered")
    [unsent] = [r for r in rows if r.state == "pending"]
    assert unsent.claimed_by == "test-relay" and unsent.delivered_at is None
