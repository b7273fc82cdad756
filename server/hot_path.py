"""The hot path: a query document the full pipeline has already answered with one compiled statement is served
again without strawberry — no parsing, validation, context or executor — when the same text comes back.

What a request must be to take it (anything else takes the full pipeline, which answers it as always):
- a POST with `Content-Type: application/json` whose body is exactly `query` (+ `operationName`, `variables`),
  no `extensions` (persisted queries), on a server that is not limited to registered documents;
- a `(query, operationName)` that the full pipeline validated, measured and compiled before (`CompiledReads.hot`);
- a valid access token of this server (`Authorization: Bearer`) for an active user — read with the document's
  statement on one pooled connection;
- a cost within `LIMITS_MAX_COST` for these variables, arguments the resolver path accepts, and an Accept header
  that takes JSON.

A compiled write (`createCustomer`, compiled/writes.py) takes it too: one statement writes the row, its audit
record, outbox row and notification, and checks the viewer's row itself.

Where it runs: `HotLane`, the first middleware, takes a request that qualifies before the rest of the stack (a
`Content-Length` within the body limit, no `Origin`), and hands it on with its body when the hot path declines; the
GraphQL view tries the ones the lane passed on untried (a browser's, a chunked body). Once per request.

The answer is byte for byte the full pipeline's for a compiled document: `{"data": <PostgreSQL's JSON>}` plus
`extensions.cost` for an ADMIN, with the same media type; the request log line is the same too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compiled.runtime import CompiledReads
from compiled.writes import OutcomeUnknown
from integrations.auth.tokens import TokenError
from resolvers.context import RequestOutcome
from resolvers.viewer import Viewer
from schema.extensions import selected_operation
from schema.limits import Limits, measure, over_limit
from server.http_rules import GRAPHQL_RESPONSE_JSON, JSON, wants_graphql_response
from server.request_log import record, request_id

log = logging.getLogger("customer_graph.hot_path")
BODY_KEYS = frozenset({"query", "operationName", "variables"})
VERIFIED_TOKENS = 10_000


@dataclass
class HotContext:
    """What the request log reads of a request's context (server/request_log.py)."""

    viewer: Viewer
    operation_name: str | None
    outcome: RequestOutcome = field(default_factory=RequestOutcome)


@dataclass(frozen=True, slots=True)
class HotAnswer:
    body: bytes
    media_type: str


def _accepts_json(accept: str | None) -> bool:
    if not accept:
        return True
    return any(
        part.split(";")[0].strip().lower() in ("*/*", "application/*", JSON, GRAPHQL_RESPONSE_JSON)
        for part in accept.split(",")
    )


