"""The "subscriptions" row of the table: staff receive every event; a customer only its own customer's events.

Runs the real server (uvicorn on 127.0.0.1) with a real graphql-transport-ws client; the events are caused by
mutations sent to the same server over HTTP (the pub/sub is in-process)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.authz.world import World, build_world

REQUEST_UPDATED = "subscription R($c: ID) { requestUpdated(customerId: $c) { id body customer { id } } }"
CHAT_MESSAGE_ADDED = "subscription M($s: ID!) { chatMessageAdded(sessionId: $s) { id body session { id } } }"
CUSTOMER_CREATED = "subscription C { customerCreated { id email } }"
CREATE_REQUEST = """
mutation CreateRequest($id: ID!, $body: String!) { createRequest(input: {customerId: $id, body: $body}) {
  request { id } errors { code } } }
"""
POST_MESSAGE = """
mutation Post($id: ID!, $body: String!) { postChatMessage(input: {sessionId: $id, body: $body}) {
  chatMessage { id } errors { code } } }
"""
CREATE_CUSTOMER = """
mutation Create { createCustomer(input: {firstName: "Newly", lastName: "Made", email: "newly.made@example.com"}) {
  customer { id } errors { code } } }
"""


@pytest.fixture
def live(live_server: str) -> str:
    """`host:port` of the real server on the test database (tests/conftest.py `live_server`)."""
    return live_server.removeprefix("http://")


@pytest.fixture
async def world(app) -> World:
    return await build_world(app)


@asynccontextmanager
async def subscription(
    live: str, token: str | None, query: str, variables: dict[str, Any]
) -> AsyncIterator[ClientConnection]:
    async with connect(f"ws://{live}/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init: dict[str, Any] = {"type": "connection_init"}
        if token:
            init["payload"] = {"authorization": f"Bearer {token}"}
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))
        await asyncio.sleep(0.3)  # let the server register the subscription before events happen
        yield ws


async def received(ws: ClientConnection, seconds: float = 1.5) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            messages.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
        except (TimeoutError, ConnectionClosed):
            break
        if messages[-1]["type"] in ("error", "complete"):
            break
    return messages


def error_codes(messages: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for m in messages:
        if m["type"] == "error":
            found += [(e.get("extensions") or {}).get("code", "ERROR") for e in m.get("payload") or []]
        elif m["type"] == "next":
            found += [(e.get("extensions") or {}).get("code") for e in m["payload"].get("errors") or []]
    return found


def data_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["payload"]["data"] for m in messages if m["type"] == "next" and (m["payload"].get("data") or None)]


async def mutate(live: str, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://{live}") as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        assert not body.get("errors"), body
        return body  # type: ignore[no-any-return]


@pytest.mark.parametrize("role", ["admin", "operator", "sales"])
async def test_staff_receive_every_customers_request_events(app, live, world, role):
    async with subscription(live, world.token(role), REQUEST_UPDATED, {}) as ws:
        await mutate(live, world.token("admin"), CREATE_REQUEST, {"id": world.ids["customerB"], "body": "for B"})
        messages = await received(ws)
    assert [d["requestUpdated"]["customer"]["id"] for d in data_of(messages)] == [world.ids["customerB"]]


async def test_a_customer_receives_only_its_own_request_events(app, live, world):
    async with subscription(live, world.token("customer"), REQUEST_UPDATED, {}) as ws:
        await mutate(live, world.token("admin"), CREATE_REQUEST, {"id": world.ids["customerB"], "body": "B-SECRET x"})
        await mutate(live, world.token("admin"), CREATE_REQUEST, {"id": world.ids["customerA"], "body": "for A"})
        messages = await received(ws)
    assert [d["requestUpdated"]["body"] for d in data_of(messages)] == ["for A"]
    assert world.leaks_b(json.dumps(messages)) == []


async def test_a_customer_cannot_subscribe_to_another_customers_requests(app, live, world):
    async with subscription(live, world.token("customer"), REQUEST_UPDATED, {"c": world.ids["customerB"]}) as ws:
        await mutate(live, world.token("admin"), CREATE_REQUEST, {"id": world.ids["customerB"], "body": "B-SECRET y"})
        messages = await received(ws)
    assert data_of(messages) == []
    sent = {world.ids["customerB"]}
    assert [m for m in world.leaks_b(json.dumps(messages)) if m not in sent] == []


async def test_a_customer_cannot_listen_to_another_customers_chat(app, live, world):
    async with subscription(live, world.token("customer"), CHAT_MESSAGE_ADDED, {"s": world.ids["sessionB"]}) as ws:
        await mutate(live, world.token("operator"), POST_MESSAGE, {"id": world.ids["sessionB"], "body": "B-SECRET z"})
        messages = await received(ws)
    assert data_of(messages) == []
    assert "B-SECRET" not in json.dumps(messages)


async def test_a_customer_listens_to_its_own_chat(app, live, world):
    async with subscription(live, world.token("customer"), CHAT_MESSAGE_ADDED, {"s": world.ids["sessionA"]}) as ws:
        await mutate(live, world.token("operator"), POST_MESSAGE, {"id": world.ids["sessionA"], "body": "hello A"})
        messages = await received(ws)
    assert [d["chatMessageAdded"]["body"] for d in data_of(messages)] == ["hello A"]


async def test_customer_created_is_staff_only(app, live, world):
    async with (
        subscription(live, world.token("sales"), CUSTOMER_CREATED, {}) as staff_ws,
        subscription(live, world.token("customer"), CUSTOMER_CREATED, {}) as customer_ws,
    ):
        await mutate(live, world.token("admin"), CREATE_CUSTOMER)
        staff_messages = await received(staff_ws)
        customer_messages = await received(customer_ws, seconds=0.5)
    assert [d["customerCreated"]["email"] for d in data_of(staff_messages)] == ["newly.made@example.com"]
    assert data_of(customer_messages) == []
    assert "FORBIDDEN" in error_codes(customer_messages)


async def test_anonymous_connections_cannot_subscribe(app, live, world):
    async with subscription(live, None, REQUEST_UPDATED, {}) as ws:
        await mutate(live, world.token("admin"), CREATE_REQUEST, {"id": world.ids["customerA"], "body": "for A"})
        messages = await received(ws)
    assert data_of(messages) == []
    assert "UNAUTHENTICATED" in error_codes(messages)
