"""A bad argument on a nested field (`requests(first: -1)`) beside fields that wait on dataloaders is a
BAD_USER_INPUT with data null along the path — never a 500 nor INTERNAL_SERVER_ERROR.

graphql-core cancels the sibling fields of a failing field; a sibling awaiting a dataloader's cached future
used to cancel that shared future, so another field awaiting the same future got a CancelledError that escaped
the executor (an ASGI crash)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from db.enums import Role
from tests.chat.given import gid
from tests.factories import make_customer, make_user
from tests.subscriptions.live import connected, error_codes, mutate, received, subscribe

CASES: dict[str, str] = {
    "beside a count": "{ customers { nodes { id requests(first: -1) { totalCount } openRequestCount } } }",
    "count first": "{ customers { nodes { openRequestCount requests(first: -1) { totalCount } } } }",
    "same count twice under aliases": (
        "{ customers { nodes { a: openRequestCount requests(first: -1) { totalCount } b: openRequestCount } } }"
    ),
    "two lists under aliases": (
        "{ customers { nodes { a: openRequestCount x: requests(first: -1) { totalCount }"
        " b: openRequestCount y: requests(first: 51) { totalCount } } } }"
    ),
    "twice the customer list": (
        "{ one: customers { nodes { openRequestCount requests(first: -1) { totalCount } } }"
        " two: customers { nodes { openRequestCount requests(first: 5) { totalCount } } } }"
    ),
    "one customer": "query($id: ID!) { customer(id: $id) { openRequestCount requests(first: -1) { totalCount } } }",
    "one customer by two aliases": (
        "query($id: ID!) { a: customer(id: $id) { openRequestCount requests(first: -1) { totalCount } }"
        " b: customer(id: $id) { openRequestCount requests { totalCount } } }"
    ),
    "a bad cursor": '{ customers { nodes { openRequestCount requests(after: "nope") { totalCount } } } }',
    "another nested connection fails": (
        "{ customers { nodes { openRequestCount requests { nodes { id } } chatSessions(first: -1) { totalCount } } } }"
    ),
}


async def given_customers(app: Any, n: int = 3) -> tuple[Any, list[Any]]:
    admin = await make_user(app, Role.ADMIN)
    customers = [await make_customer(app, email=f"c{i}@example.com") for i in range(n)]
    return admin, customers


def codes(body: dict[str, Any]) -> list[str]:
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]


def assert_bad_user_input(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert codes(body), body
    assert set(codes(body)) == {"BAD_USER_INPUT"}, body
    failed = [e["path"] for e in body["errors"]]
    assert all(path for path in failed), body  # each error names the field that failed
    # data is null up to the nearest nullable field: nothing of the failed path is answered
    for path in failed:
        node: Any = body.get("data")
        for step in path[:-1]:
            if node is None:
                break
            node = node[step]
        assert node is None or node.get(path[-1]) is None, body


@pytest.fixture(params=[True, False], ids=["compiled path", "resolver path"])
def read_path(app: Any, request: pytest.FixtureRequest) -> Any:
    app.state.settings.compiled.enabled = request.param
    yield
    app.state.settings.compiled.enabled = True


@pytest.mark.parametrize("query", list(CASES.values()), ids=list(CASES))
async def test_a_nested_bad_argument_is_bad_user_input(app, client: httpx.AsyncClient, read_path, query):
    # given
    admin, customers = await given_customers(app)
    variables = {"id": gid("Customer", customers[0])} if "$id" in query else {}
    # when
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {admin.token}"}
    )
    # then
    assert_bad_user_input(response)


@pytest.mark.parametrize("query", list(CASES.values()), ids=list(CASES))
async def test_a_nested_bad_argument_is_bad_user_input_from_uvicorn(app, live_server: str, query):
    # given
    admin, customers = await given_customers(app)
    variables = {"id": gid("Customer", customers[0])} if "$id" in query else {}
    # when: the real server, over a real socket
    async with httpx.AsyncClient(base_url=live_server, timeout=20) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {admin.token}"},
        )
        # then
        assert_bad_user_input(response)
        # and the server still answers
        again = await client.post(
            "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": f"Bearer {admin.token}"}
        )
        assert again.status_code == 200 and "errors" not in again.json(), again.text


SUBSCRIPTION = """
subscription { customerCreated { id a: openRequestCount requests(first: -1) { totalCount } b: openRequestCount } }
"""
CREATE_CUSTOMER = """
mutation { createCustomer(input: {firstName: "Newly", lastName: "Made", email: "newly.made@example.com"}) {
  customer { id } errors { code } } }
"""


async def test_a_nested_bad_argument_in_a_subscription_is_bad_user_input(app, live_server: str):
    # given: a subscription whose every event fails on a nested argument
    admin = await make_user(app, Role.ADMIN)
    base = live_server.removeprefix("http://")
    async with connected(base, admin.token) as ws:
        await subscribe(ws, SUBSCRIPTION)
        # when: two events happen
        await mutate(base, admin.token, CREATE_CUSTOMER)
        await mutate(base, admin.token, CREATE_CUSTOMER.replace("newly.made@", "second@"))
        messages = await received(ws, 3.0)
        # then: each event is answered with the error, and the connection stays open
        assert error_codes(messages) == ["BAD_USER_INPUT", "BAD_USER_INPUT"], messages
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"
