"""No known secret: without a configured signing key, development generates a random one under the data
directory; a token forged with the placeholder (or any published example value) is never accepted."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from db.enums import Role
from integrations.auth.known_secrets import KNOWN_SECRETS, PLACEHOLDER_SECRET
from integrations.auth.tokens import TokenService
from server.app import ConfigError, create_app
from tests.conftest import test_settings as settings_with
from tests.factories import make_user
from tests.identity.test_bearer_tokens import claims_for, hs256

ME = {"query": "{ me { id role } }"}


def development(data_dir: str, secret: str = PLACEHOLDER_SECRET):  # type: ignore[no-untyped-def]
    settings = settings_with(app__env="development", auth__jwt_secret=secret)
    settings.app.data_dir = data_dir
    return settings


async def test_a_token_forged_with_the_placeholder_is_refused(app, database_url):
    data_dir = tempfile.mkdtemp(prefix="cg-key-")
    application = create_app(development(data_dir), database_url_override=database_url)
    key_file = Path(data_dir) / "jwt-secret"
    assert application.state.settings.auth.jwt_secret != PLACEHOLDER_SECRET
    assert key_file.read_text().strip() == application.state.settings.auth.jwt_secret
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    async with LifespanManager(application):
        admin = await make_user(application, Role.ADMIN)
        tokens = application.state.services.tokens
        placeholder_kid = "hs-" + __import__("hashlib").sha256(b"kid:" + PLACEHOLDER_SECRET.encode()).hexdigest()[:16]
        forged = [
            hs256(claims_for(tokens, admin.id), PLACEHOLDER_SECRET, kid=placeholder_kid),
            hs256(claims_for(tokens, admin.id), PLACEHOLDER_SECRET, kid=tokens.kid),
            hs256(claims_for(tokens, admin.id), PLACEHOLDER_SECRET),
        ]
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for token in forged:
                body = (await client.post("/graphql", json=ME, headers={"Authorization": f"Bearer {token}"})).json()
                assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
            genuine = await client.post("/graphql", json=ME, headers={"Authorization": f"Bearer {admin.token}"})
            assert genuine.json()["data"]["me"]["role"] == "ADMIN"

    # a restart with the same data directory keeps the key: yesterday's tokens still work
    again = create_app(development(data_dir), database_url_override=database_url)
    assert again.state.settings.auth.jwt_secret == application.state.settings.auth.jwt_secret
    async with LifespanManager(again):
        transport = httpx.ASGITransport(app=again)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            body = (await client.post("/graphql", json=ME, headers={"Authorization": f"Bearer {admin.token}"})).json()
            assert body["data"]["me"]["role"] == "ADMIN"


def test_another_data_directory_gets_another_key(database_url):
    one = create_app(development(tempfile.mkdtemp(prefix="cg-key-")), database_url_override=database_url)
    two = create_app(development(tempfile.mkdtemp(prefix="cg-key-"), ""), database_url_override=database_url)
    assert one.state.settings.auth.jwt_secret != two.state.settings.auth.jwt_secret
    assert len(one.state.settings.auth.jwt_secret) >= 32


@pytest.mark.parametrize("secret", sorted(KNOWN_SECRETS))
def test_no_token_service_signs_with_a_known_value(secret):
    with pytest.raises(ValueError):
        TokenService(
            algorithm="HS256",
            secret=secret,
            private_key=None,
            public_key=None,
            issuer="customer-graph",
            audience="customer-graph",
            ttl_seconds=60,
        )


def test_production_refuses_to_start_with_the_placeholder(database_url):
    settings = settings_with(app__env="production", auth__jwt_secret=PLACEHOLDER_SECRET)
    settings.database.url = database_url
    with pytest.raises(ConfigError, match="AUTH_JWT_SECRET"):
        create_app(settings)
