"""A small OpenAI-compatible chat-completions server on 127.0.0.1 for the tests: it records every request and
answers as told — success, an HTTP error with headers, a hang, or a malformed body."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from integrations.ai import OpenAIService

MODEL = "fake-gpt-1"
ANSWER = "The customer asked about a wrong VAT number; a corrected invoice was promised."


class ChatCompletionsServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.script: list[tuple[int, Any, dict[str, str]]] = []  # answers to give, in order; then `default`
        self.default: tuple[int, Any, dict[str, str]] = (200, None, {})
        self.hang_seconds = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                try:
                    server.requests.append(json.loads(raw))
                except ValueError:
                    server.requests.append({"unreadable": raw.decode("utf-8", "replace")})
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "no such route"}}, {})
                    return
                if server.hang_seconds:
                    time.sleep(server.hang_seconds)
                status, body, headers = server.script.pop(0) if server.script else server.default
                self._send(status, server.success() if body is None and status == 200 else body, headers)

            def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (time-out tests)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def success(self, text: str = ANSWER) -> dict[str, Any]:
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
        }

    def reset(self) -> None:
        self.requests.clear()
        self.headers.clear()
        self.script.clear()
        self.default = (200, None, {})
        self.hang_seconds = 0.0

    def prompt(self, n: int = -1) -> str:
        """Every text the n-th request sent (system and user messages)."""
        return "\n".join(m["content"] for m in self.requests[n]["messages"])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@asynccontextmanager
async def service_for(server: ChatCompletionsServer, **overrides: Any) -> AsyncIterator[OpenAIService]:
    """The real OpenAI service (the `openai` client) pointed at `server`."""
    values: dict[str, Any] = {
        "api_key": "sk-test-key",
        "model": "gpt-test",
        "base_url": server.url,
        "timeout_seconds": 1.0,
        "max_retries": 0,
    }
    values.update(overrides)
    service = OpenAIService(**values)
    try:
        yield service
    finally:
        await service.close()


def running_server() -> Iterator[ChatCompletionsServer]:
    server = ChatCompletionsServer()
    try:
        yield server
    finally:
        server.close()
