"""Company SSO: OpenID Connect bearer tokens verified against the provider's JWKS, served here by a local
HTTP server on 127.0.0.1 with keys the test generates."""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from db import models
from db.enums import Role
from integrations.auth.oidc import verifier_from_settings
from tests.conftest import test_settings as settings_with
from tests.factories import make_user
from tests.identity.helpers import audit_actions, count, rows

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt

ME = "query Me { me { email firstName lastName role emailVerified operator { email } } }"
AUDIENCE = "customer-graph-web"


class IdentityProvider:
    """A tiny OIDC provider: discovery document and JWKS over HTTP, tokens signed with its current keys."""

    def __init__(self) -> None:
        self.keys: list[Any] = []
        self.hits: list[str] = []
        self.up = True
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                provider.hits.append(self.path)
                if not provider.up:
                    self.send_response(503)
                    self.end_headers()
                    return
                if self.path.endswith("/.well-known/openid-configuration"):
                    body = {"issuer": provider.issuer, "jwks_uri": provider.jwks_url}
                elif self.path.endswith("/jwks"):
                    body = {"keys": [k.as_dict(is_private=False, alg=k.tokens.get("alg")) for k in provider.keys]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.server.server_address[1]
        self.issuer = f"http://127.0.0.1:{port}/realms/company"
        self.jwks_url = f"{self.issuer}/protocol/openid-connect/jwks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def new_key(self, kid: str, kty: str = "RSA", size: Any = 2048) -> Any:
        key = JsonWebKey.generate_key(kty, size, is_private=True, options={"kid": kid})
        return key

    def publish(self, key: Any) -> Any:
        self.keys.append(key)
        return key

    def token(self, key: Any = None, alg: str = "RS256", **claims: Any) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        values = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "idp-user-1",
            "email": "ops.lead@company.example.com",
            "given_name": "Olga",
            "family_name": "Lead",
            "role": "OPERATOR",
            "iat": now,
            "exp": now + 300,
        }
        values.update(claims)
        values = {k: v for k, v in values.items() if v is not None}
        header = {"alg": alg, "kid": key.kid}
        return jwt.encode(header, values, key, check=False).decode()  # type: ignore[no-any-return]

    def jwks_fetches(self) -> int:
        return sum(1 for h in self.hits if h.endswith("/jwks"))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    provider.close()


@pytest.fixture
def sso(app, idp, monkeypatch) -> IdentityProvider:
    """SSO configured from settings (JWKS found through discovery), with a fresh key set and cache per test."""
    idp.keys = [idp.new_key("key-1")]
    idp.hits.clear()
    idp.up = True
    settings = settings_with(auth__oidc_issuer=idp.issuer, auth__oidc_audience=AUDIENCE)
    monkeypatch.setattr(app.state.services, "oidc", verifier_from_settings(settings.auth))
    return idp


def configure(app, monkeypatch, idp: IdentityProvider, **auth: Any) -> None:
    overrides = {"auth__oidc_issuer": idp.issuer, "auth__oidc_audience": AUDIENCE}
    overrides.update({f"auth__{k}": v for k, v in auth.items()})
    monkeypatch.setattr(app.state.services, "oidc", verifier_from_settings(settings_with(**overrides).auth))


async def me(client, token: str) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"})
    return response.json()  # type: ignore[no-any-return]


def unauthenticated(body: dict[str, Any]) -> bool:
    return body.get("data") is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_first_sight_creates_a_staff_user(app, client, sso):
    # when
    body = await me(client, sso.token(role="SALES"))
    # then
    assert body["data"]["me"] == {
        "email": "ops.lead@company.example.com",
        "firstName": "Olga",
        "lastName": "Lead",
        "role": "SALES",
        "emailVerified": True,
        "operator": {"email": "ops.lead@company.example.com"},
    }
    [user] = await rows(app, models.User)
    assert user.sso_subject == "idp-user-1" and user.password_hash is None
    assert await audit_actions(app) == ["operator.created"]


async def test_the_same_subject_is_the_same_user_and_the_jwks_is_cached(app, client, sso):
    # when
    for _ in range(3):
        assert (await me(client, sso.token()))["data"]["me"]["role"] == "OPERATOR"
    # then
    assert await count(app, models.User) == 1
    assert sso.jwks_fetches() == 1


async def test_jwks_url_from_settings_skips_discovery(app, client, idp, monkeypatch):
    # given
    idp.keys, idp.hits[:] = [idp.new_key("key-x")], []
    configure(app, monkeypatch, idp, oidc_jwks_url=idp.jwks_url)
    # when
    body = await me(client, idp.token())
    # then
    assert body["data"]["me"]["role"] == "OPERATOR"
    assert not any("openid-configuration" in h for h in idp.hits)


async def test_role_from_a_configurable_claim_among_other_values(app, client, sso, monkeypatch):
    # given
    configure(app, monkeypatch, sso, oidc_role_claim="realm_access.roles")
    token = sso.token(role=None, realm_access={"roles": ["offline_access", "admin", "uma_authorization"]})
    # when
    body = await me(client, token)
    # then
    assert body["data"]["me"]["role"] == "ADMIN"


