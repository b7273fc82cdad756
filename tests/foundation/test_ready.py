"""/ready says 503 with a reason whenever the server could not serve: database down, missing or not migrated."""

from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient

from server import migrate
from server.app import create_app
from tests import conftest as harness
from tests.foundation.conftest import closed_port_url


async def _ready(url: str) -> tuple[int, dict]:
    app = create_app(harness.test_settings(), database_url_override=url)
    async with LifespanManager(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client:
            health = await client.get("/health")
            assert health.status_code == 200  # liveness never depends on the database
            response = await client.get("/ready")
            return response.status_code, response.json()


async def test_ready_is_503_when_nothing_listens():
    status, body = await _ready(closed_port_url())
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["reason"].startswith("database unreachable")
    assert "secret" not in body["reason"]


async def test_ready_is_503_when_the_database_does_not_exist(server_url):
    from sqlalchemy.engine import make_url

    missing = make_url(server_url).set(database="cg_no_such_database").render_as_string(hide_password=False)
    status, body = await _ready(missing)
    assert status == 503
    assert "cg_no_such_database" in body["reason"]


def test_ready_is_503_before_migrations_and_after_a_downgrade(scratch_database):
    import asyncio

    url = scratch_database()
    status, body = asyncio.run(_ready(url))
    assert status == 503
    assert "no migrations applied" in body["reason"]

    migrate.upgrade(url)
    assert asyncio.run(_ready(url))[0] == 200

    migrate.downgrade(url, "base")
    status, body = asyncio.run(_ready(url))
    assert status == 503
    assert body["reason"] == f"migrations not at head (database None, code {migrate.head_revision()})"
