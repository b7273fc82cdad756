"""Builds the RequestContext for each HTTP request or websocket: viewer, loaders, clients."""

from __future__ import annotations

import json
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET

from db.loaders import Loaders
from resolvers.auth import viewer_from_authorization
from resolvers.context import RequestContext, Services
from resolvers.errors import Unauthenticated
from server.graphiql import render_page


class GraphQLApp(GraphQL):  # type: ignore[type-arg]
    """strawberry's ASGI app with our context."""

    def __init__(self, *args: Any, state: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = state  # lifespan state: settings, sessionmaker, services

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        """Our own GraphiQL page, its assets served by this server (no CDN)."""
        return render_page(request, title=self.state.settings.app.name)

    def encode_json(self, data: object) -> bytes:
        """orjson; it also passes the compiled path's PostgreSQL text (an `orjson.Fragment`) through untouched."""
        try:
            return orjson.dumps(data)
        except TypeError:  # e.g. an integer beyond 64 bits inside a JSON scalar
            return json.dumps(data, separators=(",", ":")).encode()

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:  # type: ignore[override]
        state = self.state
        loaders = Loaders(state.sessionmaker)
        request_id = getattr(request.state, "request_id", None) or uuid.uuid4().hex
        client = request.client.host if request.client else None
        ctx = RequestContext(
            settings=state.settings,
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
                ctx.extra["auth_error"] = error
        request.state.graphql_context = ctx
        return ctx

    async def on_ws_connect(self, context: RequestContext) -> Any:  # type: ignore[override]
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
