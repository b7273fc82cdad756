"""The request log: one JSON line and one metrics sample per HTTP request, and the X-Request-ID it honours and
returns. `RequestLog` is the middleware; `request_id` and `record` are shared with the hot lane
(server/hot_path.py: `HotLane`), which answers some requests before the middleware stack."""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from typing import Any, Protocol

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolvers.context import RequestOutcome
from resolvers.viewer import Viewer
from server import metrics

log = logging.getLogger("customer_graph.http")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
CLIENT_CLOSED_REQUEST = 499  # logged (never sent) when the client disconnects mid-request, as nginx does
ROUTES = frozenset({"/", "/graphql", "/health", "/ready", "/metrics"})


class Logged(Protocol):
    """What the log line reads of a request's context (the resolver path's RequestContext, the hot path's own)."""

    @property
    def viewer(self) -> Viewer | None: ...

    @property
    def operation_name(self) -> str | None: ...

    @property
    def outcome(self) -> RequestOutcome: ...


class _Ids:
    """Request ids as unique as uuid4's hex (32 hex digits) without a system call each: 64 random bits per
    process (drawn again in a forked child), then a counter."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.count = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.count) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


_ids = _Ids()
_samples: dict[tuple[str, str, str], tuple[Any, Any]] = {}  # (route, operation, outcome) -> the metrics' children


def request_id(scope: Scope) -> str:
    """The request's id, kept in `scope["state"]` for everything after: the one an earlier layer chose, else the
    client's `X-Request-ID` when it is a plain token, else a new one."""
    state = scope.setdefault("state", {})
    found: str | None = state.get("request_id")
    if found is None:
        given = b""
        for name, value in scope.get("headers") or ():
            if name == b"x-request-id":
                given = value
                break
        text = given.decode("latin-1")
        found = text if REQUEST_ID.match(text) else _ids.next()
        state["request_id"] = found
    return found


def record(scope: Scope, request_id: str, status: int, elapsed: float, *, client_gone: bool = False) -> None:
    """The request's metrics sample and (except for /health and /metrics) its log line."""
    ctx: Logged | None = scope["state"].get("graphql_context")
    path = scope.get("path", "")
    route = path if path in ROUTES else "other"
    codes = ctx.outcome.error_codes if ctx is not None else None
    outcome = "ok" if status < 400 and not codes else ("error" if status < 500 else "server_error")
    if client_gone:
        outcome = "client_closed"
    if codes and "INTERNAL_SERVER_ERROR" in codes:
        outcome = "server_error"
    operation = (ctx.operation_name if ctx is not None else None) or "-"
    if route == "/graphql":
        operation = operation[:64]
    # Metric labels stay bounded: a registered document's operation name, else "other" (never client-chosen)
    label = (ctx.outcome.known_operation if ctx is not None else None) or ("other" if route == "/graphql" else "-")
    key = (route, label, outcome)  # a bounded set of label values: their children are looked up once
    children = _samples.get(key)
    if children is None:
        children = _samples[key] = (metrics.REQUESTS.labels(*key), metrics.LATENCY.labels(*key))
    children[0].inc()
    children[1].observe(elapsed)
    if route not in ("/health", "/metrics"):
        viewer = ctx.viewer if ctx is not None else None
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": scope.get("method"),
                "route": route,
                "status": status,
                "operation": operation,
                "outcome": outcome,
                "error_codes": codes or [],
                "duration_ms": round(elapsed * 1000, 2),
                "viewer_id": viewer.user_id if viewer else None,
            },
        )


class RequestLog:
    """The middleware: sets the request id, adds it to the response's headers, and records the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        client_gone = False
        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:  # the client went away before its request body arrived: its choice, not our error
            client_gone, status = True, CLIENT_CLOSED_REQUEST
        finally:
            record(scope, rid, status, time.perf_counter() - started, client_gone=client_gone)
