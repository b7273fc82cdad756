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

The answer is byte for byte the full pipeline's for a compiled document: `{"data": <PostgreSQL's JSON>}` plus
`extensions.cost` for an ADMIN, with the same media type; the request log line is the same too.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from compiled.runtime import CompiledReads
from compiled.writes import OutcomeUnknown
from integrations.auth.tokens import TokenError
from resolvers.context import RequestOutcome
from resolvers.viewer import Viewer
from schema.extensions import selected_operation
from schema.limits import Limits, measure, over_limit
from server.http_rules import GRAPHQL_RESPONSE_JSON, JSON, wants_graphql_response

BODY_KEYS = frozenset({"query", "operationName", "variables"})
VERIFIED_TOKENS = 10_000


@dataclass
class HotContext:
    """What the request log reads of a request's context (server/app.py: RequestLog)."""

    viewer: Viewer
    operation_name: str | None
    outcome: RequestOutcome = field(default_factory=RequestOutcome)


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

    async def serve(self, request: Request) -> Response | None:
        """The response, or None: the full pipeline answers (the body stays readable, Starlette keeps it)."""
        state = self.state
        settings = state.settings
        if not self.compiled.enabled() or not self.compiled.hot.items:
            return None
        headers = request.headers
        media = (headers.get("content-type") or "").split(";")[0].strip().lower()
        scheme, _, token = (headers.get("authorization") or "").partition(" ")
        token = token.strip()
        if media != JSON or scheme.lower() != "bearer" or not token or " " in token:
            return None
        accept = headers.get("accept")
        if not _accepts_json(accept):
            return None
        persisted = getattr(state, "persisted_queries", None)
        if persisted is None or persisted.trusted_only:
            return None
        try:
            data = orjson.loads(await request.body())
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
                request_id = request.scope.get("state", {}).get("request_id")  # RequestLog's, for the audit record
                answered = await self.compiled.run_hot(
                    hot, variables, user_id=user_id, engine=state.engine, request_id=request_id
                )
            else:
                async with asyncio.timeout(settings.limits.execution_timeout_seconds):
                    answered = await self.compiled.run_hot(hot, variables, user_id=user_id, engine=state.engine)
        except TimeoutError:
            return None
        except OutcomeUnknown:  # the full pipeline answers SERVICE_UNAVAILABLE without writing again
            request.state.write_outcome_unknown = True
            return None
        if answered is None:
            return None
        text, viewer = answered
        body = b'{"data":' + text.encode()
        body += b',"extensions":{"cost":%d}}' % cost if viewer.is_admin else b"}"
        outcome = RequestOutcome(query_cost=cost, compiled=True)
        request.state.graphql_context = HotContext(viewer=viewer, operation_name=hot.operation_name, outcome=outcome)
        return Response(body, media_type=GRAPHQL_RESPONSE_JSON if wants_graphql_response(accept) else JSON)

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
