"""An exhausted connection pool at any point of a request — the bearer token's user lookup included — is
SERVICE_UNAVAILABLE with retryAfter, one log line without a traceback, and service resumes by itself."""

from __future__ import annotations

import logging

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import text

from db.enums import Role
from server.app import create_app
from tests.conftest import test_settings as settings_with
from tests.factories import make_user

QUERY = {"query": "{ customers { totalCount } }"}


async def test_an_exhausted_pool_is_service_unavailable_then_recovers(app, database_url, caplog):
    settings = settings_with(database__pool_size=1, database__max_overflow=0, database__pool_timeout=0.3)
    application = create_app(settings, database_url_override=database_url)
    async with LifespanManager(application):
        admin = await make_user(application, Role.ADMIN)
        headers = {"Authorization": f"Bearer {admin.token}"}
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            async with application.state.engine.connect() as held:  # the pool's only connection
                await held.execute(text("SELECT 1"))
                caplog.clear()
                with caplog.at_level(logging.INFO):
                    responses = [await client.post("/graphql", json=QUERY, headers=headers) for _ in range(3)]
                    strict = await client.post(
                        "/graphql", json=QUERY, headers={**headers, "accept": "application/graphql-response+json"}
                    )
                for response in responses:
                    assert response.status_code == 200
                    [error] = response.json()["errors"]
                    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "retryAfter": 5}
                assert strict.status_code == 503
                # anonymous requests that need no database still work
                anonymous = await client.post("/graphql", json={"query": "{ __typename }"})
                assert anonymous.json() == {"data": {"__typename": "Query"}}
                outage_lines = [r for r in caplog.records if r.getMessage() == "database unavailable"]
                assert len(outage_lines) == 4
                assert not [r for r in caplog.records if r.exc_info], "no tracebacks"
            recovered = await client.post("/graphql", json=QUERY, headers=headers)
            assert recovered.json()["data"] == {"customers": {"totalCount": 0}}
