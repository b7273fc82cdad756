"""Bearer tokens: every way a token can be wrong answers UNAUTHENTICATED, whatever the operation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from db.enums import Role
from integrations.auth.tokens import TokenError, TokenService
from server.app import create_app
from tests.conftest import test_settings as settings_with
from tests.factories import make_user
from tests.identity.helpers import PASSWORD, make_login

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt

ME = "query Me { me { id role } }"
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}
"""


def b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def claims_for(tokens: TokenService, user_id: int, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": tokens.issuer,
        "aud": tokens.audience,
        "sub": str(user_id),
        "role": "ADMIN",
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def hs256(claims: dict[str, Any], secret: str, **header: Any) -> str:
    """Signed by hand: authlib itself refuses to HMAC with a PEM key, which the confusion test needs."""
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', **header})}.{b64(claims)}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


async def refused(client: httpx.AsyncClient, authorization: str, query: str = ME) -> bool:
    response = await client.post("/graphql", json={"query": query}, headers={"Authorization": authorization})
    body = response.json()
    return bool(body.get("data") is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED")


@pytest.fixture
async def admin(app):
    return await make_user(app, Role.ADMIN)


async def test_a_valid_token_is_accepted(client, admin):
    response = await client.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {admin.token}"})
    assert response.json()["data"]["me"]["role"] == "ADMIN"


async def test_the_scheme_is_case_insensitive(client, admin):
    response = await client.post("/graphql", json={"query": ME}, headers={"Authorization": f"bearer {admin.token}"})
    assert response.json()["data"]["me"]["role"] == "ADMIN"


async def test_forged_signature(app, client, admin):
    tokens = app.state.services.tokens
    forged = hs256(claims_for(tokens, admin.id), "another-secret-" + "z" * 32, kid=tokens.kid)
    assert await refused(client, f"Bearer {forged}")


async def test_tampered_payload(client, admin):
    head, _body, sig = admin.token.split(".")
    tampered = ".".join([head, b64({"sub": str(admin.id), "role": "ADMIN", "exp": 9999999999}), sig])
    assert await refused(client, f"Bearer {tampered}")


async def test_expired(app, client, admin):
    tokens = app.state.services.tokens
    expired = hs256(
        claims_for(tokens, admin.id, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
        app.state.settings.auth.jwt_secret,
        kid=tokens.kid,
    )
    assert await refused(client, f"Bearer {expired}")


async def test_alg_none(app, client, admin):
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims_for(app.state.services.tokens, admin.id))}."
    assert await refused(client, f"Bearer {unsigned}")


async def test_wrong_issuer(app, client, admin):
    tokens = app.state.services.tokens
    token = hs256(claims_for(tokens, admin.id, iss="someone-else"), app.state.settings.auth.jwt_secret, kid=tokens.kid)
    assert await refused(client, f"Bearer {token}")


async def test_wrong_audience(app, client, admin):
    tokens = app.state.services.tokens
    token = hs256(claims_for(tokens, admin.id, aud="other-app"), app.state.settings.auth.jwt_secret, kid=tokens.kid)
    assert await refused(client, f"Bearer {token}")


async def test_unknown_kid(app, client, admin):
    tokens = app.state.services.tokens
    token = hs256(claims_for(tokens, admin.id), app.state.settings.auth.jwt_secret, kid="some-other-key")
    assert await refused(client, f"Bearer {token}")


@pytest.mark.parametrize("missing", ["exp", "sub", "iss", "aud", "iat"])
async def test_missing_claim(app, client, admin, missing):
    tokens = app.state.services.tokens
    claims = claims_for(tokens, admin.id, **{missing: None})
    assert await refused(client, f"Bearer {hs256(claims, app.state.settings.auth.jwt_secret, kid=tokens.kid)}")


async def test_issued_in_the_future(app, client, admin):
    tokens = app.state.services.tokens
    claims = claims_for(tokens, admin.id, iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)
    assert await refused(client, f"Bearer {hs256(claims, app.state.settings.auth.jwt_secret, kid=tokens.kid)}")


async def test_a_verification_token_is_not_an_access_token(app, client, admin):
    issued = app.state.services.tokens.issue_for(purpose="verify_email", subject=str(admin.id), ttl_seconds=600)
    assert await refused(client, f"Bearer {issued.token}")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer garbage", "Bearer a.b.c", "Bearer ", "Bearer", "Token abc", "Basic dXNlcjpwYXNz", "abc", "Bearer a b"],
)
async def test_garbage_and_wrong_header_format(client, authorization):
    assert await refused(client, authorization)


