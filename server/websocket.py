"""The websocket side of /graphql: graphql-transport-ws only, with our connection rules.

strawberry's handler does the protocol; this subclass adds what the contract asks for:

- a message that is not a well-formed protocol message closes the socket with 4400 (never a traceback);
- subscribe before `connection_init` closes with 4401, no `connection_init` within the init timeout with 4408,
  a bad token with 4403 (server/context.py `on_ws_connect`); a token that cannot be checked because the
  database is down closes with 1013 (Try Again Later), one log line, no traceback;
- after the ack the server pings every `SUBSCRIPTIONS_KEEP_ALIVE_SECONDS`, and closes the socket with 4403 when
  the token expires; every `SUBSCRIPTIONS_RECHECK_SECONDS` one query per process re-reads the users of all open
  sockets and closes (4403) those whose user is gone, deactivated, or changed role or customer — clients
  reconnect with a fresh token (the `graphql-ws` client retries on 4403);
- at most `SUBSCRIPTIONS_MAX_PER_CONNECTION` operations at a time; the next one is an `error` message with code
  QUERY_TOO_COMPLEX (a limit, like depth and cost);
- every operation runs on its own copy of the connection's context (own loader bundle, own bookkeeping), and
  each subscription event gets a fresh loader bundle again (resolvers/events.py), so nothing cached lives as
  long as the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, cast

from graphql import GraphQLError
from sqlalchemy import select
from sqlmodel import col
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import CompleteMessage
from strawberry.utils.aio import aclosing

from db import models
from db.events import EventHub
from db.loaders import Loaders
from db.outage import is_unavailable
from integrations.auth.tokens import TokenError, unverified_parts
from resolvers import events
from resolvers.context import RequestContext, RequestOutcome
from server import metrics
from server.http_rules import GraphQLHTTPRules

log = logging.getLogger("customer_graph.websocket")

CLOSE_BAD_REQUEST = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_INTERNAL_ERROR = 4500  # graphql-ws's InternalServerError: its client does not retry
CLOSE_TRY_AGAIN_LATER = 1013  # the database is down: the graphql-ws client retries, as after a network loss


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def malformed(message: Any) -> str | None:
    """Why `message` is not a well-formed graphql-transport-ws client message; None when it is."""
    if not isinstance(message, dict) or not _is_text(message.get("type")):
        return "Message must be a JSON object with a string `type`"
    kind = message["type"]
    if kind == "connection_init":
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            return "Invalid connection init payload"
    elif kind in ("ping", "pong"):
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            return f"Invalid {kind} payload"
    elif kind == "subscribe":
        payload = message.get("payload")
        if not _is_text(message.get("id")) or not message["id"]:
            return "Subscribe message must have a string id"
        if not isinstance(payload, dict) or not _is_text(payload.get("query")):
            return "Subscribe payload must have a string query"
        if payload.get("variables") is not None and not isinstance(payload["variables"], dict):
            return "Subscribe variables must be an object"
        if payload.get("operationName") is not None and not _is_text(payload["operationName"]):
            return "Subscribe operationName must be a string"
        if payload.get("extensions") is not None and not isinstance(payload["extensions"], dict):
            return "Subscribe extensions must be an object"
    elif kind == "complete":
        if not _is_text(message.get("id")):
            return "Complete message must have a string id"
    else:
        return f"Unknown message type: {kind[:50]}"
    return None


def _token_expiry(params: dict[str, Any] | None) -> float | None:
    """`exp` of the (already verified) bearer token in the connection_init payload."""
    header = (params or {}).get("authorization", (params or {}).get("Authorization"))
    if not isinstance(header, str):
        return None
    try:
        _head, claims = unverified_parts(header.partition(" ")[2].strip())
    except TokenError:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


class SubscriptionHandler(BaseGraphQLTransportWSHandler[RequestContext, None]):
    """graphql-transport-ws with the rules above; one instance per websocket."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        state = cast(GraphQLHTTPRules, self.view).state  # strawberry types `view` as its base view; ours has `state`
        self.limits = state.settings.subscriptions
        self.registry: set[SubscriptionHandler] = state.websockets
        self.watchdog: asyncio.Task[None] | None = None
        self.closing = False

    # --- the socket ---

    async def handle(self) -> None:
        self.registry.add(self)
        metrics.WEBSOCKETS.inc()
        try:
            await super().handle()
        finally:
            metrics.WEBSOCKETS.dec()
            self.registry.discard(self)

    async def shutdown(self) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.watchdog
        await super().shutdown()

    async def close(self, code: int, reason: str) -> None:
        """Ends every operation, then closes the socket (nothing is sent after the close)."""
        if self.closing:
            return
        self.closing = True
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(Exception):
            await self.websocket.close(code=code, reason=reason)

    async def handle_invalid_message(self, error_message: str) -> None:
        await self.close(CLOSE_BAD_REQUEST, error_message[:120])

    async def handle_message(self, message: Any) -> None:
        problem = malformed(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        if message["type"] == "connection_init" and message.get("payload") is None:
            message = {"type": "connection_init"}
        await super().handle_message(message)

    async def send_message(self, message: Any) -> None:
        if not self.closing:
            await super().send_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except Exception as error:  # the token's user lookup (server/context.py `on_ws_connect`) failed
            if is_unavailable(error):
                log.warning("database unavailable at connection_init", extra={"error": type(error).__name__})
                await self.close(CLOSE_TRY_AGAIN_LATER, "The service is temporarily unavailable; retry shortly.")
            else:
                log.exception("connection_init failed")
                await self.close(CLOSE_INTERNAL_ERROR, "Internal server error")
            return
        if self.connection_acknowledged and self.watchdog is None:
            expires_at = _token_expiry(self.context.connection_params) if self.context.viewer else None
            self.watchdog = asyncio.create_task(self._watch(expires_at))

    async def _watch(self, expires_at: float | None) -> None:
        """Keep-alive pings; the close when the token expires."""
        interval = max(self.limits.keep_alive_seconds, 0.05)
        while not self.closing:
            wait = interval if expires_at is None else min(interval, expires_at - time.time())
            await asyncio.sleep(max(wait, 0))
            if expires_at is not None and time.time() >= expires_at:
                await self.close(CLOSE_FORBIDDEN, "Token expired")
                return
            with contextlib.suppress(Exception):
                await self.send_message({"type": "ping"})

    # --- operations ---

    async def handle_subscribe(self, message: Any) -> None:
        busy = self.connection_acknowledged and message["id"] not in self.operations
        if busy and len(self.operations) >= self.limits.max_per_connection:
            error = GraphQLError(
                f"At most {self.limits.max_per_connection} subscriptions per connection.",
                extensions={"code": "QUERY_TOO_COMPLEX"},
            )
            await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
            return
        await super().handle_subscribe(message)

    def operation_context(self) -> RequestContext:
        """A copy of the connection's context for one operation: its own loaders and bookkeeping."""
        base = self.context
        return dataclasses.replace(
            base, loaders=Loaders(base.sessionmaker), operation_name=None, outcome=RequestOutcome()
        )

    async def run_operation(self, operation: Operation[RequestContext, None]) -> None:
        """strawberry's `run_operation`, with a context of the operation's own."""
        metrics.SUBSCRIPTIONS.inc()
        try:
            result_source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=self.operation_context(),
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )
            async with aclosing(result_source):
                await self._send_result_stream(operation, result_source)
            await operation.send_operation_message(CompleteMessage(id=operation.id, type="complete"))
        except _OperationStreamClosed:
            return
        except Exception as error:  # the socket went away while sending: nothing left to tell
            if not self.closing:
                log.warning("websocket operation ended", extra={"error": type(error).__name__})
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
        finally:
            metrics.SUBSCRIPTIONS.dec()


