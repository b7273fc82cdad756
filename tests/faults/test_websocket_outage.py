"""A websocket's `connection_init` while the database is down: the server closes the socket with 1013 (Try Again
Later, which the `graphql-ws` client retries) and a short reason, logs one line and no traceback, and goes on
serving; it never crashes the connection handler (an abrupt 1011 close or a dropped socket)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from integrations.auth.tokens import TokenService
from tests.conftest import TEST_SIGNING_KEY, serve_in_thread

TRY_AGAIN_LATER = 1013


def nothing_listens() -> str:
    """A PostgreSQL URL on a loopback port where nothing listens: the database is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/customer_graph"


def a_valid_token() -> str:
    tokens = TokenService(
        algorithm="HS256",
        secret=TEST_SIGNING_KEY,
        private_key=None,
        public_key=None,
        issuer="customer-graph",
        audience="customer-graph",
        ttl_seconds=600,
    )
    return tokens.issue(subject="1", role="ADMIN").token


async def handshake(url: str, payload: dict[str, Any]) -> tuple[int | None, str]:
    """connection_init: the close code and reason (None if the server acknowledged instead)."""
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), 15))
        except ConnectionClosed as closed:
            return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "no close frame")
        return None, json.dumps(message)


async def test_connection_init_while_the_database_is_down_closes_with_try_again_later(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.INFO)
    with serve_in_thread(nothing_listens()) as base:
        url = f"ws://{base.removeprefix('http://')}/graphql"
        # when a client signs in over a websocket, twice
        first = await handshake(url, {"authorization": f"Bearer {a_valid_token()}"})
        second = await handshake(url, {"authorization": f"Bearer {a_valid_token()}"})
        # and an anonymous one, which needs no database, is still acknowledged
        anonymous = await handshake(url, {})
    # then each sign-in is told to come back later, in words
    assert first[0] == TRY_AGAIN_LATER and "unavailable" in first[1], first
    assert second[0] == TRY_AGAIN_LATER, second
    assert anonymous[0] is None and json.loads(anonymous[1])["type"] == "connection_ack", anonymous
    # and nothing crashed: no traceback logged, by us or by uvicorn
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
