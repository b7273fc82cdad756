"""Chat and note writes keep the request's loader caches right: within one mutation document (fields run in
order), a later field sees what an earlier one wrote, not a page cached before it."""

from __future__ import annotations

from db.enums import Role
from tests.chat.given import gid, make_session
from tests.factories import make_customer, make_user

TWO_NOTES = """
mutation Two($customerId: ID!) {
  first: addCustomerNote(input: {customerId: $customerId, body: "one"}) {
    note { customer { notes(first: 10) { totalCount nodes { body } } } }
  }
  second: addCustomerNote(input: {customerId: $customerId, body: "two"}) {
    note { customer { notes(first: 10) { totalCount nodes { body } } } }
  }
}
"""

TWO_MESSAGES = """
mutation Two($sessionId: ID!) {
  first: postChatMessage(input: {sessionId: $sessionId, body: "hello"}) {
    chatMessage { session { messageCount messages(first: 10) { totalCount nodes { body } } } }
  }
  second: postChatMessage(input: {sessionId: $sessionId, body: "again"}) {
    chatMessage { session { messageCount messages(first: 10) { totalCount nodes { body } } } }
  }
}
"""

START_AND_CLOSE = """
mutation Chats($customerId: ID!, $open: ID!) {
  started: startChatSession(input: {customerId: $customerId, title: "New"}) {
    chatSession { customer { chatSessions(status: OPEN, first: 10) { totalCount nodes { title } } } }
  }
  closed: closeChatSession(id: $open) {
    chatSession { customer { chatSessions(status: OPEN, first: 10) { totalCount nodes { title } } } }
  }
}
"""


async def test_a_second_note_in_one_document_sees_the_first(app, gql):
    # given
    customer = await make_customer(app)
    staff = await make_user(app, Role.OPERATOR)
    # when
    data = (await gql(TWO_NOTES, {"customerId": gid("Customer", customer)}, token=staff.token))["data"]
    # then
    assert data["first"]["note"]["customer"]["notes"] == {"totalCount": 1, "nodes": [{"body": "one"}]}
    assert data["second"]["note"]["customer"]["notes"] == {
        "totalCount": 2,
        "nodes": [{"body": "two"}, {"body": "one"}],
    }


async def test_a_second_message_in_one_document_sees_the_first(app, gql):
    # given
    customer = await make_customer(app)
    chat = await make_session(app, customer)
    staff = await make_user(app, Role.OPERATOR)
    # when
    data = (await gql(TWO_MESSAGES, {"sessionId": gid("ChatSession", chat)}, token=staff.token))["data"]
    # then
    first, second = data["first"]["chatMessage"]["session"], data["second"]["chatMessage"]["session"]
    assert first == {"messageCount": 1, "messages": {"totalCount": 1, "nodes": [{"body": "hello"}]}}
    assert second == {
        "messageCount": 2,
        "messages": {"totalCount": 2, "nodes": [{"body": "hello"}, {"body": "again"}]},
    }


async def test_starting_and_closing_sessions_refresh_the_customers_session_list(app, gql):
    # given
    customer = await make_customer(app)
    existing = await make_session(app, customer, title="Old")
    staff = await make_user(app, Role.OPERATOR)
    variables = {"customerId": gid("Customer", customer), "open": gid("ChatSession", existing)}
    # when
    data = (await gql(START_AND_CLOSE, variables, token=staff.token))["data"]
    # then
    started = data["started"]["chatSession"]["customer"]["chatSessions"]
    closed = data["closed"]["chatSession"]["customer"]["chatSessions"]
    assert started == {"totalCount": 2, "nodes": [{"title": "New"}, {"title": "Old"}]}
    assert closed == {"totalCount": 1, "nodes": [{"title": "New"}]}
