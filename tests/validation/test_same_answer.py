"""One validation vocabulary: the same name, email, phone or password gets the same answer from every mutation
that takes it — accepted and stored the same way, or refused with the same code, field and message."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from db.enums import Role
from tests.chat.given import gid
from tests.factories import make_customer, make_user

CREATE_CUSTOMER = """
mutation M($input: CreateCustomerInput!) {
  result: createCustomer(input: $input) {
    row: customer { firstName lastName email phone } errors { code field message }
  }
}
"""
UPDATE_CUSTOMER = """
mutation M($input: UpdateCustomerInput!) {
  result: updateCustomer(input: $input) {
    row: customer { firstName lastName email phone } errors { code field message }
  }
}
"""
SIGNUP = """
mutation M($input: SignupInput!) {
  result: signup(input: $input) { row: customer { firstName lastName email phone } errors { code field message } }
}
"""
CREATE_OPERATOR = """
mutation M($input: CreateOperatorInput!) {
  result: createOperator(input: $input) { row: operator { firstName lastName email } errors { code field message } }
}
"""
_n = itertools.count(1)


async def run(app: Any, gql: Any, mutation: str, field: str, value: Any) -> tuple[list[tuple[str, Any, str]], Any]:
    """Run `mutation` with a valid input whose `field` is `value`: (its errors, the stored field or None)."""
    n = next(_n)
    admin = await make_user(app, Role.ADMIN)
    base: dict[str, Any] = {"firstName": "Ada", "lastName": "Lovelace", "email": f"person{n}@example.com"}
    if mutation == UPDATE_CUSTOMER:
        customer = await make_customer(app, email=f"before{n}@example.com")
        base = {"id": gid("Customer", customer)}
    elif mutation == SIGNUP:
        base["password"] = "a good password"
    elif mutation == CREATE_OPERATOR:
        base["password"] = "a good password"
        base["role"] = "SALES"
    base[field] = value
    payload = (await gql(mutation, {"input": base}, token=admin.token))["data"]["result"]
    errors = [(e["code"], e["field"], e["message"]) for e in payload["errors"]]
    stored = payload["row"][field] if payload["row"] is not None and field in payload["row"] else None
    return errors, stored


CUSTOMER_MUTATIONS = [CREATE_CUSTOMER, UPDATE_CUSTOMER, SIGNUP]
ALL_MUTATIONS = [CREATE_CUSTOMER, UPDATE_CUSTOMER, SIGNUP, CREATE_OPERATOR]


async def answers(app: Any, gql: Any, mutations: list[str], field: str, value: Any) -> list[Any]:
    return [await run(app, gql, m, field, value) for m in mutations]


async def test_signup_accepts_the_uk_phone_create_customer_accepts(app, gql):
    # when
    got = await answers(app, gql, CUSTOMER_MUTATIONS, "phone", "020 7946 0019")
    # then: accepted everywhere, stored as the same E.164 number
    assert got == [([], "+442079460019")] * 3


@pytest.mark.parametrize("value", ["+44 20 7946 0019", "+1 415 555 0100", "12345", "not a phone", "0" * 65])
async def test_a_phone_gets_the_same_answer_everywhere(app, gql, value):
    # when
    got = await answers(app, gql, CUSTOMER_MUTATIONS, "phone", value)
    # then
    assert got[0] == got[1] == got[2]


@pytest.mark.parametrize("field", ["firstName", "lastName"])
@pytest.mark.parametrize("value", ["  Ada  ", "", "   ", "x" * 100, "x" * 101])
async def test_a_name_gets_the_same_answer_everywhere(app, gql, field, value):
    # when
    got = await answers(app, gql, ALL_MUTATIONS, field, value)
    # then
    assert got[0] == got[1] == got[2] == got[3]
    assert (got[0][0] == []) == (value.strip() != "" and len(value.strip()) <= 100)


async def test_an_email_is_normalised_the_same_way_everywhere(app, gql):
    # when: one address per mutation (an address is unique)
    got = [await run(app, gql, m, "email", f"  Ada.{i}@Example.COM ") for i, m in enumerate(ALL_MUTATIONS)]
    # then: trimmed, domain lower-cased, local part kept
    assert got == [([], f"Ada.{i}@example.com") for i in range(len(ALL_MUTATIONS))]


@pytest.mark.parametrize(
    "value", ["not-an-email", "someone@localhost", "a" * 320 + "@example.com", "two@@example.com", " @example.com"]
)
async def test_a_bad_email_gets_the_same_answer_everywhere(app, gql, value):
    # when
    got = await answers(app, gql, ALL_MUTATIONS, "email", value)
    # then
    assert got[0] == got[1] == got[2] == got[3]
    assert [(code, field) for code, field, _ in got[0][0]] == [("VALIDATION", ["email"])]


@pytest.mark.parametrize("value", ["", "short", "x" * 9, "x" * 10, "x" * 1000, "x" * 1001])
async def test_a_password_gets_the_same_answer_from_signup_and_create_operator(app, gql, value):
    # when
    signup, operator = await answers(app, gql, [SIGNUP, CREATE_OPERATOR], "password", value)
    # then
    assert signup[0] == operator[0]
    assert (signup[0] == []) == (10 <= len(value) <= 1000)
