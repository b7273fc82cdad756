"""startChatSession: staff or the customer itself opens a chat; SALES may only read."""

from __future__ import annotations

import pytest

from db import models
from db.enums import Role
from tests.chat.given import audit_rows, count, gid, own_customer_id
from tests.factories import make_customer, make_user

START = """
mutation Start($input: StartChatSessionInput!) {
  startChatSession(input: $input) {
    chatSession { id title status startedAt closedAt messageCount lastMessageAt customer { id } startedBy { id } }
    errors { code field message }
  }
}
"""


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR])
async def test_staff_start_a_session_for_any_customer(app, gql, role):
    # given
    customer = await make_customer(app)
    staff = await make_user(app, role)
    # when
    body = await gql(
        START, {"input": {"customerId": gid("Customer", customer), "title": "  Invoice  "}}, token=staff.token
    )
    # then
    payload = body["data"]["startChatSession"]
    assert payload["errors"] == []
    chat = payload["chatSession"]
    assert chat["title"] == "Invoice"
    assert chat["status"] == "OPEN"
    assert chat["messageCount"] == 0
    assert chat["lastMessageAt"] is None and chat["closedAt"] is None
    assert chat["customer"]["id"] == gid("Customer", customer)
    assert chat["startedBy"]["id"] == gid("User", staff.user)
    [record] = await audit_rows(app)
    assert record.action == "chat_session.started"
    assert record.entity_type == "ChatSession" and record.entity_id == chat["id"]
    assert record.actor_id == staff.id
    assert record.details["customerId"] == gid("Customer", customer)


async def test_a_customer_starts_its_own_session(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    # when
    body = await gql(START, {"input": {"customerId": own_customer_id(me), "title": "Help"}}, token=me.token)
    # then
    payload = body["data"]["startChatSession"]
    assert payload["errors"] == []
    assert payload["chatSession"]["customer"]["id"] == own_customer_id(me)
    assert payload["chatSession"]["startedBy"]["id"] == gid("User", me.user)


async def test_a_customer_cannot_start_a_session_for_another_customer(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    other = await make_customer(app)
    # when
    body = await gql(START, {"input": {"customerId": gid("Customer", other), "title": "Help"}}, token=me.token)
    # then: the other customer behaves as absent
    payload = body["data"]["startChatSession"]
    assert payload["chatSession"] is None
    assert payload["errors"] == [{"code": "NOT_FOUND", "field": ["customerId"], "message": "Customer not found."}]
    assert await count(app, models.ChatSession) == 0
    assert await audit_rows(app) == []


async def test_sales_may_not_start_sessions(app, gql):
    # given
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    # when
    body = await gql(START, {"input": {"customerId": gid("Customer", customer), "title": "Hi"}}, token=sales.token)
    # then
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count(app, models.ChatSession) == 0


@pytest.mark.parametrize(
    ("title", "message"),
    [("", "The title must not be empty."), ("   ", "The title must not be empty."), ("x" * 201, None)],
)
async def test_title_must_be_1_to_200_characters(app, gql, title, message):
    # given
    customer = await make_customer(app)
    admin = await make_user(app, Role.ADMIN)
    # when
    body = await gql(START, {"input": {"customerId": gid("Customer", customer), "title": title}}, token=admin.token)
    # then
    payload = body["data"]["startChatSession"]
    assert payload["chatSession"] is None
    [error] = payload["errors"]
    assert error["code"] == "VALIDATION" and error["field"] == ["title"]
    if message:
        assert error["message"] == message
    assert await count(app, models.ChatSession) == 0
    assert await audit_rows(app) == []


async def test_a_title_of_exactly_200_characters_is_accepted(app, gql):
    customer = await make_customer(app)
    admin = await make_user(app, Role.ADMIN)
    body = await gql(START, {"input": {"customerId": gid("Customer", customer), "title": "t" * 200}}, token=admin.token)
    assert body["data"]["startChatSession"]["errors"] == []


@pytest.mark.parametrize("customer_id", ["nonsense", "VXNlcjox", "Q3VzdG9tZXI6OTk5OTk"])  # junk, User:1, Customer:99999
async def test_unknown_or_wrongly_typed_customer_ids_are_not_found(app, gql, customer_id):
    # given
    admin = await make_user(app, Role.ADMIN)
    # when: also an invalid title, so both problems come back together
    body = await gql(START, {"input": {"customerId": customer_id, "title": ""}}, token=admin.token)
    # then
    errors = body["data"]["startChatSession"]["errors"]
    assert {(e["code"], tuple(e["field"])) for e in errors} == {
        ("VALIDATION", ("title",)),
        ("NOT_FOUND", ("customerId",)),
    }


async def test_anonymous_callers_are_unauthenticated(app, gql):
    customer = await make_customer(app)
    body = await gql(START, {"input": {"customerId": gid("Customer", customer), "title": "Hi"}})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
