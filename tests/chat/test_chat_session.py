"""chatSession(id) and node(id): who sees which session, messages paged both ways, message authors."""

from __future__ import annotations

import pytest

from db import models
from db.enums import MessageSender, Role
from tests.chat.given import fetch, gid, make_session
from tests.factories import make_customer, make_user

SESSION = """
query Session($id: ID!) {
  chatSession(id: $id) { id title status messageCount lastMessageAt customer { id } }
}
"""

MESSAGES = """
query Messages($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  chatSession(id: $id) {
    messages(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      edges { cursor node { body } }
      nodes { body }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""

AUTHORS = """
query Authors($id: ID!) {
  chatSession(id: $id) { messages { nodes { sender author { id firstName } session { id } } } }
}
"""

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on ChatSession { title }
    ... on ChatMessage { body session { id } }
  }
}
"""


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.SALES])
async def test_staff_read_every_session(app, gql, role):
    # given
    customer = await make_customer(app)
    chat = await make_session(app, customer, messages=3, title="Delivery")
    staff = await make_user(app, role)
    # when
    body = await gql(SESSION, {"id": gid("ChatSession", chat)}, token=staff.token)
    # then
    assert body["data"]["chatSession"] == {
        "id": gid("ChatSession", chat),
        "title": "Delivery",
        "status": "OPEN",
        "messageCount": 3,
        "lastMessageAt": chat.last_message_at.isoformat(),
        "customer": {"id": gid("Customer", customer)},
    }


