"""PostgreSQL stopped and started under a small bounded load: no 500, no INTERNAL_SERVER_ERROR, no lost
committed write, SERVICE_UNAVAILABLE with retryAfter while it is down, and recovery without a restart.

Runs on a throwaway cluster of its own (pgserver/initdb under a temporary directory), which only this test
stops and starts; the load is 4 clients for about 12 seconds, bounded in time and count."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from db.enums import Role
from server import migrate
from server.app import create_app
from tests.conftest import test_settings as settings_with
from tests.factories import make_user

CREATE = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id email } errors { code } }
}
"""
READ = "query Read { customers(first: 5) { totalCount nodes { id } } }"


class Cluster:
    def __init__(self, path: Path) -> None:
        from server.embedded_pg import start_embedded

        self.url, self.server = start_embedded(path, cleanup_mode="stop")

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user, timeout=30)

    def start(self) -> None:
        self.server.ensure_postgres_running()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # Not under pytest's tmp_path: a pytest session starting elsewhere resets /tmp/pytest-of-<user> to 0700,
    # which the cluster's own (non-root) user could then no longer enter for the restart.
    with tempfile.TemporaryDirectory(prefix="cg-outage-") as tmp:
        own = Cluster(Path(tmp) / "pg")
        yield own
        try:
            own.server.cleanup()
        except Exception:  # already stopped
            pass


async def _connect(url: str) -> asyncpg.Connection:
    u = make_url(url)
    return await asyncpg.connect(
        user=u.username,
        password=u.password or None,
        host=u.host or u.query.get("host"),
        port=u.port,
        database=u.database,
    )


async def test_postgres_restart_under_load(cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    admin_conn = await _connect(cluster.url)
    await admin_conn.execute("CREATE DATABASE cg_outage")
    await admin_conn.close()
    url = make_url(cluster.url).set(database="cg_outage").render_as_string(hide_password=False)
    await asyncio.to_thread(migrate.upgrade, url)
    settings = settings_with(database__pool_size=4, database__max_overflow=2, database__pool_timeout=2.0)
    application = create_app(settings, database_url_override=url)

    statuses: list[int] = []
    codes: list[str] = []
    acknowledged: list[str] = []  # emails of customers the API said it created
    successes_after_start: list[float] = []
    restarted_at: list[float] = []
    counter = iter(range(100_000))

    async def client_loop(client: httpx.AsyncClient, token: str, deadline: float) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(2_000):  # bounded in count as well as time
            if time.monotonic() > deadline:
                return
            n = next(counter)
            if n % 2 == 0:
                email = f"load{n}@example.com"
                payload = {
                    "query": CREATE,
                    "variables": {"input": {"firstName": "Load", "lastName": str(n), "email": email}},
                }
            else:
                email = None
                payload = {"query": READ}
            response = await client.post("/graphql", json=payload, headers=headers)
            statuses.append(response.status_code)
            body = response.json()
            codes.extend(e.get("extensions", {}).get("code", "-") for e in body.get("errors") or [])
            ok = body.get("data") is not None and not body.get("errors")
            if ok and email is not None and body["data"]["createCustomer"]["customer"]:
                acknowledged.append(email)
            if ok and restarted_at:
                successes_after_start.append(time.monotonic())
            await asyncio.sleep(0.02)

    caplog.set_level(logging.INFO)
    async with LifespanManager(application):
        admin = await make_user(application, Role.ADMIN)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            deadline = time.monotonic() + 12
            load = [asyncio.create_task(client_loop(client, admin.token, deadline)) for _ in range(4)]
            await asyncio.sleep(3)
            await asyncio.to_thread(cluster.stop)
            await asyncio.sleep(3)
            await asyncio.to_thread(cluster.start)
            restarted_at.append(time.monotonic())
            await asyncio.gather(*load)

        stored_conn = await _connect(url)
        try:
            stored = {r["email"] for r in await stored_conn.fetch("SELECT email FROM customers")}
        finally:
            await stored_conn.close()

    assert statuses and all(s < 500 for s in statuses), sorted(set(statuses))
    assert "INTERNAL_SERVER_ERROR" not in codes, codes
    assert "SERVICE_UNAVAILABLE" in codes  # the outage was seen
    assert set(codes) <= {"SERVICE_UNAVAILABLE"}, set(codes)
    assert acknowledged and set(acknowledged) <= stored  # no committed write lost
    assert successes_after_start, "the server never recovered"
    recovery = successes_after_start[0] - restarted_at[0]
    assert recovery < 5, recovery
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("customer_graph")], "no tracebacks"
    print(
        f"outage: {len(statuses)} requests, {codes.count('SERVICE_UNAVAILABLE')} SERVICE_UNAVAILABLE errors, "
        f"{len(acknowledged)} acknowledged writes all stored, recovery {recovery:.2f}s after PostgreSQL was back"
    )
