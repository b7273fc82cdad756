"""When the relay in a server process looks for work: at once when a mutation of that process committed an outbox
row (on the resolver path and on the compiled write alike), otherwise after a wait that doubles while rounds find
nothing, so an idle server does not poll PostgreSQL every second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from asgi_lifespan import LifespanManager

from db.enums import Role
from server.app import create_app
from server.relay import Relay
from tests.conftest import test_settings as settings_for
from tests.factories import make_user
from tests.outbox.conftest import CREATE_CUSTOMER, outbox_rows


def test_the_idle_wait_doubles_up_to_its_limit_and_resets_after_work(app):
    # given a relay polling every 0.5 s, at most every 4 s when idle
    settings = settings_for(outbox__poll_seconds=0.5, outbox__idle_poll_max_seconds=4.0)
    relay = Relay(app.state.sessionmaker, app.state.services.email, settings)

    # when rounds find nothing, then something, then nothing again
    waits, wait = [], None
    for claimed in (0, 0, 0, 0, 0, 3, 0, 0):
        wait = relay.idle_wait(wait, claimed)
        waits.append(wait)

    # then
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0, 0.5, 1.0, 2.0]


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled write", "resolver path"])
async def test_a_mutation_wakes_its_own_relay_at_once(app, database_url, compiled):
    # given a server running its relay, which would otherwise look again only after 60 s, and has just looked
    settings = settings_for(outbox__relay_in_server=True, outbox__poll_seconds=60.0, outbox__idle_poll_max_seconds=60.0)
    settings.compiled.enabled = compiled
    server = create_app(settings, database_url_override=database_url)
    sales = await make_user(app, Role.SALES)
    async with LifespanManager(server):
        await anyio.sleep(0.3)  # the first round ran and found nothing: the relay now waits
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            # when a customer is created through that server
            answer = await client.post(
                "/graphql",
                json={"query": CREATE_CUSTOMER, "variables": {"input": {"firstName": "Wake", "lastName": "Up"}}},
                headers={"Authorization": f"Bearer {sales.token}"},
            )
            assert answer.json()["data"]["createCustomer"]["errors"] == []
            # then the sales email is delivered within seconds, not after the minute's wait
            states: set[str] = set()
            for _ in range(200):  # at most 10 s
                states = {r.state for r in await outbox_rows(app)}
                if states == {"delivered"}:
                    break
                await anyio.sleep(0.05)
            assert states == {"delivered"}
        stats: Any = server.state.compiled.stats
        assert (stats["planned"] > 0) == compiled
    assert len(list((Path(settings.app.data_dir) / "mail").glob("*.eml"))) == 1
