"""`login`: a signed JWT for the right password; the same INVALID_CREDENTIALS otherwise; brute force throttled."""

from __future__ import annotations

import asyncio
import statistics
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlmodel import col

from db import models
from db.enums import Role
from server.app import create_app
from tests.conftest import test_settings as settings_with
from tests.identity.helpers import PASSWORD, audit_actions, client_from, make_login, post, rows

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import jwt

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) {
    token expiresAt
    user { id email role }
    errors { code message field retryAfter }
  }
}
"""
ME = "query Me { me { email role } }"


@pytest.fixture
def low_limits(app, monkeypatch):
    """Three failures lock an account, five an address, for a minute."""
    auth = app.state.settings.auth
    monkeypatch.setattr(auth, "login_max_failures", 3)
    monkeypatch.setattr(auth, "login_max_failures_per_address", 5)
    monkeypatch.setattr(auth, "login_window_seconds", 60)
    return auth


def credentials(email: str, password: str = PASSWORD) -> dict:
    return {"input": {"email": email, "password": password}}


async def test_right_password_returns_a_working_token(app, gql):
    # given
    account = await make_login(app, Role.OPERATOR)
    # when
    body = await gql(LOGIN, credentials(account.user.email.upper()))
    # then
    payload = body["data"]["login"]
    assert payload["errors"] == []
    assert payload["user"]["email"] == account.user.email
    assert payload["user"]["role"] == "OPERATOR"
    me = await gql(ME, token=payload["token"])
    assert me["data"]["me"] == {"email": account.user.email, "role": "OPERATOR"}


async def test_token_carries_the_documented_claims(app, gql):
    # given
    account = await make_login(app, Role.SALES)
    # when
    payload = (await gql(LOGIN, credentials(account.user.email)))["data"]["login"]
    # then
    settings = app.state.settings.auth
    claims = jwt.decode(payload["token"], settings.jwt_secret.encode())
    assert claims["sub"] == str(account.id)
    assert claims["role"] == "SALES"
    assert claims["iss"] == settings.jwt_issuer
    assert claims["aud"] == settings.jwt_audience
    assert claims["exp"] - claims["iat"] == settings.token_ttl_seconds
    assert abs(claims["iat"] - time.time()) < 30
    assert payload["expiresAt"].startswith(time.strftime("%Y-%m-%d", time.gmtime(claims["exp"])))
    assert "password" not in str(claims)


async def test_wrong_password_and_unknown_email_get_the_same_answer(app, gql):
    # given
    account = await make_login(app)
    # when
    wrong = (await gql(LOGIN, credentials(account.user.email, "not the password")))["data"]["login"]
    unknown = (await gql(LOGIN, credentials("nobody@example.com")))["data"]["login"]
    # then
    assert wrong == unknown
    assert wrong["token"] is None and wrong["user"] is None
    assert wrong["errors"] == [
        {"code": "INVALID_CREDENTIALS", "message": "Wrong email or password.", "field": None, "retryAfter": None}
    ]


async def test_unknown_email_costs_about_as_much_as_a_wrong_password(app, gql):
    # given
    account = await make_login(app)
    await gql(LOGIN, credentials("warmup@example.com"))

    async def timed(email: str) -> float:
        started = time.perf_counter()
        await gql(LOGIN, credentials(email, "not the password"))
        return time.perf_counter() - started

    # when (alternating, so drift affects both alike)
    known, unknown = [], []
    for _ in range(3):
        known.append(await timed(account.user.email))
        unknown.append(await timed("nobody@example.com"))
    # then: both pay one Argon2 verification; no shortcut for a missing account
    assert statistics.median(unknown) > 0.4 * statistics.median(known)


async def test_failures_are_audited_without_the_email(app, gql):
    # given
    account = await make_login(app)
    # when
    await gql(LOGIN, credentials(account.user.email, "not the password"))
    await gql(LOGIN, credentials("nobody@example.com", "not the password"))
    await gql(LOGIN, credentials(account.user.email))
    # then
    assert await audit_actions(app) == ["user.login_failed", "user.login_failed", "user.logged_in"]
    failed = await rows(app, models.AuditRecord, col(models.AuditRecord.status) == "FAILURE")
    assert all("nobody" not in str(r.details) and "password" not in str(r.details) for r in failed)


async def test_unverified_customer_cannot_log_in(app, gql):
    # given
    account = await make_login(app, Role.CUSTOMER, email_verified=False)
    # when
    payload = (await gql(LOGIN, credentials(account.user.email)))["data"]["login"]
    # then
    assert payload["token"] is None
    assert [e["code"] for e in payload["errors"]] == ["EMAIL_NOT_VERIFIED"]


async def test_unverified_customer_with_a_wrong_password_learns_nothing_more(app, gql):
    # given
    account = await make_login(app, Role.CUSTOMER, email_verified=False)
    # when
    payload = (await gql(LOGIN, credentials(account.user.email, "not the password")))["data"]["login"]
    # then
    assert [e["code"] for e in payload["errors"]] == ["INVALID_CREDENTIALS"]


async def test_deactivated_user_cannot_log_in(app, gql):
    # given
    account = await make_login(app, is_active=False)
    # when
    payload = (await gql(LOGIN, credentials(account.user.email)))["data"]["login"]
    # then
    assert [e["code"] for e in payload["errors"]] == ["INVALID_CREDENTIALS"]


async def test_sso_only_user_has_no_password_to_log_in_with(app, gql):
    # given
    account = await make_login(app, password_hash=None)
    # when
    payload = (await gql(LOGIN, credentials(account.user.email)))["data"]["login"]
    # then
    assert [e["code"] for e in payload["errors"]] == ["INVALID_CREDENTIALS"]


@pytest.mark.parametrize(
    ("email", "password", "fields"),
    [
        ("", PASSWORD, [["email"]]),
        ("no-at-sign", PASSWORD, [["email"]]),
        ("someone@example.com", "", [["password"]]),
        ("someone@example.com", "x" * 1001, [["password"]]),
        ("", "", [["email"], ["password"]]),
    ],
)
async def test_malformed_input_is_a_validation_error(app, gql, email, password, fields):
    # when
    payload = (await gql(LOGIN, credentials(email, password)))["data"]["login"]
    # then
    assert [e["field"] for e in payload["errors"]] == fields
    assert {e["code"] for e in payload["errors"]} == {"VALIDATION"}
    assert await rows(app, models.LoginThrottle) == []


async def test_brute_force_on_one_account_is_throttled(app, gql, low_limits):
    # given
    account = await make_login(app)
    for _ in range(3):
        await gql(LOGIN, credentials(account.user.email, "guess guess guess"))
    # when: even the right password is refused now, before any password check
    payload = (await gql(LOGIN, credentials(account.user.email)))["data"]["login"]
    # then
    assert payload["token"] is None
    [error] = payload["errors"]
    assert error["code"] == "INVALID_CREDENTIALS"
    assert 0 < error["retryAfter"] <= 60
    counters = {r.key: r.failures for r in await rows(app, models.LoginThrottle)}
    assert counters[f"account:{account.user.email}"] == 3


async def test_throttled_account_is_refused_from_every_address(app, low_limits):
    # given
    account = await make_login(app)
    async with client_from(app, "10.0.0.1") as attacker:
        for _ in range(3):
            await post(attacker, LOGIN, credentials(account.user.email, "guess guess guess"))
    # when
    async with client_from(app, "10.0.0.2") as elsewhere:
        payload = (await post(elsewhere, LOGIN, credentials(account.user.email)))["data"]["login"]
    # then
    assert payload["errors"][0]["retryAfter"] > 0


async def test_password_spraying_from_one_address_is_throttled(app, low_limits):
    # given: five different accounts, one failure each, from one address
    victim = await make_login(app)
    async with client_from(app, "10.0.0.9") as sprayer:
        for n in range(5):
            await post(sprayer, LOGIN, credentials(f"user{n}@example.com", "guess guess guess"))
        # when
        payload = (await post(sprayer, LOGIN, credentials(victim.user.email)))["data"]["login"]
    # then
    assert payload["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert payload["errors"][0]["retryAfter"] > 0
    # and the victim can still sign in from elsewhere
    async with client_from(app, "10.0.0.10") as office:
        ok = (await post(office, LOGIN, credentials(victim.user.email)))["data"]["login"]
    assert ok["errors"] == [] and ok["token"]


async def test_success_clears_the_account_counter(app, gql, low_limits):
    # given
    account = await make_login(app)
    for _ in range(2):
        await gql(LOGIN, credentials(account.user.email, "guess guess guess"))
    # when
    await gql(LOGIN, credentials(account.user.email))
    # then
    keys = [r.key for r in await rows(app, models.LoginThrottle)]
    assert f"account:{account.user.email}" not in keys
    again = (await gql(LOGIN, credentials(account.user.email, "guess guess guess")))["data"]["login"]
    assert again["errors"][0]["retryAfter"] is None


async def test_lock_expires_with_the_window(app, gql, low_limits, monkeypatch):
    # given: one failure locks, for two seconds
    monkeypatch.setattr(low_limits, "login_max_failures", 1)
    monkeypatch.setattr(low_limits, "login_window_seconds", 2)
    account = await make_login(app)
    await gql(LOGIN, credentials(account.user.email, "guess guess guess"))
    locked = (await gql(LOGIN, credentials(account.user.email)))["data"]["login"]
    assert locked["errors"][0]["retryAfter"] in (1, 2)
    # when
    await asyncio.sleep(2.2)
    payload = (await gql(LOGIN, credentials(account.user.email)))["data"]["login"]
    # then
    assert payload["errors"] == []


@pytest.fixture(scope="module")
async def second_process(database_url: str, app: Any) -> AsyncIterator[Any]:
    """Another instance of the server on the same database: its own engine, pool and memory, like a second process."""
    application = create_app(settings_with(), database_url_override=database_url)
    async with LifespanManager(application):
        yield application


async def test_the_limit_holds_across_server_processes(app, gql, low_limits, second_process, monkeypatch):
    # given: the other process has the same limits; two failures here, one there
    other = second_process.state.settings.auth
    for name in ("login_max_failures", "login_max_failures_per_address", "login_window_seconds"):
        monkeypatch.setattr(other, name, getattr(low_limits, name))
    account = await make_login(app)
    for _ in range(2):
        await gql(LOGIN, credentials(account.user.email, "guess guess guess"))
    transport = httpx.ASGITransport(app=second_process, client=("10.1.1.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as elsewhere:
        await post(elsewhere, LOGIN, credentials(account.user.email, "guess guess guess"))
        # when
        there = (await post(elsewhere, LOGIN, credentials(account.user.email)))["data"]["login"]
    here = (await gql(LOGIN, credentials(account.user.email)))["data"]["login"]
    # then
    assert there["errors"][0]["retryAfter"] > 0
    assert here["errors"][0]["retryAfter"] > 0


async def test_concurrent_failures_all_count(app, gql, monkeypatch):
    # given: a high limit, so every attempt reaches the password check
    monkeypatch.setattr(app.state.settings.auth, "login_max_failures", 100)
    monkeypatch.setattr(app.state.settings.auth, "login_max_failures_per_address", 100)
    account = await make_login(app)
    # when
    await asyncio.gather(*(gql(LOGIN, credentials(account.user.email, f"guess {n:02d} guess")) for n in range(8)))
    # then
    counters = {r.key: r.failures for r in await rows(app, models.LoginThrottle)}
    assert counters[f"account:{account.user.email}"] == 8
    assert counters["address:127.0.0.1"] == 8
