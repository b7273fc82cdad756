"""Quiet, bounded observability: expected errors are info lines without tracebacks, metric labels are bounded,
and X-Forwarded-For moves the client address only when it comes from a configured proxy."""

from __future__ import annotations

import logging

import httpx
from asgi_lifespan import LifespanManager

from db.enums import Role
from server.app import create_app
from server.proxies import client_address, parse_networks
from tests.conftest import test_settings as settings_with
from tests.factories import make_user


async def test_expected_errors_are_not_logged_as_errors(app, client, caplog):
    sales = await make_user(app, Role.SALES)
    staff = {"Authorization": f"Bearer {sales.token}"}
    requests = [
        ({"query": "{ customers { totalCount } }"}, {}),  # UNAUTHENTICATED
        ({"query": "{ customers(first: 500) { totalCount } }"}, staff),  # BAD_USER_INPUT
        ({"query": "{ auditRecords { totalCount } }"}, staff),  # FORBIDDEN
        ({"query": "{ nope }"}, staff),  # GRAPHQL_VALIDATION_FAILED
    ]
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        codes = []
        for body, headers in requests:
            response = await client.post("/graphql", json=body, headers=headers)
            codes.append(response.json()["errors"][0]["extensions"]["code"])
    assert codes == ["UNAUTHENTICATED", "BAD_USER_INPUT", "FORBIDDEN", "GRAPHQL_VALIDATION_FAILED"]
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert loud == [], [(r.name, r.levelname, r.getMessage()) for r in loud]


async def test_client_chosen_operation_names_do_not_become_metric_labels(client):
    for i in range(25):
        await client.post("/graphql", json={"query": f"query Attacker{i}x {{ __typename }}"})
    metrics = (await client.get("/metrics")).text
    assert "Attacker" not in metrics
    assert 'operation="other"' in metrics


def test_forwarded_for_is_read_only_from_configured_proxies():
    proxies = parse_networks(["10.0.0.0/8", "127.0.0.1"])
    assert client_address("127.0.0.1", "203.0.113.9", []) == "127.0.0.1"  # default: no proxy trusted
    assert client_address("198.51.100.7", "203.0.113.9", proxies) == "198.51.100.7"  # not a proxy
    assert client_address("127.0.0.1", "203.0.113.9", proxies) == "203.0.113.9"
    # the right-most address that is not a trusted proxy
    assert client_address("127.0.0.1", "1.2.3.4, 203.0.113.9, 10.1.1.1", proxies) == "203.0.113.9"
    assert client_address("127.0.0.1", "not-an-address", proxies) == "127.0.0.1"


LOGIN = """mutation($e: String!) {
  login(input: {email: $e, password: "wrong-password-1"}) { errors { code retryAfter } }
}"""


async def _failures(application, forwarded: bool) -> list[object]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 4321))
    seen = []
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        for i in range(21):
            headers = {"X-Forwarded-For": f"203.0.113.{i}"} if forwarded else {}
            payload = {"query": LOGIN, "variables": {"e": f"x{i}@example.com"}}
            body = (await c.post("/graphql", json=payload, headers=headers)).json()
            seen.append(body["data"]["login"]["errors"][0]["retryAfter"])
    return seen


async def test_the_login_throttle_sees_forwarded_addresses_only_behind_a_trusted_proxy(app, database_url):
    untrusted = create_app(settings_with(), database_url_override=database_url)
    async with LifespanManager(untrusted):
        seen = await _failures(untrusted, forwarded=True)
        assert seen[-1] is not None  # 21 failures from one address: throttled, whatever the header said
    trusted = create_app(settings_with(app__trusted_proxies=["127.0.0.1"]), database_url_override=database_url)
    async with LifespanManager(trusted):
        seen = await _failures(trusted, forwarded=True)
        assert seen == [None] * 21  # 21 different client addresses, one failure each
