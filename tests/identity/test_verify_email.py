"""`verifyEmail`: a signed, expiring, single-use token from the signup email unlocks the account."""

from __future__ import annotations

from db import models
from integrations.auth.tokens import TokenService
from tests.identity.helpers import PASSWORD, audit_actions, make_login, rows

SIGNUP = """
mutation Signup($input: SignupInput!) {
  signup(input: $input) { user { id } errors { code } }
}
"""
VERIFY = """
mutation Verify($token: String!) {
  verifyEmail(token: $token) { user { id email emailVerified } errors { code message field } }
}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}
"""
EMAIL = "grace@example.com"


async def sign_up(app, gql) -> str:
    """Signs up; returns the token from the queued verification email."""
    body = await gql(
        SIGNUP, {"input": {"email": EMAIL, "password": PASSWORD, "firstName": "Grace", "lastName": "Hopper"}}
    )
    assert body["data"]["signup"]["errors"] == []
    [message] = await rows(app, models.OutboxMessage, models.OutboxMessage.topic == "email.verify_email")
    return str(message.payload["token"])


def token_invalid(payload: dict) -> bool:
    return payload["user"] is None and [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("TOKEN_INVALID", ["token"])
    ]


async def test_the_emailed_token_verifies_the_account_and_login_works(app, gql):
    # given
    token = await sign_up(app, gql)
    # when
    payload = (await gql(VERIFY, {"token": token}))["data"]["verifyEmail"]
    # then
    assert payload["errors"] == []
    assert payload["user"]["email"] == EMAIL and payload["user"]["emailVerified"] is True
    login = (await gql(LOGIN, {"email": EMAIL, "password": PASSWORD}))["data"]["login"]
    assert login["errors"] == [] and login["token"]
    [record] = await rows(app, models.EmailVerificationToken)
    assert record.used_at is not None


async def test_verification_is_audited(app, gql):
    # given
    token = await sign_up(app, gql)
    # when
    await gql(VERIFY, {"token": token})
    # then
    assert await audit_actions(app) == ["user.signed_up", "user.email_verified"]
    [_, record] = await rows(app, models.AuditRecord)
    assert token not in str(record.details)


async def test_a_token_works_only_once(app, gql):
    # given
    token = await sign_up(app, gql)
    await gql(VERIFY, {"token": token})
    # when
    payload = (await gql(VERIFY, {"token": token}))["data"]["verifyEmail"]
    # then
    assert token_invalid(payload)
    assert await audit_actions(app) == ["user.signed_up", "user.email_verified"]


async def test_an_expired_token_is_refused(app, gql, monkeypatch):
    # given: tokens that expired a minute before they were sent
    monkeypatch.setattr(app.state.settings.auth, "verification_ttl_seconds", -60)
    token = await sign_up(app, gql)
    # when
    payload = (await gql(VERIFY, {"token": token}))["data"]["verifyEmail"]
    # then
    assert token_invalid(payload)
    [user] = await rows(app, models.User)
    assert user.email_verified is False


async def test_a_forged_token_is_refused(app, gql):
    # given: the same claims, signed with another secret
    await sign_up(app, gql)
    [user] = await rows(app, models.User)
    [record] = await rows(app, models.EmailVerificationToken)
    tokens = app.state.services.tokens
    forger = TokenService(
        algorithm="HS256",
        secret="not-our-secret-" + "y" * 32,
        private_key=None,
        public_key=None,
        issuer=tokens.issuer,
        audience=tokens.audience,
        ttl_seconds=60,
    )
    forged = forger.issue_for(purpose="verify_email", subject=str(user.id), ttl_seconds=600)
    # when
    payload = (await gql(VERIFY, {"token": forged.token}))["data"]["verifyEmail"]
    # then
    assert token_invalid(payload)
    assert record.used_at is None


async def test_a_valid_signature_without_a_recorded_token_is_refused(app, gql):
    # given: a correctly signed token whose jti was never issued
    await sign_up(app, gql)
    [user] = await rows(app, models.User)
    stray = app.state.services.tokens.issue_for(purpose="verify_email", subject=str(user.id), ttl_seconds=600)
    # when
    payload = (await gql(VERIFY, {"token": stray.token}))["data"]["verifyEmail"]
    # then
    assert token_invalid(payload)


async def test_an_access_token_is_not_a_verification_token(app, gql):
    # given
    account = await make_login(app)
    # when
    payload = (await gql(VERIFY, {"token": account.token}))["data"]["verifyEmail"]
    # then
    assert token_invalid(payload)


async def test_garbage_is_refused(app, gql):
    for garbage in ["", "garbage", "a.b.c", "x" * 10000]:
        payload = (await gql(VERIFY, {"token": garbage}))["data"]["verifyEmail"]
        assert token_invalid(payload), garbage
