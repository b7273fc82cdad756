"""updateCustomer: absent = unchanged, null = cleared; optimistic concurrency; customers edit their own name/phone."""

import asyncio

import pytest

from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user
from tests.requests.given import audit_records

UPDATE = """
mutation ($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id firstName lastName email phone company version }
    errors { code message field }
  }
}"""


def gid(row):
    return to_global_id("Customer", row.id)


async def test_only_the_fields_passed_change_and_null_clears(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app, first_name="Ed", last_name="Stark", phone="+442083661171", company="Winterfell")

    # when
    body = await gql(
        UPDATE, {"input": {"id": gid(customer), "firstName": "Eddard", "company": None}}, token=admin.token
    )

    # then
    payload = body["data"]["updateCustomer"]
    assert payload["errors"] == []
    assert payload["customer"] == {
        "id": gid(customer),
        "firstName": "Eddard",
        "lastName": "Stark",
        "email": customer.email,
        "phone": "+442083661171",
        "company": None,
        "version": 2,
    }
    records = await audit_records(app)
    assert [r.action for r in records] == ["customer.updated"]
    assert records[0].details["changes"] == {
        "first_name": {"from": "Ed", "to": "Eddard"},
        "company": {"from": "Winterfell", "to": None},
        "version": {"from": 1, "to": 2},
    }


async def test_a_required_name_cannot_be_cleared(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app)

    # when
    body = await gql(UPDATE, {"input": {"id": gid(customer), "lastName": None}}, token=admin.token)

    # then
    assert [(e["code"], e["field"]) for e in body["data"]["updateCustomer"]["errors"]] == [("VALIDATION", ["lastName"])]


async def test_a_stale_expected_version_is_a_conflict(app, gql):
    # given
    sales = await make_user(app, Role.SALES)
    customer = await make_customer(app)
    await gql(UPDATE, {"input": {"id": gid(customer), "expectedVersion": 1, "firstName": "New"}}, token=sales.token)

    # when
    body = await gql(
        UPDATE, {"input": {"id": gid(customer), "expectedVersion": 1, "firstName": "Newer"}}, token=sales.token
    )

    # then
    payload = body["data"]["updateCustomer"]
    assert payload["customer"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("CONFLICT", ["expectedVersion"])]


async def test_two_racing_updates_on_one_version_leave_one_winner(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app)

    # when
    bodies = await asyncio.gather(
        *(
            gql(
                UPDATE,
                {"input": {"id": gid(customer), "expectedVersion": 1, "firstName": f"Name{i}"}},
                token=admin.token,
            )
            for i in range(2)
        )
    )

    # then
    payloads = [b["data"]["updateCustomer"] for b in bodies]
    winners = [p for p in payloads if p["customer"] is not None]
    losers = [p for p in payloads if p["customer"] is None]
    assert len(winners) == 1 and winners[0]["customer"]["version"] == 2
    assert losers[0]["errors"][0]["code"] == "CONFLICT"


async def test_racing_updates_without_version_lose_nothing(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app)

    # when
    await asyncio.gather(
        gql(UPDATE, {"input": {"id": gid(customer), "firstName": "Catelyn"}}, token=admin.token),
        gql(UPDATE, {"input": {"id": gid(customer), "company": "Riverrun"}}, token=admin.token),
    )

    # then
    body = await gql(
        "query ($id: ID!) { customer(id: $id) { firstName company version } }", {"id": gid(customer)}, token=admin.token
    )
    assert body["data"]["customer"] == {"firstName": "Catelyn", "company": "Riverrun", "version": 3}


async def test_a_customer_updates_its_own_name_and_phone(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)

    # when
    body = await gql(
        UPDATE,
        {
            "input": {
                "id": to_global_id("Customer", me.user.customer_id),
                "lastName": "Tully",
                "phone": "+44 20 8366 1171",
            }
        },
        token=me.token,
    )

    # then
    payload = body["data"]["updateCustomer"]
    assert payload["errors"] == []
    assert (payload["customer"]["lastName"], payload["customer"]["phone"]) == ("Tully", "+442083661171")


async def test_a_customer_may_not_change_its_own_email_or_company(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)

    # when
    body = await gql(
        UPDATE,
        {"input": {"id": to_global_id("Customer", me.user.customer_id), "email": "new@example.com", "company": "X"}},
        token=me.token,
    )

    # then
    payload = body["data"]["updateCustomer"]
    assert payload["customer"] is None
    assert {(e["code"], e["field"][0]) for e in payload["errors"]} == {("FORBIDDEN", "email"), ("FORBIDDEN", "company")}


async def test_a_customer_cannot_see_another_customer_to_update_it(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    other = await make_customer(app)

    # when
    body = await gql(UPDATE, {"input": {"id": gid(other), "firstName": "Hacked"}}, token=me.token)

    # then
    assert [(e["code"], e["field"]) for e in body["data"]["updateCustomer"]["errors"]] == [("NOT_FOUND", ["id"])]


async def test_an_operator_is_forbidden(app, gql):
    # given
    operator = await make_user(app, Role.OPERATOR)
    customer = await make_customer(app)

    # when
    body = await gql(UPDATE, {"input": {"id": gid(customer), "firstName": "X"}}, token=operator.token)

    # then
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_taking_another_customers_email_is_a_conflict(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    await make_customer(app, email="taken@example.com")
    customer = await make_customer(app)

    # when
    body = await gql(UPDATE, {"input": {"id": gid(customer), "email": "Taken@Example.com"}}, token=admin.token)

    # then
    assert [(e["code"], e["field"]) for e in body["data"]["updateCustomer"]["errors"]] == [("CONFLICT", ["email"])]


@pytest.mark.parametrize("bad_id", ["nope", to_global_id("Request", 1), to_global_id("Customer", 999)])
async def test_unknown_or_wrongly_typed_ids_are_not_found(app, gql, bad_id):
    # given
    admin = await make_user(app, Role.ADMIN)
    await make_customer(app)

    # when
    body = await gql(UPDATE, {"input": {"id": bad_id, "firstName": "X"}}, token=admin.token)

    # then
    assert body["data"]["updateCustomer"]["errors"][0]["code"] == "NOT_FOUND"
