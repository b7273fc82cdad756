"""postChatMessage: counters move with each post in the same transaction; a closed session takes nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlmodel import col

from db import models
from db.enums import ChatSessionStatus, Role
from tests.chat.given import audit_rows, count, fetch, gid, make_session
from tests.factories import make_customer, make_user

POST = """
mutation Post($input: PostChatMessageInput!) {
  postChatMessage(input: $input) {
    chatMessage { id sender body createdAt author { id } session { id messageCount lastMessageAt status } }
    errors { code field message }
  }
}
"""

CLOSE = """
mutation Close($id: ID!) { closeChatSession(id: $id) { chatSession { status } errors { code field } } }
"""


def post_input(chat: models.ChatSession, body: str) -> dict:
    return {"input": {"sessionId": gid("ChatSession", chat), "body": body}}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR])
async def test_staff_post_as_operator(app, gql, role):
    # given
    chat = await make_session(app, await make_customer(app), messages=2)
    staff = await make_user(app, role)
    # when
    body = await gql(POST, post_input(chat, "  How can I help?  "), token=staff.token)
    # then
    payload = body["data"]["postChatMessage"]
    assert payload["errors"] == []
    message = payload["chatMessage"]
    assert message["sender"] == "OPERATOR"
    assert message["body"] == "How can I help?"
    assert message["author"] == {"id": gid("User", staff.user)}
    assert message["session"]["messageCount"] == 3
    assert message["session"]["lastMessageAt"] == message["createdAt"]
    stored = await fetch(app, models.ChatSession, chat.id)
    assert stored.message_count == 3 == await count(app, models.ChatMessage)
    assert stored.last_message_at == datetime.fromisoformat(message["createdAt"])
    [record] = await audit_rows(app)
    assert (record.action, record.entity_type, record.entity_id) == (
        "chat_message.posted",
        "ChatMessage",
        message["id"],
    )
    assert record.details == {"sessionId": gid("ChatSession", chat), "sender": "OPERATOR", "messageCount": 3}
    assert "How can I help?" not in str(record.details)


async def test_a_customer_posts_in_its_own_session_as_customer(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    chat = await make_session(app, await fetch(app, models.Customer, me.user.customer_id))
    # when
    body = await gql(POST, post_input(chat, "My invoice is wrong"), token=me.token)
    # then
    message = body["data"]["postChatMessage"]["chatMessage"]
    assert message["sender"] == "CUSTOMER"
    assert message["author"] == {"id": gid("User", me.user)}
    assert message["session"]["messageCount"] == 1


async def test_a_customer_cannot_post_in_another_customers_session(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    chat = await make_session(app, await make_customer(app))
    # when
    body = await gql(POST, post_input(chat, "hello"), token=me.token)
    # then: behaves as absent
    assert body["data"]["postChatMessage"] == {
        "chatMessage": None,
        "errors": [{"code": "NOT_FOUND", "field": ["sessionId"], "message": "Chat session not found."}],
    }
    assert await count(app, models.ChatMessage) == 0


async def test_a_customer_cannot_tell_a_closed_foreign_session_from_a_missing_one(app, gql):
    me = await make_user(app, Role.CUSTOMER)
    chat = await make_session(app, await make_customer(app), status=ChatSessionStatus.CLOSED)
    body = await gql(POST, post_input(chat, "hello"), token=me.token)
    assert body["data"]["postChatMessage"]["errors"][0]["code"] == "NOT_FOUND"


async def test_sales_may_not_post(app, gql):
    chat = await make_session(app, await make_customer(app))
    sales = await make_user(app, Role.SALES)
    body = await gql(POST, post_input(chat, "hello"), token=sales.token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count(app, models.ChatMessage) == 0


async def test_posting_to_a_closed_session_is_an_invalid_transition(app, gql):
    # given
    chat = await make_session(app, await make_customer(app), status=ChatSessionStatus.CLOSED, messages=1)
    operator = await make_user(app, Role.OPERATOR)
    # when
    body = await gql(POST, post_input(chat, "anyone there?"), token=operator.token)
    # then
    assert body["data"]["postChatMessage"] == {
        "chatMessage": None,
        "errors": [{"code": "INVALID_TRANSITION", "field": ["sessionId"], "message": "The chat session is closed."}],
    }
    stored = await fetch(app, models.ChatSession, chat.id)
    assert stored.message_count == 1 == await count(app, models.ChatMessage)
    assert await audit_rows(app) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The message must not be empty."),
        (" \n\t ", "The message must not be empty."),
        ("x" * 10_001, "The message must be at most 10,000 characters; it has 10,001."),
    ],
)
async def test_body_must_be_1_to_10000_characters(app, gql, text, message):
    chat = await make_session(app, await make_customer(app))
    operator = await make_user(app, Role.OPERATOR)
    body = await gql(POST, post_input(chat, text), token=operator.token)
    assert body["data"]["postChatMessage"] == {
        "chatMessage": None,
        "errors": [{"code": "VALIDATION", "field": ["body"], "message": message}],
    }
    assert (await fetch(app, models.ChatSession, chat.id)).message_count == 0
    assert await count(app, models.ChatMessage) == 0


async def test_a_body_of_exactly_10000_characters_is_accepted(app, gql):
    chat = await make_session(app, await make_customer(app))
    operator = await make_user(app, Role.OPERATOR)
    body = await gql(POST, post_input(chat, "y" * 10_000), token=operator.token)
    assert len(body["data"]["postChatMessage"]["chatMessage"]["body"]) == 10_000


@pytest.mark.parametrize("session_id", ["junk", "Q3VzdG9tZXI6MQ", "Q2hhdFNlc3Npb246OTk5OTk"])  # junk, Customer:1, 99999
async def test_unknown_or_wrongly_typed_session_ids_are_not_found(app, gql, session_id):
    operator = await make_user(app, Role.OPERATOR)
    body = await gql(POST, {"input": {"sessionId": session_id, "body": "hi"}}, token=operator.token)
    assert body["data"]["postChatMessage"]["errors"] == [
        {"code": "NOT_FOUND", "field": ["sessionId"], "message": "Chat session not found."}
    ]


async def test_counters_follow_every_post(app, gql):
    # given
    chat = await make_session(app, await make_customer(app))
    operator = await make_user(app, Role.OPERATOR)
    # when
    stamps = []
    for n in range(3):
        body = await gql(POST, post_input(chat, f"m{n}"), token=operator.token)
        stamps.append(body["data"]["postChatMessage"]["chatMessage"]["createdAt"])
    # then
    stored = await fetch(app, models.ChatSession, chat.id)
    assert stored.message_count == 3
    assert stored.last_message_at == datetime.fromisoformat(stamps[-1])
    assert stamps == sorted(stamps)
    assert len(await audit_rows(app, action="chat_message.posted")) == 3


async def test_racing_posts_and_a_close_keep_the_count_equal_to_the_stored_messages(app, gql):
    """Posts and a close sent at once: every post that succeeded is counted, none lands after the close."""
    # given
    chat = await make_session(app, await make_customer(app))
    operator = await make_user(app, Role.OPERATOR)
    admin = await make_user(app, Role.ADMIN)
    # when
    for _round in range(3):
        posts = [gql(POST, post_input(chat, f"race {n}"), token=operator.token) for n in range(8)]
        close = gql(CLOSE, {"id": gid("ChatSession", chat)}, token=admin.token)
        results = await asyncio.gather(*posts[:4], close, *posts[4:])
        # then
        outcomes = [r["data"]["postChatMessage"] for r in results if "postChatMessage" in r["data"]]
        posted = [o for o in outcomes if o["chatMessage"]]
        refused = [o for o in outcomes if not o["chatMessage"]]
        assert all(o["errors"][0]["code"] == "INVALID_TRANSITION" for o in refused)
        stored = await fetch(app, models.ChatSession, chat.id)
        messages = await count(app, models.ChatMessage, col(models.ChatMessage.session_id) == chat.id)
        assert stored.status == "CLOSED"
        assert stored.message_count == messages
        assert len(posted) == messages
        assert len(await audit_rows(app, action="chat_message.posted")) == await count(app, models.ChatMessage)
        assert all(o["chatMessage"]["createdAt"] <= stored.closed_at.isoformat() for o in posted)
        # reopen for the next round (a fresh session)
        chat = await make_session(app, await make_customer(app))


async def test_a_closed_session_is_the_only_error_even_with_an_invalid_body(app, gql):
    chat = await make_session(app, await make_customer(app), status=ChatSessionStatus.CLOSED)
    operator = await make_user(app, Role.OPERATOR)
    body = await gql(POST, post_input(chat, ""), token=operator.token)
    assert [e["code"] for e in body["data"]["postChatMessage"]["errors"]] == ["INVALID_TRANSITION"]
