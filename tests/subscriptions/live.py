"""Real server processes and a real graphql-transport-ws client for the subscription tests.

`ServerProcess` runs `uvicorn --factory server.app:create_app_from_env` in its own process on 127.0.0.1 (exactly
what `customer-graph serve` runs), configured by environment variables like a deployment; it is ended by its pid.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import TEST_SIGNING_KEY as TEST_JWT_SECRET  # the key test_settings() signs with

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, database_url: str, **env: str) -> None:
        self.port = free_port()
        self.base = f"127.0.0.1:{self.port}"
        self.log_path = Path(tempfile.mkstemp(prefix="cg-server-", suffix=".log")[1])
        data_dir = tempfile.mkdtemp(prefix="cg-data-")
        self.env = {
            **os.environ,
            "APP_ENV": "test",
            "APP_LOG_LEVEL": "INFO",
            "APP_DATA_DIR": data_dir,
            "STORAGE_LOCAL_PATH": os.path.join(data_dir, "files"),
            "DATABASE_URL": database_url,
            "DATABASE_POOL_SIZE": "5",
            "AUTH_JWT_SECRET": TEST_JWT_SECRET,
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> ServerProcess:
        command = [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app_from_env"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--ws", "websockets-sansio", "--no-access-log"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
            if self.listening():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start listening for events: {self.log()}")

    def metric(self, name: str) -> float | None:
        try:
            text = httpx.get(f"http://{self.base}/metrics", timeout=2).text
        except httpx.HTTPError:
            return None
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def listening(self) -> bool:
        return self.metric("customer_graph_event_listener_up") == 1.0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


async def graphql(base: str, token: str | None, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=f"http://{base}", timeout=20) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        return response.json()  # type: ignore[no-any-return]


async def mutate(base: str, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = await graphql(base, token, query, variables)
    assert not body.get("errors"), body
    payload = next(iter(body["data"].values()))
    assert payload.get("errors") in (None, []), body
    return body


@asynccontextmanager
async def connected(base: str, token: str | None) -> AsyncIterator[ClientConnection]:
    """A graphql-transport-ws connection, acknowledged."""
    async with connect(f"ws://{base}/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init: dict[str, Any] = {"type": "connection_init"}
        if token:
            init["payload"] = {"authorization": f"Bearer {token}"}
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        yield ws


async def subscribe(ws: ClientConnection, query: str, variables: dict[str, Any] | None = None, id: str = "1") -> None:
    message = {"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
    await ws.send(json.dumps(message))
    await asyncio.sleep(0.3)  # let the server register the subscription before events happen


async def received(ws: ClientConnection, seconds: float = 2.0, *, until: int | None = None) -> list[dict[str, Any]]:
    """Messages (pings left out) within `seconds`, or until `until` data messages arrived."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), left))
        except (TimeoutError, ConnectionClosed):
            break
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        messages.append(message)
        if message["type"] in ("error", "complete"):
            break
        if until is not None and len(data_of(messages)) >= until:
            break
    return messages


def data_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["payload"]["data"] for m in messages if m["type"] == "next" and (m["payload"].get("data") or None)]


def error_codes(messages: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for m in messages:
        if m["type"] == "error":
            found += [(e.get("extensions") or {}).get("code", "ERROR") for e in m.get("payload") or []]
        elif m["type"] == "next":
            found += [(e.get("extensions") or {}).get("code") for e in m["payload"].get("errors") or []]
    return found


async def close_code(ws: ClientConnection, seconds: float = 5.0) -> int | None:
    """The code the server closes with (pings answered meanwhile); None if it stays open."""
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            message = json.loads(await asyncio.wait_for(ws.recv(), left))
            if message.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    except TimeoutError:
        return None
    return None