# --- per process: the event hub and the users' recheck ---------------------------------------------


class HubMetrics:
    """db.events.Observer → /metrics."""

    def connected(self, *, reconnect: bool) -> None:
        metrics.EVENT_LISTENER_UP.set(1)
        if reconnect:
            metrics.EVENT_LISTENER_RECONNECTS.inc()

    def lost(self, *, reason: str) -> None:
        metrics.EVENT_LISTENER_UP.set(0)
        metrics.EVENT_LISTENER_LOSSES.inc()

    def received(self, *, channel: str) -> None:
        metrics.EVENTS_RECEIVED.labels(channel).inc()

    def dropped(self, *, channel: str) -> None:
        metrics.EVENTS_DROPPED.labels(channel).inc()


async def recheck_users(state: Any) -> int:
    """Closes (4403) the sockets whose user is gone, deactivated or changed; returns how many."""
    by_user: dict[int, list[SubscriptionHandler]] = {}
    for handler in list(state.websockets):
        viewer = handler.context.viewer
        if viewer is not None and not handler.closing:
            by_user.setdefault(viewer.user_id, []).append(handler)
    if not by_user:
        return 0
    U = models.User
    stmt = select(col(U.id), col(U.role), col(U.customer_id), col(U.is_active)).where(col(U.id).in_(list(by_user)))
    async with state.sessionmaker() as session:
        current = {row.id: row for row in (await session.execute(stmt)).all()}
    closed = 0
    for user_id, handlers in by_user.items():
        row = current.get(user_id)
        for handler in handlers:
            viewer = handler.context.viewer
            if (
                row is None
                or not row.is_active
                or viewer is None
                or row.role != viewer.role
                or row.customer_id != viewer.customer_id
            ):
                await handler.close(CLOSE_FORBIDDEN, "User deactivated or changed")
                closed += 1
    return closed


async def _recheck_forever(state: Any, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            closed = await recheck_users(state)
        except Exception as error:  # database down: try again next round
            log.warning("websocket user recheck failed", extra={"error": type(error).__name__})
            continue
        if closed:
            log.info("websockets closed after user change", extra={"closed": closed})


@contextlib.asynccontextmanager
async def running(state: Any, url: str) -> AsyncIterator[EventHub]:
    """The process's event hub (started in the background) and the recheck loop, for the app's lifespan."""
    hub = EventHub(url, channels=events.CHANNELS, observer=HubMetrics())
    state.websockets = set()
    state.services.events = hub
    await hub.start()
    recheck = asyncio.create_task(_recheck_forever(state, max(state.settings.subscriptions.recheck_seconds, 0.1)))
    try:
        yield hub
    finally:
        recheck.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recheck
        for handler in list(state.websockets):
            await handler.close(1001, "Server shutting down")
        await hub.stop()
