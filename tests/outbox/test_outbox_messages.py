"""ADMIN's view of the outbox: `outboxMessages(state:, topic:, first:, after:)` and `retryOutboxMessage(id:)`;
every other role FORBIDDEN. `/metrics` shows the backlog by state, the oldest pending age and outcomes by topic."""

from __future__ import annotations

import pytest

from db.enums import Role
from tests.factories import make_user
from tests.outbox.conftest import drain, outbox_rows, sendgrid_relay
from tests.outbox.sendgrid_stub import Answer

CREATE = """
mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code } } }"""
LIST = """
query ($state: OutboxMessageState, $topic: String, $first: Int, $after: String) {
  outboxMessages(state: $state, topic: $topic, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id topic state attempts lastError idempotencyKey createdAt nextAttemptAt deliveredAt deadAt }
  }
}"""
RETRY = """
mutation ($id: ID!) {
  retryOutboxMessage(id: $id) { outboxMessage { id state attempts lastError nextAttemptAt } errors { code field } }
}"""


async def given_messages(app, gql, names: list[str]) -> None:
    sales = await make_user(app, Role.SALES)
    for name in names:
        body = await gql(CREATE, {"input": {"firstName": name, "lastName": "X"}}, token=sales.token)
        assert body["data"]["createCustomer"]["errors"] == []


async def test_admin_lists_messages_by_state_and_retries_a_dead_one(app, gql, stub, clock):
    # given: three messages; SendGrid refuses the first (dead), accepts the second, the third is not tried yet
    admin = await make_user(app, Role.ADMIN)
    await given_messages(app, gql, ["A", "B", "C"])
    stub.answer(Answer(400), Answer(202))
    relay = sendgrid_relay(app, stub, clock, outbox__batch_size=2, outbox__concurrency=1)
    await relay.run_once()

    # when
    dead = (await gql(LIST, {"state": "DEAD"}, token=admin.token))["data"]["outboxMessages"]
    delivered = (await gql(LIST, {"state": "DELIVERED"}, token=admin.token))["data"]["outboxMessages"]
    pending = (await gql(LIST, {"state": "PENDING"}, token=admin.token))["data"]["outboxMessages"]
    every = (await gql(LIST, {"first": 2}, token=admin.token))["data"]["outboxMessages"]
    rest = (await gql(LIST, {"first": 2, "after": every["pageInfo"]["endCursor"]}, token=admin.token))["data"]

    # then
    assert dead["totalCount"] == 1 and delivered["totalCount"] == 1 and pending["totalCount"] == 1
    [message] = dead["nodes"]
    assert message["topic"] == "email.customer_created" and message["attempts"] == 1
    assert message["lastError"].startswith("SendGrid answered 400")
    assert message["deadAt"] and message["nextAttemptAt"] is None
    assert pending["nodes"][0]["nextAttemptAt"] is not None
    assert every["totalCount"] == 3 and every["pageInfo"]["hasNextPage"]
    ids = [n["id"] for n in every["nodes"]] + [n["id"] for n in rest["outboxMessages"]["nodes"]]
    assert len(set(ids)) == 3
    keys = {str(r.idempotency_key) for r in await outbox_rows(app)}
    assert {n["idempotencyKey"] for n in every["nodes"]} <= keys

    # when the admin retries the dead one, it is pending again and the relay delivers it
    retried = (await gql(RETRY, {"id": message["id"]}, token=admin.token))["data"]["retryOutboxMessage"]
    assert retried["errors"] == []
    assert retried["outboxMessage"]["state"] == "PENDING" and retried["outboxMessage"]["attempts"] == 0
    await drain(app, relay, clock)
    assert {r.state for r in await outbox_rows(app)} == {"delivered"}
    assert len(stub.accepted()) == 3

    # and the retry is audited
    from tests.identity.helpers import audit_actions

    assert "outbox_message.retried" in await audit_actions(app)


async def test_only_a_dead_message_can_be_retried(app, gql):
    admin = await make_user(app, Role.ADMIN)
    await given_messages(app, gql, ["A"])
    [node] = (await gql(LIST, {}, token=admin.token))["data"]["outboxMessages"]["nodes"]

    pending = (await gql(RETRY, {"id": node["id"]}, token=admin.token))["data"]["retryOutboxMessage"]
    unknown = (await gql(RETRY, {"id": "not-an-id"}, token=admin.token))["data"]["retryOutboxMessage"]

    assert pending == {"outboxMessage": None, "errors": [{"code": "INVALID_TRANSITION", "field": ["id"]}]}
    assert unknown == {"outboxMessage": None, "errors": [{"code": "NOT_FOUND", "field": ["id"]}]}


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SALES, Role.CUSTOMER])
async def test_other_roles_are_forbidden(app, gql, role):
    user = await make_user(app, role)
    admin = await make_user(app, Role.ADMIN)
    await given_messages(app, gql, ["A"])
    [node] = (await gql(LIST, {}, token=admin.token))["data"]["outboxMessages"]["nodes"]

    listed = await gql(LIST, {}, token=user.token)
    retried = await gql(RETRY, {"id": node["id"]}, token=user.token)
    fetched = await gql("query ($id: ID!) { node(id: $id) { id } }", {"id": node["id"]}, token=user.token)

    assert listed["data"] is None and listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert retried["data"] is None and retried["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert fetched["data"]["node"] is None


async def test_page_size_over_the_limit_is_bad_user_input(app, gql):
    admin = await make_user(app, Role.ADMIN)
    body = await gql(LIST, {"first": 51}, token=admin.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_metrics_show_backlog_age_and_outcomes_by_topic(app, gql, client, stub, clock):
    # given: one delivered, one dead, one pending
    await given_messages(app, gql, ["A", "B", "C"])
    stub.answer(Answer(202), Answer(401))
    relay = sendgrid_relay(app, stub, clock, outbox__batch_size=2, outbox__concurrency=1)
    await relay.run_once()

    # when
    text = (await client.get("/metrics")).text

    # then
    def value(name: str) -> float:
        return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))

    assert value('customer_graph_outbox_messages{state="pending"}') == 1
    assert value('customer_graph_outbox_messages{state="in_flight"}') == 0
    assert value('customer_graph_outbox_messages{state="dead"}') == 1
    assert value("customer_graph_outbox_backlog") == 1
    assert value("customer_graph_outbox_oldest_pending_age_seconds") >= 0
    assert value('customer_graph_outbox_deliveries_total{topic="email.customer_created"}') >= 1
    assert value('customer_graph_outbox_failures_total{outcome="dead",topic="email.customer_created"}') >= 1
