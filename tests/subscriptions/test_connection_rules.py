"""The websocket's rules: graphql-transport-ws only, init and its timeout, keep-alive, the subscription limit,
malformed messages, and sockets closed when their token expires or their user is deactivated.

One real server process with short timings (set through its environment, as in a deployment)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from db import models
from db.enums import Role
from schema.ids import to_global_id
from server.app import build_services
from server.settings import Settings
from tests.conftest import test_settings as settings_with
from tests.factories import make_customer, make_user
from tests.subscriptions.live import (
    ServerProcess,
    close_code,
    connected,
    data_of,
    error_codes,
    mutate,
    received,
    subscribe,
)

REQUEST_UPDATED = "subscription { requestUpdated { id body } }"
CHAT_MESSAGE_ADDED = "subscription Chat($s: ID!) { chatMessageAdded(sessionId: $s) { id body } }"
CREATE_REQUEST = """
mutation Create($c: ID!) { createRequest(input: {customerId: $c, body: "hello"}) { request { id } errors { code } } }
"""


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[ServerProcess]:
    process = ServerProcess(
        database_url,
        SUBSCRIPTIONS_INIT_TIMEOUT_SECONDS="1",
        SUBSCRIPTIONS_KEEP_ALIVE_SECONDS="0.5",
        SUBSCRIPTIONS_RECHECK_SECONDS="0.5",
        SUBSCRIPTIONS_MAX_PER_CONNECTION="100",
    ).start()
    try:
        yield process
    finally:
        process.stop()


def url(server: ServerProcess) -> str:
    return f"ws://{server.base}/graphql"


def test_the_documented_defaults():
    limits = Settings().subscriptions
    assert (limits.init_timeout_seconds, limits.max_per_connection) == (10.0, 100)


async def test_subscribe_before_connection_init_closes_with_4401(server):
    async with connect(url(server), subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": REQUEST_UPDATED}}))
        assert await close_code(ws) == 4401


async def test_no_connection_init_within_the_timeout_closes_with_4408(server):
    async with connect(url(server), subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        assert await close_code(ws, seconds=4) == 4408


async def test_a_second_connection_init_closes_with_4429(app, server):
    account = await make_user(app, Role.OPERATOR)
    async with connected(server.base, account.token) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert await close_code(ws) == 4429


async def test_a_bad_token_closes_with_4403(server):
    async with connect(url(server), subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer nope"}}))
        assert await close_code(ws) == 4403


async def test_the_legacy_graphql_ws_protocol_is_refused(server):
    code: int | str | None = None
    try:
        async with connect(url(server), subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
            assert ws.subprotocol is None
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            code = await close_code(ws)
    except InvalidHandshake:
        code = "refused at handshake"
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
    assert code in (4406, "refused at handshake")


async def test_the_server_pings_and_answers_pings(app, server):
    account = await make_user(app, Role.OPERATOR)
    async with connected(server.base, account.token) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        seen: list[str] = []
        for _ in range(4):
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), 3))["type"])
    assert "pong" in seen
    assert "ping" in seen  # the server's own keep-alive, every 0.5 s here


async def test_the_101st_subscription_on_one_connection_is_an_error(app, server):
    account = await make_user(app, Role.ADMIN)
    customer_id = to_global_id("Customer", (await make_customer(app)).id)  # type: ignore[arg-type]
    async with connected(server.base, account.token) as ws:
        for n in range(100):
            message = {"id": f"s{n}", "type": "subscribe", "payload": {"query": REQUEST_UPDATED}}
            await ws.send(json.dumps(message))
        await subscribe(ws, REQUEST_UPDATED, id="one-too-many")
        refused = await received(ws, 2)
        await mutate(server.base, account.token, CREATE_REQUEST, {"c": customer_id})
        delivered = await received(ws, 5, until=100)
    assert [(m["type"], m["id"]) for m in refused] == [("error", "one-too-many")]
    assert error_codes(refused) == ["QUERY_TOO_COMPLEX"]
    assert len(data_of(delivered)) == 100
    assert {m["id"] for m in delivered if m["type"] == "next"} == {f"s{n}" for n in range(100)}


async def test_completing_a_subscription_frees_its_place(app, server):
    account = await make_user(app, Role.ADMIN)
    customer_id = to_global_id("Customer", (await make_customer(app)).id)  # type: ignore[arg-type]
    async with connected(server.base, account.token) as ws:
        await subscribe(ws, REQUEST_UPDATED, id="a")
        await ws.send(json.dumps({"id": "a", "type": "complete"}))
        await subscribe(ws, REQUEST_UPDATED, id="b")
        await mutate(server.base, account.token, CREATE_REQUEST, {"c": customer_id})
        messages = await received(ws, 2)
    assert [m["id"] for m in messages if m["type"] == "next"] == ["b"]


MALFORMED: list[Any] = [
    "not json",
    b"\x00binary",
    "[]",
    '"just a string"',
    '{"type": 5}',
    '{"no": "type"}',
    '{"type": "unknown"}',
    '{"type": "subscribe", "id": "1", "payload": "query"}',
    '{"type": "subscribe", "id": 1, "payload": {"query": "subscription { requestUpdated { id } }"}}',
    '{"type": "subscribe", "id": "1", "payload": {"query": 42}}',
    '{"type": "subscribe", "id": "1", "payload": {"query": "subscription { requestUpdated { id } }", "variables": []}}',
    '{"type": "subscribe", "id": "1", "payload": {"query": "subscription {"}}',
    '{"type": "complete"}',
    '{"type": "ping", "payload": "x"}',
]


@pytest.mark.parametrize("message", MALFORMED)
async def test_a_malformed_message_closes_with_4400(app, server, message):
    account = await make_user(app, Role.OPERATOR)
    async with connected(server.base, account.token) as ws:
        await ws.send(message)
        assert await close_code(ws) == 4400
    assert "Traceback" not in server.log()


async def test_a_malformed_connection_init_closes_with_4400(server):
    async with connect(url(server), subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": ["not", "an", "object"]}))
        assert await close_code(ws) == 4400


async def test_a_reused_subscription_id_closes_with_4409(app, server):
    account = await make_user(app, Role.OPERATOR)
    async with connected(server.base, account.token) as ws:
        await subscribe(ws, REQUEST_UPDATED, id="same")
        await subscribe(ws, REQUEST_UPDATED, id="same")
        assert await close_code(ws) == 4409


async def test_an_expired_token_closes_the_connection(app, server):
    user = (await make_user(app, Role.OPERATOR)).user
    short = build_services(settings_with(auth__token_ttl_seconds=2)).tokens
    token = short.issue(subject=str(user.id), role=user.role).token
    async with connected(server.base, token) as ws:
        await subscribe(ws, REQUEST_UPDATED)
        assert await close_code(ws, seconds=10) == 4403


async def test_a_deactivated_users_connection_is_closed(app, server):
    account = await make_user(app, Role.OPERATOR)
    bystander = await make_user(app, Role.OPERATOR)
    async with connected(server.base, account.token) as ws, connected(server.base, bystander.token) as other:
        await subscribe(ws, REQUEST_UPDATED)
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(update(models.User).where(models.User.id == account.id).values(is_active=False))
        assert await close_code(ws, seconds=5) == 4403
        assert await close_code(other, seconds=1) is None  # still open


async def test_a_user_whose_role_changed_is_closed(app, server):
    account = await make_user(app, Role.ADMIN)
    async with connected(server.base, account.token) as ws:
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(update(models.User).where(models.User.id == account.id).values(role="SALES"))
        assert await close_code(ws, seconds=5) == 4403


async def test_a_session_the_viewer_may_not_see_reads_like_one_that_does_not_exist(app, server):
    operator = await make_user(app, Role.OPERATOR)
    alice = await make_user(app, Role.CUSTOMER)
    bob = await make_user(app, Role.CUSTOMER)
    started = await mutate(
        server.base,
        operator.token,
        'mutation S($c: ID!) { startChatSession(input: {customerId: $c, title: "B-SECRET"}) { chatSession { id } } }',
        {"c": to_global_id("Customer", bob.user.customer_id)},  # type: ignore[arg-type]
    )
    bobs_session = started["data"]["startChatSession"]["chatSession"]["id"]
    answers = []
    for session_id in (bobs_session, to_global_id("ChatSession", 999_999), "garbage"):
        async with connected(server.base, alice.token) as ws:
            await subscribe(ws, CHAT_MESSAGE_ADDED, {"s": session_id})
            messages = await received(ws, 2)
        assert data_of(messages) == []
        answers.append([(e["message"], (e.get("extensions") or {}).get("code")) for e in _errors(messages)])
    assert answers[0] == answers[1] == answers[2] == [("No chat session with this ID.", "BAD_USER_INPUT")]


def _errors(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for m in messages:
        if m["type"] == "error":
            found += m["payload"]
        elif m["type"] == "next":
            found += m["payload"].get("errors") or []
    return found


async def test_closing_the_socket_mid_subscription_leaves_the_server_well(app, server):
    account = await make_user(app, Role.ADMIN)
    customer_id = to_global_id("Customer", (await make_customer(app)).id)  # type: ignore[arg-type]
    async with connected(server.base, account.token) as ws:
        await subscribe(ws, REQUEST_UPDATED)
    await mutate(server.base, account.token, CREATE_REQUEST, {"c": customer_id})
    async with connected(server.base, account.token) as ws:
        await subscribe(ws, REQUEST_UPDATED)
        await mutate(server.base, account.token, CREATE_REQUEST, {"c": customer_id})
        assert len(data_of(await received(ws, 3, until=1))) == 1
    assert "Traceback" not in server.log()
