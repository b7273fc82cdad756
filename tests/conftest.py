"""Test harness: a real PostgreSQL (DATABASE_URL, else a throwaway pgserver cluster), the schema built
by running the Alembic migrations, the real app served in-process over ASGI, each test isolated by
truncating every table afterwards."""

from __future__ import annotations

import asyncio
import atexit
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from db.models import metadata
from db.statements import StatementTally
from server import migrate
from server.app import create_app
from server.settings import Settings

os.environ.setdefault("APP_ENV", "test")
# Random per test session: no test process signs tokens with a value written in the code.
TEST_SIGNING_KEY = secrets.token_urlsafe(32)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _admin(url: str, sql: str) -> None:
    u = make_url(url)
    conn = await asyncpg.connect(
        user=u.username,
        password=u.password or None,
        host=u.host or u.query.get("host"),
        port=u.port,
        database=u.database,
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A PostgreSQL server's URL (its maintenance database)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    from server.embedded_pg import start_embedded

    tmp = tempfile.mkdtemp(prefix="cg-pg-")
    try:
        url, server = start_embedded(tmp, cleanup_mode="stop")
        try:
            yield url
        finally:
            _stop_embedded(server, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _stop_embedded(server: Any, pgdata: str) -> None:
    """Stop the throwaway cluster before its directory is deleted (deleting it first left the postmaster running
    for about a minute after pytest exited), and drop pgserver's exit hook, which would find the directory gone."""
    atexit.unregister(server._cleanup)
    server.cleanup()
    if os.path.exists(os.path.join(pgdata, "postmaster.pid")):  # another handle was registered: stop it anyway
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=Path(pgdata), user=server.system_user)


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A fresh database for this test session, built by the migrations."""
    name = f"cg_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    url = _with_database(server_url, name)
    migrate.upgrade(url)
    yield url
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_settings(**overrides: Any) -> Settings:
    settings = Settings()
    settings.app.env = "test"
    settings.app.data_dir = tempfile.mkdtemp(prefix="cg-data-")
    settings.storage.local_path = os.path.join(settings.app.data_dir, "files")
    settings.auth.jwt_secret = TEST_SIGNING_KEY
    settings.outbox.relay_in_server = False  # tests run the relay themselves (tests/outbox)
    for key, value in overrides.items():
        section, _, attr = key.partition("__")
        setattr(getattr(settings, section), attr, value)
    return settings


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[Any]:
    application = create_app(test_settings(), database_url_override=database_url)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(autouse=True)
async def _isolate(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test starts from empty tables (those that touch the database)."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with app.state.engine.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


class StatementCounter:
    """Statements in the order PostgreSQL saw them, with the driver's BEGIN / COMMIT / ROLLBACK (db/statements.py)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, statement: str) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)

    @property
    def transaction_control(self) -> list[str]:
        return [s for s in self.statements if s in ("BEGIN", "COMMIT", "ROLLBACK")]


@pytest.fixture
def sql_counter(app: Any) -> Iterator[StatementCounter]:
    """Counts every SQL statement the app sends while the test runs (reset it before the 'when')."""
    counter = StatementCounter()
    tally = StatementTally(counter).attach(app.state.engine.sync_engine)
    yield counter
    tally.detach(app.state.engine.sync_engine)


@pytest.fixture
def resolver_path(app: Any) -> Iterator[None]:
    """Run the test's requests on the resolver path only (the compiled read path switched off), e.g. to count
    the statements of its dataloaders."""
    app.state.settings.compiled.enabled = False
    yield
    app.state.settings.compiled.enabled = True


@pytest.fixture
def gql(client: httpx.AsyncClient):  # type: ignore[no-untyped-def]
    """POST a GraphQL document; returns the JSON body. `token=` signs the request in."""

    async def run(
        query: str, variables: dict[str, Any] | None = None, *, token: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers, **kwargs
        )
        assert response.status_code == 200, response.text
        body = response.json()
        # The response's own `extensions` (an ADMIN's query cost) are checked by tests/limits; stories compare
        # data and errors only.
        body.pop("extensions", None)
        return body  # type: ignore[no-any-return]

    return run


@contextmanager
def serve_in_thread(database_url: str, **overrides: Any) -> Iterator[str]:
    """The real server (uvicorn, in a thread of this process) on 127.0.0.1 over `database_url`, with
    `test_settings(**overrides)`; yields its base URL (`http://127.0.0.1:<port>`) and stops it after."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    settings = test_settings(**overrides)
    settings.app.public_url = f"http://127.0.0.1:{port}"  # links the server sends out (downloads) point at it
    application = create_app(settings, database_url_override=database_url)
    config = uvicorn.Config(application, host="127.0.0.1", port=port, log_config=None, ws="websockets-sansio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(database_url: str) -> Iterator[str]:
    """The real server (uvicorn) on 127.0.0.1 over the test database, for clients outside this process:
    a browser, Node, the example scripts, websocket clients. Returns its base URL. Request `app` too to get the
    tables emptied after each test and to build data with the factories (same database, same token keys).
    A module that needs other settings starts its own with `serve_in_thread(database_url, section__name=value)`."""
    with serve_in_thread(database_url) as base:
        yield base
