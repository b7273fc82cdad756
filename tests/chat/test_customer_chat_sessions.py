"""Customer.chatSessions: newest first, filtered by status, N+1-free for a whole page of customers."""

from __future__ import annotations

import pytest

from db import models
from db.enums import ChatSessionStatus, Role
from tests.chat.given import fetch, gid, make_session
from tests.factories import make_customer, make_user

SESSIONS = """
query Sessions($id: ID!, $status: ChatSessionStatus, $first: Int, $after: String) {
  customer(id: $id) {
    chatSessions(status: $status, first: $first, after: $after) {
      totalCount
      nodes { title status }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}
"""

PAGE_OF_CUSTOMERS = """
{ customers(first: 50) { nodes { firstName chatSessions(first: 5) { nodes { title messageCount lastMessageAt } } } } }
"""

PAGE_WITH_TOTALS = """
{ customers(first: 50) { nodes { chatSessions(status: OPEN, first: 2) { totalCount nodes { title } } } } }
"""

SESSIONS_WITH_MESSAGES = """
query Deep($id: ID!) {
  customer(id: $id) {
    chatSessions(first: 50) {
      nodes { title messages(first: 10) { totalCount nodes { body sender author { firstName } session { title } } } }
    }
  }
}
"""


async def test_sessions_list_newest_first_with_a_status_filter(app, gql):
    # given
    customer = await make_customer(app)
    await make_session(app, customer, title="first")
    await make_session(app, customer, title="second", status=ChatSessionStatus.CLOSED)
    await make_session(app, customer, title="third")
    await make_session(app, await make_customer(app), title="someone else's")
    operator = await make_user(app, Role.OPERATOR)
    # when
    every = await gql(SESSIONS, {"id": gid("Customer", customer)}, token=operator.token)
    open_only = await gql(SESSIONS, {"id": gid("Customer", customer), "status": "OPEN"}, token=operator.token)
    # then
    sessions = every["data"]["customer"]["chatSessions"]
    assert [n["title"] for n in sessions["nodes"]] == ["third", "second", "first"]
    assert sessions["totalCount"] == 3
    opened = open_only["data"]["customer"]["chatSessions"]
    assert [n["title"] for n in opened["nodes"]] == ["third", "first"]
    assert opened["totalCount"] == 2


async def test_sessions_page_with_cursors(app, gql):
    customer = await make_customer(app)
    for n in range(5):
        await make_session(app, customer, title=f"s{n}")
    admin = await make_user(app, Role.ADMIN)
    cid = gid("Customer", customer)
    page1 = (await gql(SESSIONS, {"id": cid, "first": 2}, token=admin.token))["data"]["customer"]["chatSessions"]
    page2 = (await gql(SESSIONS, {"id": cid, "first": 2, "after": page1["pageInfo"]["endCursor"]}, token=admin.token))[
        "data"
    ]["customer"]["chatSessions"]
    assert [n["title"] for n in page1["nodes"]] == ["s4", "s3"]
    assert [n["title"] for n in page2["nodes"]] == ["s2", "s1"]
    assert page2["pageInfo"]["hasNextPage"] and page2["pageInfo"]["hasPreviousPage"]


async def test_a_customer_lists_its_own_sessions(app, gql):
    me = await make_user(app, Role.CUSTOMER)
    await make_session(app, await fetch(app, models.Customer, me.user.customer_id), title="mine")
    body = await gql(
        SESSIONS, {"id": gid("Customer", await fetch(app, models.Customer, me.user.customer_id))}, token=me.token
    )
    assert [n["title"] for n in body["data"]["customer"]["chatSessions"]["nodes"]] == ["mine"]


@pytest.mark.parametrize("first", [51, -1])
async def test_nested_page_size_over_50_is_bad_user_input(app, gql, first):
    customer = await make_customer(app)
    admin = await make_user(app, Role.ADMIN)
    body = await gql(SESSIONS, {"id": gid("Customer", customer), "first": first}, token=admin.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["path"] == ["customer", "chatSessions"]


async def _customers_with_sessions(app, n: int) -> None:
    for _ in range(n):
        customer = await make_customer(app)
        for _ in range(3):
            await make_session(app, customer, messages=2)


async def _statements(app, gql, sql_counter, query: str, token: str, variables=None) -> tuple[int, dict]:
    sql_counter.statements.clear()
    body = await gql(query, variables, token=token)
    assert "errors" not in body, body
    return sql_counter.count, body


@pytest.mark.usefixtures("resolver_path")  # the loaders' statements (the compiled path is one statement)
@pytest.mark.parametrize("query", [PAGE_OF_CUSTOMERS, PAGE_WITH_TOTALS])
async def test_sessions_of_a_page_of_customers_cost_the_same_for_5_or_20(app, gql, sql_counter, query):
    # given
    admin = await make_user(app, Role.ADMIN)
    await _customers_with_sessions(app, 5)
    # when
    small, body = await _statements(app, gql, sql_counter, query, admin.token)
    await _customers_with_sessions(app, 15)
    large, body_large = await _statements(app, gql, sql_counter, query, admin.token)
    # then
    assert len(body_large["data"]["customers"]["nodes"]) == 20
    assert small == large
    session_statements = [s for s in sql_counter.statements if "chat_sessions" in s]
    # one page statement for all customers (plus one batched count when totalCount is asked)
    assert len(session_statements) == (2 if "totalCount" in query else 1)


async def test_messages_and_authors_of_many_sessions_cost_the_same_for_5_or_20(app, gql, sql_counter):
    # given
    admin = await make_user(app, Role.ADMIN)
    author = await make_user(app, Role.OPERATOR)
    customer = await make_customer(app)
    for _ in range(5):
        await make_session(app, customer, messages=12, author=author.user)
    # when
    small, _ = await _statements(
        app, gql, sql_counter, SESSIONS_WITH_MESSAGES, admin.token, {"id": gid("Customer", customer)}
    )
    for _ in range(15):
        await make_session(app, customer, messages=12, author=author.user)
    large, body = await _statements(
        app, gql, sql_counter, SESSIONS_WITH_MESSAGES, admin.token, {"id": gid("Customer", customer)}
    )
    # then: viewer, customer, sessions page, messages page, authors (sessions of messages come from the cache)
    nodes = body["data"]["customer"]["chatSessions"]["nodes"]
    assert len(nodes) == 20 and all(len(n["messages"]["nodes"]) == 10 for n in nodes)
    assert all(n["messages"]["totalCount"] == 12 for n in nodes)
    assert small == large
    assert large <= 5