async def test_a_bad_token_is_refused_even_for_anonymous_operations(client):
    assert await refused(client, "Bearer garbage", query='mutation { verifyEmail(token: "x") { errors { code } } }')


async def test_missing_token_is_anonymous(client, gql):
    assert (await gql(ME)) == {"data": {"me": None}}
    body = await gql('query Node { node(id: "VXNlcjox") { id } }')
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_deactivated_user_is_unauthenticated(app, client):
    account = await make_user(app, Role.OPERATOR, is_active=False)
    assert await refused(client, f"Bearer {account.token}")


async def test_a_deleted_user_is_unauthenticated(app, client):
    ghost = app.state.services.tokens.issue(subject="987654", role="ADMIN").token
    assert await refused(client, f"Bearer {ghost}")


async def test_role_comes_from_the_database_not_the_token(app, client):
    account = await make_user(app, Role.SALES)
    claims_admin = app.state.services.tokens.issue(subject=str(account.id), role="ADMIN").token
    response = await client.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {claims_admin}"})
    assert response.json()["data"]["me"]["role"] == "SALES"


# --- asymmetric keys ---


def key_pair(kty: str, crv_or_size: Any) -> tuple[str, str]:
    key = JsonWebKey.generate_key(kty, crv_or_size, is_private=True)
    return key.as_pem(is_private=True).decode(), key.as_pem().decode()


@pytest.mark.parametrize(("algorithm", "kty", "size"), [("RS256", "RSA", 2048), ("EdDSA", "OKP", "Ed25519")])
def test_asymmetric_tokens_round_trip_and_refuse_algorithm_confusion(algorithm, kty, size):
    private, public = key_pair(kty, size)
    service = TokenService(
        algorithm=algorithm,
        secret=None,
        private_key=private,
        public_key=public,
        issuer="customer-graph",
        audience="customer-graph",
        ttl_seconds=60,
    )
    issued = service.issue(subject="7", role="SALES")
    assert service.verify(issued.token)["sub"] == "7"
    assert jwt.decode(issued.token, public.encode()).header["alg"] == algorithm
    # HS256 "signed" with the public key (the classic confusion) and the same kid
    confused = hs256(
        {"iss": "customer-graph", "aud": "customer-graph", "sub": "7", "role": "ADMIN", "iat": 1, "exp": 9999999999},
        public,
        kid=service.kid,
    )
    with pytest.raises(TokenError):
        service.verify(confused)
    other_private, other_public = key_pair(kty, size)
    other = TokenService(
        algorithm=algorithm,
        secret=None,
        private_key=other_private,
        public_key=other_public,
        issuer="customer-graph",
        audience="customer-graph",
        ttl_seconds=60,
    )
    with pytest.raises(TokenError):
        service.verify(other.issue(subject="7", role="ADMIN").token)


@pytest.fixture(scope="module")
async def rs256_app(database_url: str, app: Any) -> AsyncIterator[Any]:
    """The app configured as in production: RS256 from PEM settings (same database as `app`)."""
    private, public = key_pair("RSA", 2048)
    settings = settings_with(auth__jwt_algorithm="RS256", auth__jwt_private_key=private, auth__jwt_public_key=public)
    application = create_app(settings, database_url_override=database_url)
    async with LifespanManager(application):
        yield application


async def test_login_issues_rs256_tokens_when_configured(app, rs256_app):
    # given
    account = await make_login(app, Role.OPERATOR)
    transport = httpx.ASGITransport(app=rs256_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        # when
        response = await client.post(
            "/graphql", json={"query": LOGIN, "variables": {"email": account.user.email, "password": PASSWORD}}
        )
        token = response.json()["data"]["login"]["token"]
        me = await client.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"})
        # then
        assert jwt.decode(token, rs256_app.state.settings.auth.jwt_public_key.encode()).header["alg"] == "RS256"
        assert me.json()["data"]["me"]["role"] == "OPERATOR"
        # and a token of the HS256 app is not accepted here
        assert await refused(client, f"Bearer {account.token}")


async def test_control_a_hand_signed_token_with_the_right_key_is_accepted(app, client, admin):
    # the forgeries above differ from this one in exactly one respect each
    tokens = app.state.services.tokens
    token = hs256(claims_for(tokens, admin.id), app.state.settings.auth.jwt_secret, kid=tokens.kid)
    response = await client.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"})
    assert response.json()["data"]["me"]["role"] == "ADMIN"
