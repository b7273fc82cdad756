"""Builds the RequestContext for each HTTP request or websocket: viewer, loaders, clients."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types.unset import UNSET

from db.loaders import Loaders
from db.outage import RETRY_AFTER_SECONDS, is_unavailable
from resolvers.auth import viewer_from_authorization
from resolvers.context import RequestContext, Services
from resolvers.errors import ServiceUnavailable, Unauthenticated
from server.graphiql import render_page
from server.http_rules import GraphQLHTTPRules

log = logging.getLogger("customer_graph.errors")


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """graphql-transport-ws messages go out as text frames: strawberry sends binary ones when encode_json returns
    bytes (ours does, from orjson), and browser and Node clients (graphql-ws) reject binary messages."""

    async def send_json(self, message: Any) -> None:
        encoded = self.view.encode_json(message)
        try:
            await self.ws.send_text(encoded.decode() if isinstance(encoded, bytes) else encoded)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GraphQLApp(GraphQLHTTPRules, GraphQL):
    """strawberry's ASGI app with our context and the GraphQL-over-HTTP rules (server/http_rules.py)."""

    websocket_adapter_class = TextWebSocketAdapter

    def __init__(self, *args: Any, state: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = state  # lifespan state: settings, sessionmaker, services

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our own GraphiQL page, its assets served by this server (no CDN)."""
        return render_page(request, title=self.state.settings.app.name)

    def encode_json(self, data: object) -> bytes:
        """orjson (several times faster than json; it also passes the compiled path's PostgreSQL text, an
        `orjson.Fragment`, through untouched); json only for what orjson refuses (integers beyond 64 bits)."""
        try:
            return orjson.dumps(data)
        except TypeError:
            return json.dumps(data, separators=(",", ":")).encode()

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # its JSONDecodeError is json's: a bad body is still a 400

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        state = self.state
        loaders = Loaders(state.sessionmaker)
        request_id = getattr(request.state, "request_id", None) or uuid.uuid4().hex
        client = request.client.host if request.client else None
        ctx = RequestContext(
            settings=state.settings.for_resolvers(),
            sessionmaker=state.sessionmaker,
            loaders=loaders,
            services=state.services,
            request=request,
            request_id=request_id,
            client_address=client,
        )
        if isinstance(request, Request):
            try:
                ctx.viewer = await viewer_from_authorization(
                    request.headers.get("authorization"), services=state.services, loaders=loaders
                )
            except Unauthenticated as error:
                ctx.outcome.auth_error = error
            except Exception as error:
                # The token's user lookup needs the database: down or out of connections, the request is
                # SERVICE_UNAVAILABLE (one log line, no traceback); anything else is a bug and propagates.
                if not is_unavailable(error):
                    raise
                log.warning("database unavailable", extra={"request_id": request_id, "error": type(error).__name__})
                ctx.outcome.auth_error = ServiceUnavailable(
                    "The service is temporarily unavailable; retry shortly.", retryAfter=RETRY_AFTER_SECONDS
                )
        request.state.graphql_context = ctx
        return ctx

    async def on_ws_connect(self, context: RequestContext) -> Any:
        """Websockets authenticate in `connection_init`: `{"authorization": "Bearer <token>"}`.

        No authorization is an anonymous connection (the anonymous gate refuses its subscriptions); a bad one
        closes the socket with 4403."""
        params = context.connection_params or {}
        header = params.get("authorization", params.get("Authorization"))
        if header is None:
            return UNSET
        if not isinstance(header, str):
            raise ConnectionRejectionError()
        try:
            context.viewer = await viewer_from_authorization(header, services=context.services, loaders=context.loaders)
        except Unauthenticated:
            raise ConnectionRejectionError()
        return UNSET


def new_services(**kwargs: Any) -> Services:
    return Services(**kwargs)