class HotPath:
    def __init__(self, state: Any, compiled: CompiledReads) -> None:
        self.state = state
        self.compiled = compiled
        self.limits = Limits.from_settings(state.settings.limits)
        self.verified: OrderedDict[str, tuple[int, float]] = OrderedDict()  # token -> (user id, expiry)

    def armed(self) -> bool:
        """Whether any request could take the hot path now (a document is hot and the compiled path is on)."""
        return bool(self.compiled.hot.items) and self.compiled.enabled()

    async def serve(
        self, headers: Headers, read_body: Callable[[], Awaitable[bytes]], state: dict[str, Any]
    ) -> HotAnswer | None:
        """The answer to a request with these headers and body (read only once the headers qualify), or None: the
        full pipeline answers it. `state` is the request's `scope["state"]`: it holds the request id (the request
        log's), and gets the context the request log reads, and the mark of a write whose outcome is unknown."""
        settings = self.state.settings
        if state.get("hot_path_tried") or not self.armed():  # once per request: the lane's miss is not retried
            return None
        state["hot_path_tried"] = True
        media = (headers.get("content-type") or "").split(";")[0].strip().lower()
        scheme, _, token = (headers.get("authorization") or "").partition(" ")
        token = token.strip()
        if media != JSON or scheme.lower() != "bearer" or not token or " " in token:
            return None
        accept = headers.get("accept")
        if not _accepts_json(accept):
            return None
        persisted = getattr(self.state, "persisted_queries", None)
        if persisted is None or persisted.trusted_only:
            return None
        try:
            data = orjson.loads(await read_body())
        except orjson.JSONDecodeError:
            return None
        if type(data) is not dict or not data.keys() <= BODY_KEYS:
            return None
        query, operation_name, variables = data.get("query"), data.get("operationName"), data.get("variables")
        if type(query) is not str or (operation_name is not None and type(operation_name) is not str):
            return None
        if variables is not None and type(variables) is not dict:
            return None
        hot = self.compiled.hot.get((query, operation_name))
        if hot is None:
            return None
        user_id = self._user_id(token)
        if user_id is None:
            return None
        cost = hot.cost
        if cost is None:  # page sizes may come from variables: measured for these
            operation = selected_operation(hot.document, operation_name)
            if operation is None:
                return None
            figures = measure(self.compiled.schema, hot.document, operation, variables=variables, limits=self.limits)
            if over_limit(figures, self.limits) is not None:
                return None
            cost = figures.total_cost
        try:
            if hot.tree.is_write:  # never cancelled half-way: PostgreSQL's statement_timeout bounds it
                answered = await self.compiled.run_hot(
                    hot, variables, user_id=user_id, engine=self.state.engine, request_id=state.get("request_id")
                )
            else:
                async with asyncio.timeout(settings.limits.execution_timeout_seconds):
                    answered = await self.compiled.run_hot(hot, variables, user_id=user_id, engine=self.state.engine)
        except TimeoutError:
            return None
        except OutcomeUnknown:  # the full pipeline answers SERVICE_UNAVAILABLE without writing again
            state["write_outcome_unknown"] = True
            return None
        if answered is None:
            return None
        text, viewer = answered
        out = b'{"data":' + text.encode()
        out += b',"extensions":{"cost":%d}}' % cost if viewer.is_admin else b"}"
        outcome = RequestOutcome(query_cost=cost, compiled=True)
        state["graphql_context"] = HotContext(viewer=viewer, operation_name=hot.operation_name, outcome=outcome)
        return HotAnswer(out, GRAPHQL_RESPONSE_JSON if wants_graphql_response(accept) else JSON)

    def _user_id(self, token: str) -> int | None:
        """The user of a valid access token of this server; None for anything else (an SSO token, a bad one).

        A token's signature, issuer and audience never change, so a verified one is remembered (bounded) with its
        expiry and checked against the clock on every use; the full pipeline still sees every expired token."""
        known = self.verified.get(token)
        if known is not None:
            if time.time() < known[1]:
                self.verified.move_to_end(token)
                return known[0]
            del self.verified[token]
        return self._verify(token)

    def _verify(self, token: str) -> int | None:
        services = self.state.services
        oidc = services.oidc
        if oidc is not None and oidc.issuer != services.tokens.issuer and oidc.accepts(token):
            return None
        try:
            claims = services.tokens.verify(token)
        except TokenError:
            return None
        sub = str(claims.get("sub", ""))
        exp = claims.get("exp")
        if not sub.isdigit() or len(sub) > 18 or not isinstance(exp, int | float):
            return None
        self.verified[token] = (int(sub), float(exp))
        if len(self.verified) > VERIFIED_TOKENS:
            self.verified.popitem(last=False)
        return int(sub)


class HotLane:
    """The first middleware: a request the hot path answers is answered here, before the rest of the stack (proxy
    headers, body limit, CORS, routing, the GraphQL view), which it does not need; the request log is the same.

    It takes a `POST /graphql` with `Content-Type: application/json`, a `Content-Length` within
    `LIMITS_MAX_BODY_BYTES` and no `Origin` (CORS stays with its middleware), once some document is hot. It reads
    the body; when the hot path does not answer, the rest of the stack gets the request with that body, as sent."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot: HotPath | None = None
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/graphql":
            hot = getattr(scope["app"].state, "hot_path", None)
        if hot is None or scope.get("root_path") or not hot.armed():
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length") or ""
        media = (headers.get("content-type") or "").split(";")[0].strip().lower()
        if (
            media != JSON
            or "origin" in headers
            or "authorization" not in headers
            or not declared.isdigit()
            or int(declared) > self.max_body_bytes
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        messages: list[Message] = []
        size = 0
        while True:  # the body, as BodyLimit would let it through; anything else goes on to the stack as it came
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_body_bytes or not message.get("more_body", False):
                break
        complete = messages[-1]["type"] == "http.request" and not messages[-1].get("more_body", False)
        rid = request_id(scope)
        state: dict[str, Any] = scope["state"]
        answer = None
        if complete and size <= self.max_body_bytes:
            body = b"".join(m.get("body", b"") for m in messages)

            async def given() -> bytes:
                return body

            try:
                answer = await hot.serve(headers, given, state)
            except Exception:  # a fault of ours: the full pipeline answers (a write sent has raised OutcomeUnknown)
                log.exception("the hot path failed; the full pipeline answers")
        if answer is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", b"%d" % len(answer.body)),
                    (b"content-type", answer.media_type.encode()),
                    (b"x-request-id", rid.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})
        hot.compiled.stats["hot lane"] += 1
        record(scope, rid, 200, time.perf_counter() - started)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives these messages first, then the connection's own."""
    pending = list(messages)

    async def again() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return again