async def test_a_customer_sees_its_own_sessions_only(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    mine = await make_session(app, await fetch(app, models.Customer, me.user.customer_id))
    theirs = await make_session(app, await make_customer(app))
    # when
    own = await gql(SESSION, {"id": gid("ChatSession", mine)}, token=me.token)
    other = await gql(SESSION, {"id": gid("ChatSession", theirs)}, token=me.token)
    other_node = await gql(NODE, {"id": gid("ChatSession", theirs)}, token=me.token)
    # then: another customer's session is simply null, without an error
    assert own["data"]["chatSession"]["id"] == gid("ChatSession", mine)
    assert other == {"data": {"chatSession": None}}
    assert other_node == {"data": {"node": None}}


async def test_unknown_ids_read_as_null(app, gql):
    admin = await make_user(app, Role.ADMIN)
    for value in ["junk", "Q3VzdG9tZXI6MQ", "Q2hhdFNlc3Npb246OTk5OTk"]:
        assert (await gql(SESSION, {"id": value}, token=admin.token)) == {"data": {"chatSession": None}}


async def test_messages_page_forwards_oldest_first(app, gql):
    # given
    chat = await make_session(app, await make_customer(app), messages=5)
    admin = await make_user(app, Role.ADMIN)
    # when
    first = (await gql(MESSAGES, {"id": gid("ChatSession", chat), "first": 2}, token=admin.token))["data"]
    page1 = first["chatSession"]["messages"]
    page2 = (
        await gql(
            MESSAGES,
            {"id": gid("ChatSession", chat), "first": 2, "after": page1["pageInfo"]["endCursor"]},
            token=admin.token,
        )
    )["data"]["chatSession"]["messages"]
    page3 = (
        await gql(
            MESSAGES,
            {"id": gid("ChatSession", chat), "first": 2, "after": page2["pageInfo"]["endCursor"]},
            token=admin.token,
        )
    )["data"]["chatSession"]["messages"]
    # then
    assert [n["body"] for n in page1["nodes"]] == ["message 1", "message 2"]
    assert [n["body"] for n in page2["nodes"]] == ["message 3", "message 4"]
    assert [n["body"] for n in page3["nodes"]] == ["message 5"]
    assert page1["totalCount"] == page3["totalCount"] == 5
    assert page1["pageInfo"]["hasNextPage"] and not page1["pageInfo"]["hasPreviousPage"]
    assert page2["pageInfo"]["hasNextPage"] and page2["pageInfo"]["hasPreviousPage"]
    assert not page3["pageInfo"]["hasNextPage"] and page3["pageInfo"]["hasPreviousPage"]
    assert [e["cursor"] for e in page1["edges"]][-1] == page1["pageInfo"]["endCursor"]


async def test_messages_page_backwards_from_the_newest(app, gql):
    # given
    chat = await make_session(app, await make_customer(app), messages=5)
    admin = await make_user(app, Role.ADMIN)
    sid = gid("ChatSession", chat)
    # when
    last = (await gql(MESSAGES, {"id": sid, "last": 2}, token=admin.token))["data"]["chatSession"]["messages"]
    before = (
        await gql(MESSAGES, {"id": sid, "last": 2, "before": last["pageInfo"]["startCursor"]}, token=admin.token)
    )["data"]["chatSession"]["messages"]
    earliest = (
        await gql(MESSAGES, {"id": sid, "last": 2, "before": before["pageInfo"]["startCursor"]}, token=admin.token)
    )["data"]["chatSession"]["messages"]
    # then: each page still reads oldest first
    assert [n["body"] for n in last["nodes"]] == ["message 4", "message 5"]
    assert [n["body"] for n in before["nodes"]] == ["message 2", "message 3"]
    assert [n["body"] for n in earliest["nodes"]] == ["message 1"]
    assert last["pageInfo"]["hasPreviousPage"] and not last["pageInfo"]["hasNextPage"]
    assert before["pageInfo"]["hasPreviousPage"] and before["pageInfo"]["hasNextPage"]
    assert not earliest["pageInfo"]["hasPreviousPage"] and earliest["pageInfo"]["hasNextPage"]


async def test_paging_forwards_then_back_returns_the_same_items(app, gql):
    chat = await make_session(app, await make_customer(app), messages=6)
    admin = await make_user(app, Role.ADMIN)
    sid = gid("ChatSession", chat)
    page1 = (await gql(MESSAGES, {"id": sid, "first": 3}, token=admin.token))["data"]["chatSession"]["messages"]
    page2 = (await gql(MESSAGES, {"id": sid, "first": 3, "after": page1["pageInfo"]["endCursor"]}, token=admin.token))[
        "data"
    ]["chatSession"]["messages"]
    back = (await gql(MESSAGES, {"id": sid, "last": 3, "before": page2["pageInfo"]["startCursor"]}, token=admin.token))[
        "data"
    ]["chatSession"]["messages"]
    assert back["nodes"] == page1["nodes"]


async def test_paging_while_messages_arrive_neither_skips_nor_repeats(app, gql):
    POST = "mutation P($i: PostChatMessageInput!) { postChatMessage(input: $i) { errors { code } } }"
    chat = await make_session(app, await make_customer(app), messages=3)
    admin = await make_user(app, Role.ADMIN)
    sid = gid("ChatSession", chat)
    page1 = (await gql(MESSAGES, {"id": sid, "first": 2}, token=admin.token))["data"]["chatSession"]["messages"]
    await gql(POST, {"i": {"sessionId": sid, "body": "late"}}, token=admin.token)
    page2 = (await gql(MESSAGES, {"id": sid, "first": 5, "after": page1["pageInfo"]["endCursor"]}, token=admin.token))[
        "data"
    ]["chatSession"]["messages"]
    assert [n["body"] for n in page2["nodes"]] == ["message 3", "late"]
    assert page2["totalCount"] == 4


@pytest.mark.parametrize(
    "arguments",
    [{"first": 51}, {"last": 51}, {"first": -1}, {"first": 2, "last": 2}, {"after": "bogus"}, {"before": "bogus"}],
)
async def test_bad_page_arguments_are_bad_user_input(app, gql, arguments):
    chat = await make_session(app, await make_customer(app), messages=1)
    admin = await make_user(app, Role.ADMIN)
    body = await gql(MESSAGES, {"id": gid("ChatSession", chat), **arguments}, token=admin.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["path"] == ["chatSession", "messages"]


async def test_fifty_and_zero_are_allowed(app, gql):
    chat = await make_session(app, await make_customer(app), messages=3)
    admin = await make_user(app, Role.ADMIN)
    fifty = await gql(MESSAGES, {"id": gid("ChatSession", chat), "first": 50}, token=admin.token)
    zero = await gql(MESSAGES, {"id": gid("ChatSession", chat), "first": 0}, token=admin.token)
    assert len(fifty["data"]["chatSession"]["messages"]["nodes"]) == 3
    assert zero["data"]["chatSession"]["messages"]["nodes"] == []
    assert zero["data"]["chatSession"]["messages"]["totalCount"] == 3


async def test_a_default_page_holds_twenty_messages(app, gql):
    chat = await make_session(app, await make_customer(app), messages=25)
    admin = await make_user(app, Role.ADMIN)
    body = await gql(MESSAGES, {"id": gid("ChatSession", chat)}, token=admin.token)
    messages = body["data"]["chatSession"]["messages"]
    assert len(messages["nodes"]) == 20 and messages["pageInfo"]["hasNextPage"]


async def test_customers_see_their_own_authorship_but_not_staff_users(app, gql):
    # given: one message by the customer, one by an operator
    me = await make_user(app, Role.CUSTOMER)
    operator = await make_user(app, Role.OPERATOR)
    customer = await fetch(app, models.Customer, me.user.customer_id)
    chat = await make_session(app, customer)
    post = "mutation P($i: PostChatMessageInput!) { postChatMessage(input: $i) { errors { code } } }"
    await gql(post, {"i": {"sessionId": gid("ChatSession", chat), "body": "help"}}, token=me.token)
    await gql(post, {"i": {"sessionId": gid("ChatSession", chat), "body": "on it"}}, token=operator.token)
    # when
    as_customer = await gql(AUTHORS, {"id": gid("ChatSession", chat)}, token=me.token)
    as_operator = await gql(AUTHORS, {"id": gid("ChatSession", chat)}, token=operator.token)
    # then
    seen_by_customer = as_customer["data"]["chatSession"]["messages"]["nodes"]
    assert [(m["sender"], m["author"] and m["author"]["id"]) for m in seen_by_customer] == [
        ("CUSTOMER", gid("User", me.user)),
        ("OPERATOR", None),
    ]
    seen_by_operator = as_operator["data"]["chatSession"]["messages"]["nodes"]
    assert [m["author"]["id"] for m in seen_by_operator] == [gid("User", me.user), gid("User", operator.user)]
    assert {m["session"]["id"] for m in seen_by_operator} == {gid("ChatSession", chat)}


async def test_messages_are_nodes_visible_with_their_session(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    stranger = await make_user(app, Role.CUSTOMER)
    chat = await make_session(app, await fetch(app, models.Customer, me.user.customer_id), messages=1)
    message_id = (
        await gql(
            "query Q($id: ID!) { chatSession(id: $id) { messages { nodes { id } } } }",
            {"id": gid("ChatSession", chat)},
            token=me.token,
        )
    )["data"]["chatSession"]["messages"]["nodes"][0]["id"]
    # when
    own = await gql(NODE, {"id": message_id}, token=me.token)
    foreign = await gql(NODE, {"id": message_id}, token=stranger.token)
    # then
    assert own["data"]["node"] == {
        "__typename": "ChatMessage",
        "id": message_id,
        "body": "message 1",
        "session": {"id": gid("ChatSession", chat)},
    }
    assert foreign["data"]["node"] is None


async def test_assistant_messages_have_no_author(app, gql):
    chat = await make_session(app, await make_customer(app), messages=1, sender=MessageSender.ASSISTANT)
    admin = await make_user(app, Role.ADMIN)
    body = await gql(AUTHORS, {"id": gid("ChatSession", chat)}, token=admin.token)
    assert body["data"]["chatSession"]["messages"]["nodes"][0]["author"] is None
    assert body["data"]["chatSession"]["messages"]["nodes"][0]["sender"] == "ASSISTANT"
