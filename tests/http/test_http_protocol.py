"""The HTTP/1.1 protocol `customer-graph serve` runs (server/http_protocol.py): a response goes out in one write,
keep-alive and `Connection: close` still behave, over a real socket to a real uvicorn server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from server.http_protocol import CoalescingTransport, HttpProtocol


class RecordingTransport(asyncio.Transport):
    """asyncio's transport interface, recording what reaches the socket."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def test_writes_within_one_loop_turn_go_out_as_one() -> None:
    # given
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())

    # when a status line with headers and then a body are written in the same turn
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"{}")
    assert real.writes == []  # nothing yet: the turn has not ended
    await asyncio.sleep(0)

    # then the socket saw one write holding both
    assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


async def test_closing_sends_what_was_gathered_first() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    assert real.writes == [b"last words"] and real.closed
    await asyncio.sleep(0)
    assert real.writes == [b"last words"]  # the scheduled flush finds nothing more to send


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b'{"data":{"ok":true}}'
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def server() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=HttpProtocol, log_config=None, lifespan="off")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert instance.started
    yield port
    instance.should_exit = True
    thread.join(timeout=10)


def read_response(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}}"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_real_server_answers_keep_alive_and_close(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as conn:
        # two requests on one connection
        for _ in range(2):
            conn.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            answer = read_response(conn)
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
            assert answer.endswith(b'\r\n\r\n{"data":{"ok":true}}')
        # then one asking to close: answered in full, then the server closes
        conn.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        answer = read_response(conn)
        assert answer.endswith(b'{"data":{"ok":true}}')
        assert conn.recv(1) == b""
