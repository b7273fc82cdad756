"""closeChatSession: OPEN → CLOSED once; closing again is INVALID_TRANSITION."""

from __future__ import annotations

import pytest

from db import models
from db.enums import ChatSessionStatus, Role
from tests.chat.given import audit_rows, fetch, gid, make_session
from tests.factories import make_customer, make_user

CLOSE = """
mutation Close($id: ID!) {
  closeChatSession(id: $id) {
    chatSession { id status closedAt messageCount }
    errors { code field message }
  }
}
"""


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR])
async def test_staff_close_a_session(app, gql, role):
    # given
    chat = await make_session(app, await make_customer(app), messages=2)
    staff = await make_user(app, role)
    # when
    body = await gql(CLOSE, {"id": gid("ChatSession", chat)}, token=staff.token)
    # then
    payload = body["data"]["closeChatSession"]
    assert payload["errors"] == []
    assert payload["chatSession"]["status"] == "CLOSED"
    assert payload["chatSession"]["closedAt"] is not None
    assert payload["chatSession"]["messageCount"] == 2
    stored = await fetch(app, models.ChatSession, chat.id)
    assert stored.status == "CLOSED" and stored.closed_at is not None
    [record] = await audit_rows(app)
    assert (record.action, record.entity_id, record.actor_id) == (
        "chat_session.closed",
        gid("ChatSession", chat),
        staff.id,
    )
    assert record.details == {"status": {"from": "OPEN", "to": "CLOSED"}}


async def test_closing_twice_is_an_invalid_transition(app, gql):
    # given
    chat = await make_session(app, await make_customer(app))
    admin = await make_user(app, Role.ADMIN)
    await gql(CLOSE, {"id": gid("ChatSession", chat)}, token=admin.token)
    closed_at = (await fetch(app, models.ChatSession, chat.id)).closed_at
    # when
    body = await gql(CLOSE, {"id": gid("ChatSession", chat)}, token=admin.token)
    # then
    assert body["data"]["closeChatSession"] == {
        "chatSession": None,
        "errors": [{"code": "INVALID_TRANSITION", "field": ["id"], "message": "The chat session is closed."}],
    }
    assert (await fetch(app, models.ChatSession, chat.id)).closed_at == closed_at
    assert len(await audit_rows(app)) == 1


async def test_a_customer_closes_its_own_session(app, gql):
    me = await make_user(app, Role.CUSTOMER)
    chat = await make_session(app, await fetch(app, models.Customer, me.user.customer_id))
    body = await gql(CLOSE, {"id": gid("ChatSession", chat)}, token=me.token)
    assert body["data"]["closeChatSession"]["chatSession"]["status"] == "CLOSED"


@pytest.mark.parametrize("status", [ChatSessionStatus.OPEN, ChatSessionStatus.CLOSED])
async def test_another_customers_session_is_not_found(app, gql, status):
    me = await make_user(app, Role.CUSTOMER)
    chat = await make_session(app, await make_customer(app), status=status)
    body = await gql(CLOSE, {"id": gid("ChatSession", chat)}, token=me.token)
    assert body["data"]["closeChatSession"]["errors"] == [
        {"code": "NOT_FOUND", "field": ["id"], "message": "Chat session not found."}
    ]
    assert (await fetch(app, models.ChatSession, chat.id)).status == status.value


async def test_sales_may_not_close(app, gql):
    chat = await make_session(app, await make_customer(app))
    sales = await make_user(app, Role.SALES)
    body = await gql(CLOSE, {"id": gid("ChatSession", chat)}, token=sales.token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await fetch(app, models.ChatSession, chat.id)).status == "OPEN"


@pytest.mark.parametrize("session_id", ["junk", "Tm90ZTox", "Q2hhdFNlc3Npb246OTk5OTk"])  # junk, Note:1, missing
async def test_unknown_ids_are_not_found(app, gql, session_id):
    admin = await make_user(app, Role.ADMIN)
    body = await gql(CLOSE, {"id": session_id}, token=admin.token)
    assert body["data"]["closeChatSession"]["errors"][0]["code"] == "NOT_FOUND"


async def test_of_two_racing_closes_exactly_one_wins(app, gql):
    import asyncio

    chat = await make_session(app, await make_customer(app))
    admin = await make_user(app, Role.ADMIN)
    operator = await make_user(app, Role.OPERATOR)
    results = await asyncio.gather(
        gql(CLOSE, {"id": gid("ChatSession", chat)}, token=admin.token),
        gql(CLOSE, {"id": gid("ChatSession", chat)}, token=operator.token),
    )
    outcomes = sorted(
        r["data"]["closeChatSession"]["errors"][0]["code"] if r["data"]["closeChatSession"]["errors"] else "OK"
        for r in results
    )
    assert outcomes == ["INVALID_TRANSITION", "OK"]
    assert len(await audit_rows(app, action="chat_session.closed")) == 1
