"""The typed request context every resolver receives (built by server/context.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.loaders import Loaders
from resolvers.settings import ResolverSettings
from resolvers.viewer import Viewer

if TYPE_CHECKING:  # annotations only: importing the clients' modules here would load every SDK with the context
    from starlette.requests import HTTPConnection

    from db.events import EventHub
    from integrations.ai import AIService
    from integrations.auth.oidc import OIDCVerifier
    from integrations.auth.tokens import Tokens
    from integrations.email import EmailBackend
    from integrations.storage import Storage
    from resolvers.errors import CodedError


def _nothing() -> None:
    pass


@dataclass
class Services:
    """Long-lived clients built once in the app's lifespan (integrations/), typed by their interfaces."""

    tokens: Tokens
    storage: Storage
    email: EmailBackend
    ai: AIService | None = None  # None when AI is not configured
    oidc: OIDCVerifier | None = None  # None when SSO is off
    events: EventHub | None = None  # in-process pub/sub for subscriptions, started in the lifespan
    # Called after a commit that wrote outbox rows: wakes this process's relay (set in the lifespan when it runs).
    outbox_written: Callable[[], None] = _nothing


@dataclass
class RequestOutcome:
    """What the handling of one request learns on the way, for the error policy, the HTTP status and the log.

    The context builder records a refused Authorization header; the persisted-query and limit checks record a
    request error (no execution: the response has no `data`); the error policy records the error codes."""

    auth_error: CodedError | None = None  # Unauthenticated, or ServiceUnavailable when the user lookup failed
    request_error: bool = False  # refused before execution (persisted query, limits, validation)
    error_codes: list[str] | None = None  # the response's error codes, for the request log and metrics
    known_operation: str | None = None  # a trusted registered document's operation name (a bounded metric label)
    query_cost: int | None = None  # the document's measured cost (shown to admins in `extensions`)
    compiled: bool = False  # answered by the compiled read path


@dataclass
class RequestContext:
    settings: ResolverSettings
    sessionmaker: async_sessionmaker[AsyncSession]
    loaders: Loaders
    services: Services
    viewer: Viewer | None = None
    request: HTTPConnection | None = None  # starlette Request or WebSocket
    request_id: str = "-"
    client_address: str | None = None
    operation_name: str | None = None
    outcome: RequestOutcome = field(default_factory=RequestOutcome)
    connection_params: dict[str, object] | None = None  # websocket `connection_init` payload (strawberry sets it)
