"""The typed request context every resolver receives (built by server/context.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.loaders import Loaders
from resolvers.settings import ResolverSettings
from resolvers.viewer import Viewer


@dataclass
class Services:
    """Long-lived clients built once in the app's lifespan (integrations/)."""

    tokens: Any = None  # integrations.auth.tokens.TokenService
    oidc: Any = None  # integrations.auth.oidc.OIDCVerifier | None
    storage: Any = None
    email: Any = None
    ai: Any = None
    events: Any = None  # in-process pub/sub for subscriptions


@dataclass
class RequestContext:
    settings: ResolverSettings
    sessionmaker: async_sessionmaker[AsyncSession]
    loaders: Loaders
    services: Services
    viewer: Viewer | None = None
    request: Any = None  # starlette Request or WebSocket
    request_id: str = "-"
    client_address: str | None = None
    operation_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    connection_params: dict[str, Any] | None = None  # websocket `connection_init` payload (strawberry sets it)
