"""Websockets (graphql-transport-ws) authenticate in `connection_init`; a bad token closes with 4403.

Runs the real server (uvicorn on 127.0.0.1) and a real websocket client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from db.enums import Role
from tests.factories import make_user


@pytest.fixture
def ws_url(live_server: str) -> str:
    return f"ws://{live_server.removeprefix('http://')}/graphql"


async def handshake(url: str, payload: dict[str, Any] | None) -> dict[str, Any] | int:
    """The server's answer to connection_init: the ack message, or the close code."""
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await ws.send(json.dumps(message))
        try:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[no-any-return]
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code


async def test_a_valid_token_is_acknowledged(app, ws_url):
    account = await make_user(app, Role.OPERATOR)
    assert await handshake(ws_url, {"authorization": f"Bearer {account.token}"}) == {"type": "connection_ack"}


@pytest.mark.parametrize("authorization", ["Bearer garbage", "Token abc", "Bearer ", 42])
async def test_a_bad_token_closes_with_4403(app, ws_url, authorization):
    assert await handshake(ws_url, {"authorization": authorization}) == 4403


async def test_a_deactivated_user_closes_with_4403(app, ws_url):
    account = await make_user(app, Role.OPERATOR, is_active=False)
    assert await handshake(ws_url, {"authorization": f"Bearer {account.token}"}) == 4403


async def test_no_token_is_an_anonymous_connection(app, ws_url):
    assert await handshake(ws_url, {}) == {"type": "connection_ack"}
