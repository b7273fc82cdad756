"""The Starlette app factory: routes, middleware, and the lifespan that builds long-lived clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from compiled.runtime import CompiledReads
from compiled.runtime import extension as compiled_extension
from db.engine import create_engine, create_read_pool, create_sessionmaker
from integrations.ai import service_from_settings as ai_service_from_settings
from integrations.auth.oidc import verifier_from_settings
from integrations.auth.tokens import TokenService
from integrations.storage import storage_from_settings
from resolvers.context import Services
from schema.limits import Limits
from schema.root import build_schema
from server import __version__, files, graphiql, metrics, migrate, relay, retention, runtime, websocket
from server.context import GraphQLApp
from server.embedded_pg import EmbeddedUnavailable, load_pgserver, start_embedded
from server.hot_path import HotLane, HotPath
from server.http_rules import BodyLimit
from server.logs import configure_logging
from server.persisted_queries import PersistedQueries
from server.proxies import TrustedProxies
from server.request_log import RequestLog
from server.settings import Settings, get_settings
from server.signing_key import ensure_signing_key
from server.uploads import MultipartGuard


class ConfigError(RuntimeError):
    """The configuration cannot run; the message is one line for the operator."""


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or an embedded pgserver cluster outside production."""
    if settings.database.url:
        return settings.database.url
    if settings.is_production:
        raise ConfigError("DATABASE_URL is required in production")
    url, _server = start_embedded(Path(settings.app.data_dir) / "pgdata")
    return url


def build_services(settings: Settings) -> Services:
    auth = settings.auth
    tokens = TokenService(
        algorithm=auth.jwt_algorithm,
        secret=auth.jwt_secret,
        private_key=auth.jwt_private_key,
        public_key=auth.jwt_public_key,
        issuer=auth.jwt_issuer,
        audience=auth.jwt_audience,
        ttl_seconds=auth.token_ttl_seconds,
    )
    return Services(
        tokens=tokens,
        oidc=verifier_from_settings(auth),
        storage=storage_from_settings(settings.storage),
        ai=ai_service_from_settings(settings.ai),
        email=relay.email_backend(settings),
    )


