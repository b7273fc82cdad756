"""`signup`: a customer and its unverified account, a verification email queued in the outbox, nothing on error."""

from __future__ import annotations

import pytest

from db import models
from db.enums import Role
from tests.factories import make_customer
from tests.identity.helpers import PASSWORD, audit_actions, count, make_login, rows

SIGNUP = """
mutation Signup($input: SignupInput!) {
  signup(input: $input) {
    user { id email firstName lastName role emailVerified }
    customer { id firstName lastName email phone }
    errors { code message field }
  }
}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}
"""


def signup_input(**overrides) -> dict:
    values = {
        "email": "Ada.Lovelace@Example.com",
        "password": PASSWORD,
        "firstName": "  Ada ",
        "lastName": "Lovelace",
        "phone": "+44 20 7946 0958",
    }
    values.update(overrides)
    return {"input": values}


async def nothing_written(app) -> bool:
    return (
        await count(app, models.User) == 0
        and await count(app, models.Customer) == 0
        and await count(app, models.OutboxMessage) == 0
        and await count(app, models.EmailVerificationToken) == 0
        and await count(app, models.AuditRecord) == 0
    )


async def test_signup_creates_an_unverified_customer_account(app, gql):
    # when
    payload = (await gql(SIGNUP, signup_input()))["data"]["signup"]
    # then
    assert payload["errors"] == []
    assert payload["user"]["email"] == "Ada.Lovelace@example.com"
    assert payload["user"]["role"] == "CUSTOMER"
    assert payload["user"]["emailVerified"] is False
    assert payload["user"]["firstName"] == "Ada"
    assert payload["customer"]["firstName"] == "Ada"
    assert payload["customer"]["email"] == "Ada.Lovelace@example.com"
    assert payload["customer"]["phone"] == "+442079460958"
    [user] = await rows(app, models.User)
    [customer] = await rows(app, models.Customer)
    assert user.customer_id == customer.id
    assert user.password_hash and PASSWORD not in user.password_hash


async def test_signup_queues_the_verification_email_in_the_same_transaction(app, gql):
    # when
    await gql(SIGNUP, signup_input())
    # then
    [user] = await rows(app, models.User)
    [message, sales] = await rows(app, models.OutboxMessage)
    assert (sales.topic, sales.payload["customer_id"], sales.payload["source"]) == (
        "email.customer_created",
        user.customer_id,
        "signup",
    )
    assert message.topic == "email.verify_email"
    assert message.delivered_at is None
    assert message.payload["to"] == user.email
    assert message.payload["userId"] == user.id
    assert "/verify-email?token=" in message.payload["verifyUrl"]
    assert message.payload["token"] in message.payload["verifyUrl"]
    assert PASSWORD not in str(message.payload)
    [token] = await rows(app, models.EmailVerificationToken)
    assert token.user_id == user.id and token.used_at is None


async def test_signup_is_audited(app, gql):
    # when
    await gql(SIGNUP, signup_input())
    # then
    assert await audit_actions(app) == ["user.signed_up"]
    [record] = await rows(app, models.AuditRecord)
    [user] = await rows(app, models.User)
    assert record.actor_id == user.id
    assert PASSWORD not in str(record.details)


async def test_the_new_account_cannot_log_in_before_verifying(app, gql):
    # given
    await gql(SIGNUP, signup_input())
    # when
    payload = (await gql(LOGIN, {"email": "ada.lovelace@example.com", "password": PASSWORD}))["data"]["login"]
    # then
    assert payload == {"token": None, "errors": [{"code": "EMAIL_NOT_VERIFIED"}]}


async def test_phone_is_optional(app, gql):
    # when
    payload = (await gql(SIGNUP, signup_input(phone=None)))["data"]["signup"]
    # then
    assert payload["errors"] == [] and payload["customer"]["phone"] is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, ["email"]),
        ({"email": "someone@localhost"}, ["email"]),
        ({"email": "a" * 320 + "@example.com"}, ["email"]),
        ({"password": ""}, ["password"]),
        ({"password": "short pw1"}, ["password"]),
        ({"password": "x" * 1001}, ["password"]),
        ({"firstName": "   "}, ["firstName"]),
        ({"lastName": "x" * 101}, ["lastName"]),
        ({"phone": "12345"}, ["phone"]),
    ],
)
async def test_bad_input_is_a_validation_error_and_writes_nothing(app, gql, overrides, field):
    # when
    payload = (await gql(SIGNUP, signup_input(**overrides)))["data"]["signup"]
    # then
    assert payload["user"] is None and payload["customer"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", field)]
    assert await nothing_written(app)


async def test_boundary_lengths_are_accepted(app, gql):
    # when
    payload = (await gql(SIGNUP, signup_input(password="x" * 10, firstName="y" * 100)))["data"]["signup"]
    # then
    assert payload["errors"] == []


async def test_every_problem_is_reported_at_once(app, gql):
    # when
    payload = (await gql(SIGNUP, signup_input(email="nope", password="short", firstName="", lastName="")))["data"][
        "signup"
    ]
    # then
    assert [e["field"] for e in payload["errors"]] == [["email"], ["password"], ["firstName"], ["lastName"]]


async def test_an_email_with_an_account_is_a_conflict(app, gql):
    # given
    existing = await make_login(app, Role.SALES, email="ada.lovelace@example.com")
    # when
    payload = (await gql(SIGNUP, signup_input(email="ADA.LOVELACE@example.com")))["data"]["signup"]
    # then
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("CONFLICT", ["email"])]
    assert [u.id for u in await rows(app, models.User)] == [existing.id]
    assert await count(app, models.OutboxMessage) == 0


async def test_an_email_of_a_live_customer_record_is_a_conflict(app, gql):
    # given
    await make_customer(app, email="ada.lovelace@example.com")
    # when
    payload = (await gql(SIGNUP, signup_input()))["data"]["signup"]
    # then
    assert [e["code"] for e in payload["errors"]] == ["CONFLICT"]
    assert await count(app, models.User) == 0


async def test_signing_up_twice_is_a_conflict(app, gql):
    # given
    await gql(SIGNUP, signup_input())
    # when
    payload = (await gql(SIGNUP, signup_input(firstName="Other")))["data"]["signup"]
    # then
    assert [e["code"] for e in payload["errors"]] == ["CONFLICT"]
    assert await count(app, models.Customer) == 1
    assert await count(app, models.OutboxMessage) == 2  # the first signup's verification and sales emails
