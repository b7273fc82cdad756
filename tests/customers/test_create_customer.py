"""createCustomer: ADMIN and SALES; validated, unique email, phone as E.164, audited, sales list notified."""

import pytest
from sqlalchemy import select

from db import models
from db.enums import Role
from tests.factories import make_customer, make_user
from tests.requests.given import audit_records

CREATE = """
mutation ($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id firstName lastName email phone company archivedAt version }
    errors { code message field }
  }
}"""


async def test_admin_creates_a_customer(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)

    # when
    body = await gql(
        CREATE,
        {
            "input": {
                "firstName": "  Ed ",
                "lastName": "Stark",
                "email": "Ed.Stark@Winterfell.EXAMPLE",
                "phone": "020 8366 1171",
                "company": "Winterfell",
            }
        },
        token=admin.token,
    )

    # then
    payload = body["data"]["createCustomer"]
    assert payload["errors"] == []
    customer = payload["customer"]
    assert customer["firstName"] == "Ed"
    assert customer["email"] == "Ed.Stark@winterfell.example"
    assert customer["phone"] == "+442083661171"
    assert customer["company"] == "Winterfell"
    assert customer["version"] == 1
    assert customer["archivedAt"] is None


async def test_creation_is_audited_and_notifies_sales_in_the_same_transaction(app, gql):
    # given
    sales = await make_user(app, Role.SALES)

    # when
    body = await gql(CREATE, {"input": {"firstName": "Arya", "lastName": "Stark"}}, token=sales.token)

    # then
    customer = body["data"]["createCustomer"]["customer"]
    records = await audit_records(app)
    assert [(r.action, r.entity_type, r.entity_id, r.actor_id) for r in records] == [
        ("customer.created", "Customer", customer["id"], sales.id)
    ]
    assert records[0].details["changes"]["first_name"] == {"from": None, "to": "Arya"}
    async with app.state.sessionmaker() as session:
        outbox = (await session.scalars(select(models.OutboxMessage))).all()
    assert [(m.topic, m.payload["id"]) for m in outbox] == [("email.customer_created", customer["id"])]


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.CUSTOMER])
async def test_other_roles_are_forbidden(app, gql, role):
    # given
    user = await make_user(app, role)

    # when
    body = await gql(CREATE, {"input": {"firstName": "A", "lastName": "B"}}, token=user.token)

    # then
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_every_invalid_field_is_reported_at_once(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)

    # when
    body = await gql(
        CREATE,
        {
            "input": {
                "firstName": "   ",
                "lastName": "x" * 101,
                "email": "not-an-email",
                "phone": "12",
                "company": "c" * 201,
            }
        },
        token=admin.token,
    )

    # then
    payload = body["data"]["createCustomer"]
    assert payload["customer"] is None
    assert {(e["code"], tuple(e["field"])) for e in payload["errors"]} == {
        ("VALIDATION", ("firstName",)),
        ("VALIDATION", ("lastName",)),
        ("VALIDATION", ("email",)),
        ("VALIDATION", ("phone",)),
        ("VALIDATION", ("company",)),
    }
    assert await audit_records(app) == []


async def test_a_phone_with_country_code_works_from_anywhere(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)

    # when
    body = await gql(
        CREATE, {"input": {"firstName": "A", "lastName": "B", "phone": "+1 (650) 253-0000"}}, token=admin.token
    )

    # then
    assert body["data"]["createCustomer"]["customer"]["phone"] == "+16502530000"


async def test_email_is_unique_case_insensitively_archived_included(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    await make_customer(app, email="sansa@example.com", archived_at=models.utcnow())

    # when
    body = await gql(
        CREATE, {"input": {"firstName": "S", "lastName": "Stark", "email": "SANSA@example.com"}}, token=admin.token
    )

    # then
    payload = body["data"]["createCustomer"]
    assert payload["customer"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("CONFLICT", ["email"])]


async def test_an_erased_customers_email_is_free_again(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    await make_customer(app, email="bran@example.com", erased_at=models.utcnow())

    # when
    body = await gql(
        CREATE, {"input": {"firstName": "B", "lastName": "Stark", "email": "bran@example.com"}}, token=admin.token
    )

    # then
    assert body["data"]["createCustomer"]["errors"] == []


async def test_blank_optional_fields_are_stored_as_null(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)

    # when
    body = await gql(
        CREATE,
        {"input": {"firstName": "A", "lastName": "B", "email": " ", "phone": "", "company": "  "}},
        token=admin.token,
    )

    # then
    customer = body["data"]["createCustomer"]["customer"]
    assert (customer["email"], customer["phone"], customer["company"]) == (None, None, None)


async def test_two_racing_creations_with_one_email_leave_one_customer(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    variables = {"input": {"firstName": "Jon", "lastName": "Snow", "email": "jon@example.com"}}

    # when
    import asyncio

    bodies = await asyncio.gather(*(gql(CREATE, variables, token=admin.token) for _ in range(4)))

    # then
    payloads = [b["data"]["createCustomer"] for b in bodies]
    assert sum(1 for p in payloads if p["customer"] is not None) == 1
    assert all(p["errors"] == [] or p["errors"][0]["code"] == "CONFLICT" for p in payloads)