async def describe(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    return JSONResponse(
        {
            "name": settings.app.name,
            "version": __version__,
            "description": "GraphQL API for customer records, support requests, chats, contracts and audit.",
            "links": {"graphql": "/graphql", "health": "/health", "ready": "/ready", "metrics": "/metrics"},
        }
    )


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    state = request.app.state
    try:
        async with asyncio.timeout(3):
            async with state.engine.connect() as conn:
                current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    except Exception as error:  # any failure to reach the database is "not ready"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "alembic_version" in reason:
            reason = "database has no migrations applied (run `customer-graph migrate upgrade`)"
        else:
            reason = f"database unreachable: {type(error).__name__}: {reason[:200]}"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    if current != state.head_revision:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": f"migrations not at head (database {current}, code {state.head_revision})",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "migration": current})


async def metrics_endpoint(request: Request) -> Response:
    state = request.app.state
    pool: Any = state.engine.pool
    for name, value in (
        ("size", pool.size()),
        ("checked_out", pool.checkedout()),
        ("overflow", pool.overflow()),
        ("checked_in", pool.checkedin()),
    ):
        metrics.POOL.labels(name).set(value)
    try:
        async with asyncio.timeout(2):
            await relay.refresh_gauges(state.sessionmaker)
    except Exception:  # metrics never fail because the database is down
        pass
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def not_found(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    detail = exc.detail if isinstance(exc, HTTPException) else "Not Found"
    headers = getattr(exc, "headers", None)
    return JSONResponse({"error": detail, "path": request.url.path}, status_code=status, headers=headers)


def create_app_from_env() -> Starlette:
    """The factory a process server starts: `uvicorn --factory server.app:create_app_from_env` (what
    `customer-graph serve` runs, in each of its workers). Settings from the environment, JSON log lines, then the
    app. A configuration that cannot run ends the process with one line for the operator, not a traceback."""
    settings = get_settings()
    configure_logging(settings.app.log_level)
    try:
        if not settings.database.url and not settings.is_production:
            load_pgserver()  # the lifespan will start the embedded database: say now if it cannot
        return create_app(settings)
    except (ConfigError, EmbeddedUnavailable) as error:
        raise SystemExit(f"customer-graph: {error}") from None


def create_app(settings: Settings | None = None, *, database_url_override: str | None = None) -> Starlette:
    """Build the app; no module builds one at import. Nothing process-wide happens here (logging is the
    caller's): tests and benchmarks call this with their own settings and database."""
    settings = settings or get_settings()
    problems = settings.problems()
    if problems:
        raise ConfigError("; ".join(problems))
    ensure_signing_key(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        url = database_url_override or database_url(settings)
        db = settings.database
        engine = create_engine(
            url,
            pool_size=db.pool_size,
            max_overflow=db.max_overflow,
            pool_timeout=db.pool_timeout,
            statement_timeout_ms=db.statement_timeout_ms,
            echo=db.echo,
        )
        runtime.instrument(engine)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.services = build_services(settings)
        app.state.persisted_queries = PersistedQueries(
            app.state.sessionmaker, trusted_only=settings.limits.trusted_documents
        )
        app.state.head_revision = migrate.head_revision()
        app.state.hot_path = HotPath(app.state, compiled)
        read_pool = (
            await create_read_pool(engine, size=db.read_pool_size, statement_timeout_ms=db.statement_timeout_ms)
            if db.read_pool_size > 0
            else None
        )
        compiled.pool = read_pool
        purging = retention.start(app.state, settings)
        outbox = relay.start_in_server(app.state.sessionmaker, app.state.services.email, settings)
        app.state.relay = outbox.relay if outbox else None
        if outbox is not None:  # a committed outbox row wakes this process's relay (resolver path and compiled)
            app.state.services.outbox_written = compiled.outbox_written = outbox.relay.wake.set
        runtime.after_startup()
        try:
            async with websocket.running(app.state, url):
                yield
        finally:
            if purging is not None:
                purging.cancel()
            if app.state.services.ai is not None:
                await app.state.services.ai.close()
            if outbox:
                await outbox.stop()
            compiled.pool = None
            if read_pool is not None:
                try:
                    await asyncio.wait_for(read_pool.close(), 10)
                except TimeoutError:
                    read_pool.terminate()
            await engine.dispose()

    compiled = CompiledReads(cache_size=settings.compiled.cache_size)
    compiled.on_statement = lambda _statement: metrics.SQL_STATEMENTS.inc()
    schema = build_schema(
        introspection=settings.limits.introspection,
        limits=Limits.from_settings(settings.limits),
        extra_extensions=(compiled_extension(compiled),),
    )
    compiled.schema = schema._schema
    compiled.enabled = lambda: settings.compiled.enabled
    graphql_app = GraphQLApp(
        schema,
        state=None,
        graphql_ide="graphiql" if settings.limits.graphiql else None,
        multipart_uploads_enabled=True,
        subscription_protocols=("graphql-transport-ws",),
        connection_init_wait_timeout=timedelta(seconds=settings.subscriptions.init_timeout_seconds),
        max_subscriptions_per_connection=None,  # enforced, with a code, by server/websocket.py
    )
    graphql_app.graphql_transport_ws_handler_class = websocket.SubscriptionHandler
    cors_origins = ["*"] if settings.app.env == "development" else settings.app.cors_origins
    ide_assets: list[BaseRoute] = [Mount(graphiql.STATIC_PATH, app=graphiql.static_files(), name="graphiql")]
    app = Starlette(
        routes=[
            Route("/", describe, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/ready", ready, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_app),
            *(ide_assets if settings.limits.graphiql else []),
            Route("/files/{token}", files.download, methods=["GET"]),
        ],
        middleware=[
            Middleware(HotLane, max_body_bytes=settings.limits.max_body_bytes),
            Middleware(TrustedProxies, proxies=settings.app.trusted_proxies),
            Middleware(RequestLog),
            Middleware(
                BodyLimit,
                max_body_bytes=settings.limits.max_body_bytes,
                max_upload_bytes=settings.storage.max_file_bytes,
            ),
            Middleware(
                CORSMiddleware,
                allow_origins=cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["*"],
                expose_headers=["X-Request-ID"],
                max_age=600,
            ),
            Middleware(MultipartGuard),
        ],
        exception_handlers={404: not_found, 405: not_found},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.compiled = compiled
    graphql_app.state = app.state
    return app
