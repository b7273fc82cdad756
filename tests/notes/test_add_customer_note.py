"""addCustomerNote: staff add internal notes; customers may not."""

from __future__ import annotations

import pytest

from db import models
from db.enums import Role
from tests.chat.given import audit_rows, count, gid, own_customer_id
from tests.factories import make_customer, make_user

ADD = """
mutation Add($input: AddCustomerNoteInput!) {
  addCustomerNote(input: $input) {
    note { id body createdAt customer { id } author { id } }
    errors { code field message }
  }
}
"""


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.SALES])
async def test_staff_add_a_note(app, gql, role):
    # given
    customer = await make_customer(app)
    staff = await make_user(app, role)
    # when
    body = await gql(
        ADD, {"input": {"customerId": gid("Customer", customer), "body": "  Call after 5pm  "}}, token=staff.token
    )
    # then
    payload = body["data"]["addCustomerNote"]
    assert payload["errors"] == []
    note = payload["note"]
    assert note["body"] == "Call after 5pm"
    assert note["customer"] == {"id": gid("Customer", customer)}
    assert note["author"] == {"id": gid("User", staff.user)}
    [record] = await audit_rows(app)
    assert (record.action, record.entity_type, record.entity_id) == ("note.added", "Note", note["id"])
    assert record.actor_id == staff.id
    assert record.details == {"customerId": gid("Customer", customer), "length": 14}


async def test_customers_may_not_add_notes(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    # when
    body = await gql(ADD, {"input": {"customerId": own_customer_id(me), "body": "note to self"}}, token=me.token)
    # then
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count(app, models.Note) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The note must not be empty."),
        ("   ", "The note must not be empty."),
        ("n" * 10_001, "The note must be at most 10,000 characters; it has 10,001."),
    ],
)
async def test_body_must_be_1_to_10000_characters(app, gql, text, message):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    body = await gql(ADD, {"input": {"customerId": gid("Customer", customer), "body": text}}, token=sales.token)
    assert body["data"]["addCustomerNote"] == {
        "note": None,
        "errors": [{"code": "VALIDATION", "field": ["body"], "message": message}],
    }
    assert await count(app, models.Note) == 0
    assert await audit_rows(app) == []


async def test_a_body_of_10000_characters_is_accepted(app, gql):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    body = await gql(ADD, {"input": {"customerId": gid("Customer", customer), "body": "n" * 10_000}}, token=sales.token)
    assert body["data"]["addCustomerNote"]["errors"] == []


@pytest.mark.parametrize("customer_id", ["junk", "Tm90ZTox", "Q3VzdG9tZXI6OTk5OTk"])  # junk, Note:1, Customer:99999
async def test_unknown_customers_are_not_found(app, gql, customer_id):
    admin = await make_user(app, Role.ADMIN)
    body = await gql(ADD, {"input": {"customerId": customer_id, "body": "hello"}}, token=admin.token)
    assert body["data"]["addCustomerNote"]["errors"] == [
        {"code": "NOT_FOUND", "field": ["customerId"], "message": "Customer not found."}
    ]
    assert await audit_rows(app) == []


async def test_erased_customers_take_no_new_notes(app, gql):
    from datetime import UTC, datetime

    customer = await make_customer(app, erased_at=datetime.now(UTC), email=None)
    admin = await make_user(app, Role.ADMIN)
    body = await gql(ADD, {"input": {"customerId": gid("Customer", customer), "body": "hello"}}, token=admin.token)
    assert body["data"]["addCustomerNote"]["errors"][0]["code"] == "VALIDATION"
    assert body["data"]["addCustomerNote"]["errors"][0]["field"] == ["customerId"]