async def test_no_role_claim_gives_the_default_role(app, client, sso, monkeypatch):
    # given
    configure(app, monkeypatch, sso, oidc_default_role="SALES")
    # when
    body = await me(client, sso.token(role=None))
    # then
    assert body["data"]["me"]["role"] == "SALES"


@pytest.mark.parametrize("role", ["CUSTOMER", "superuser", ["guest"], 42])
async def test_a_role_claim_without_a_staff_role_is_refused(app, client, sso, role):
    # when
    body = await me(client, sso.token(role=role))
    # then
    assert unauthenticated(body)
    assert await count(app, models.User) == 0


async def test_a_changed_role_claim_updates_the_user(app, client, sso):
    # given
    await me(client, sso.token(role="OPERATOR"))
    # when
    body = await me(client, sso.token(role="ADMIN"))
    # then
    assert body["data"]["me"]["role"] == "ADMIN"
    [user] = await rows(app, models.User)
    assert user.role == "ADMIN"


async def test_an_existing_staff_user_with_the_email_is_linked(app, client, sso):
    # given: created by an admin without a password ("SSO only")
    existing = await make_user(app, Role.OPERATOR, email="Ops.Lead@company.example.com", password_hash=None)
    # when
    body = await me(client, sso.token())
    # then
    assert body["data"]["me"]["email"] == "Ops.Lead@company.example.com"
    [user] = await rows(app, models.User)
    assert user.id == existing.id and user.sso_subject == "idp-user-1"


async def test_a_customer_account_is_never_taken_over(app, client, sso):
    # given
    await make_user(app, Role.CUSTOMER, email="ops.lead@company.example.com")
    # when
    body = await me(client, sso.token())
    # then
    assert unauthenticated(body)
    [user] = await rows(app, models.User)
    assert user.sso_subject is None


async def test_a_deactivated_sso_user_is_refused(app, client, sso):
    # given
    await me(client, sso.token())
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(models.User).where(col(models.User.sso_subject) == "idp-user-1").values(is_active=False)
        )
    # when
    body = await me(client, sso.token())
    # then
    assert unauthenticated(body)


async def test_a_token_without_email_cannot_create_a_user(app, client, sso):
    body = await me(client, sso.token(email=None))
    assert unauthenticated(body)


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-client"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"sub": None},
        {"exp": None},
    ],
    ids=["wrong audience", "expired", "no subject", "no expiry"],
)
async def test_invalid_claims_are_refused(app, client, sso, claims):
    assert unauthenticated(await me(client, sso.token(**claims)))


async def test_wrong_issuer_is_refused(app, client, sso):
    assert unauthenticated(await me(client, sso.token(iss="http://127.0.0.1:1/realms/evil")))


async def test_a_key_outside_the_jwks_is_refused_even_with_a_known_kid(app, client, sso):
    # given: an attacker's key claiming the provider's kid
    impostor = sso.new_key("key-1")
    # when
    body = await me(client, sso.token(key=impostor))
    # then
    assert unauthenticated(body)


async def test_alg_none_and_hmac_are_refused(app, client, sso):
    import base64

    def b64(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {"iss": sso.issuer, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60, "role": "ADMIN"}
    unsigned = f"{b64({'alg': 'none', 'kid': 'key-1'})}.{b64(claims)}."
    assert unauthenticated(await me(client, unsigned))
    hmac_token = jwt.encode({"alg": "HS256", "kid": "key-1"}, claims, b"k" * 32, check=False).decode()
    assert unauthenticated(await me(client, hmac_token))


async def test_an_unknown_kid_refetches_once_then_is_refused(app, client, sso):
    # given: the key set is cached
    await me(client, sso.token())
    stranger = sso.new_key("never-published")
    # when
    first = await me(client, sso.token(key=stranger))
    second = await me(client, sso.token(key=stranger))
    # then: one refetch for the unknown kid; not one per request
    assert unauthenticated(first) and unauthenticated(second)
    assert sso.jwks_fetches() == 2


async def test_a_rotated_key_is_picked_up_by_refetching(app, client, sso):
    # given: the old key set is cached, then the provider rotates
    await me(client, sso.token())
    rotated = sso.publish(sso.new_key("key-2", "EC", "P-256"))
    # when
    body = await me(client, sso.token(key=rotated, alg="ES256"))
    # then
    assert body["data"]["me"]["role"] == "OPERATOR"
    assert sso.jwks_fetches() == 2


async def test_an_unreachable_provider_is_unauthenticated_not_an_error(app, client, sso):
    # given
    sso.up = False
    # when
    first, second = await me(client, sso.token()), await me(client, sso.token())
    # then: refused, and the outage is remembered briefly instead of every request waiting on the provider
    assert unauthenticated(first) and unauthenticated(second)
    assert len(sso.hits) == 1


async def test_our_own_tokens_still_work_alongside_sso(app, client, sso):
    account = await make_user(app, Role.SALES)
    assert (await me(client, account.token))["data"]["me"]["role"] == "SALES"
