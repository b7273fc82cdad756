"""A small HTTP server on 127.0.0.1 that speaks SendGrid's v3 `POST /v3/mail/send`, for the real `sendgrid` client.

It records every request and answers what the test planned: 202 (accepted), 400, 401, 429 with `Retry-After`,
500, 503, or `hang` (holds the connection open until released or the hang time passes, then closes it without
an answer). Unplanned requests get `default` (202). A request with a bad API key is 401 and a body SendGrid would
refuse (no personalizations, recipient, from, subject or content) is 400, like the real service.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "SG.test-key"


@dataclass(frozen=True)
class Answer:
    status: int = 202
    retry_after: str | None = None
    hang: float = 0.0  # seconds to hold the connection without answering


ACCEPT = Answer(202)
HANG = Answer(0, hang=30.0)


@dataclass
class Received:
    status: int  # what the stub answered; 0 when it hung up without answering
    key: str | None
    to: list[str]
    subject: str | None
    body: dict[str, Any] = field(repr=False)
    authorization: str | None = None
    at: float = 0.0  # time.monotonic() when answered


class SendGridStub:
    def __init__(self, *, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.received: list[Received] = []
        self.plan: deque[Answer] = deque()
        self.default = ACCEPT
        self.latency = 0.0  # seconds before each answer, like a real API's round trip
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.arrived = threading.Condition(self.lock)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="sendgrid-stub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> SendGridStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def answer(self, *answers: Answer) -> None:
        """The next requests get these answers, in order; then `default`."""
        with self.lock:
            self.plan.extend(answers)

    def accepted(self) -> list[str | None]:
        """Idempotency keys of the messages answered 202, in arrival order (repeats included)."""
        with self.lock:
            return [r.key for r in self.received if r.status == 202]

    def statuses(self) -> list[int]:
        with self.lock:
            return [r.status for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Until at least `count` requests arrived (answered or hanging)."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) + self._hanging >= count, timeout)

    _hanging = 0

    def _decide(self, body: dict[str, Any], authorization: str | None) -> Answer:
        if authorization != f"Bearer {self.api_key}":
            return Answer(401)
        if not _valid(body):
            return Answer(400)
        with self.lock:
            return self.plan.popleft() if self.plan else self.default

    def _record(self, status: int, body: dict[str, Any], authorization: str | None) -> None:
        to = [t.get("email") for p in body.get("personalizations", []) for t in p.get("to", [])]
        key = (body.get("custom_args") or {}).get("idempotency_key")
        with self.arrived:
            self.received.append(Received(status, key, to, body.get("subject"), body, authorization, time.monotonic()))
            self.arrived.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path != "/v3/mail/send":
                    self._send(404, {"errors": [{"message": "not found"}]})
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                authorization = self.headers.get("Authorization")
                answer = stub._decide(body if isinstance(body, dict) else {}, authorization)
                if answer.hang:
                    with stub.arrived:
                        stub._hanging += 1
                        stub.arrived.notify_all()
                    stub.release.wait(answer.hang)
                    with stub.arrived:
                        stub._hanging -= 1
                    stub._record(0, body, authorization)
                    self.close_connection = True
                    return
                if stub.latency:
                    time.sleep(stub.latency)
                stub._record(answer.status, body, authorization)
                if answer.status == 202:
                    self._send(202, None)
                    return
                messages = {
                    400: "The to array is required for all personalization objects.",
                    401: "The provided authorization grant is invalid, expired, or revoked",
                    429: "too many requests",
                }
                headers = {"Retry-After": answer.retry_after} if answer.retry_after is not None else {}
                self._send(answer.status, {"errors": [{"message": messages.get(answer.status, "error")}]}, headers)

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Message-Id", "stub")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _valid(body: dict[str, Any]) -> bool:
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return False
    if any(not p.get("to") for p in personalizations if isinstance(p, dict)):
        return False
    content = body.get("content")
    return bool((body.get("from") or {}).get("email") and body.get("subject") and isinstance(content, list) and content)
