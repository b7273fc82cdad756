"""createRequest: a customer for itself, staff for anyone; PENDING, validated, audited."""

import pytest

from db import models
from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user
from tests.requests.given import audit_records

CREATE = """
mutation ($input: CreateRequestInput!) {
  createRequest(input: $input) {
    request { id body status customer { id } createdBy { id } processedBy { id } archivedAt }
    errors { code field }
  }
}"""


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.SALES])
async def test_staff_file_a_request_for_a_customer(app, gql, role):
    # given
    staff = await make_user(app, role)
    customer = await make_customer(app)
    gid = to_global_id("Customer", customer.id)

    # when
    body = await gql(CREATE, {"input": {"customerId": gid, "body": "  Winter is coming  "}}, token=staff.token)

    # then
    payload = body["data"]["createRequest"]
    assert payload["errors"] == []
    request = payload["request"]
    assert request["body"] == "Winter is coming"
    assert request["status"] == "PENDING"
    assert request["customer"] == {"id": gid} == request["createdBy"]
    assert request["processedBy"] is None
    records = await audit_records(app)
    assert [(r.action, r.entity_id, r.actor_id) for r in records] == [("request.created", request["id"], staff.id)]
    assert records[0].details["changes"]["status"] == {"from": None, "to": "PENDING"}


async def test_a_customer_files_for_itself_only(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    other = await make_customer(app)

    # when
    mine = await gql(
        CREATE, {"input": {"customerId": to_global_id("Customer", me.user.customer_id), "body": "Help"}}, token=me.token
    )
    theirs = await gql(
        CREATE, {"input": {"customerId": to_global_id("Customer", other.id), "body": "Help"}}, token=me.token
    )

    # then
    assert mine["data"]["createRequest"]["errors"] == []
    assert theirs["data"]["createRequest"] == {
        "request": None,
        "errors": [{"code": "NOT_FOUND", "field": ["customerId"]}],
    }


@pytest.mark.parametrize("text", ["", "   ", "x" * 10_001])
async def test_body_is_1_to_10000_characters(app, gql, text):
    # given
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app)

    # when
    body = await gql(
        CREATE, {"input": {"customerId": to_global_id("Customer", customer.id), "body": text}}, token=admin.token
    )

    # then
    assert body["data"]["createRequest"]["errors"] == [{"code": "VALIDATION", "field": ["body"]}]


async def test_ten_thousand_characters_are_fine(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app)

    # when
    body = await gql(
        CREATE,
        {"input": {"customerId": to_global_id("Customer", customer.id), "body": "x" * 10_000}},
        token=admin.token,
    )

    # then
    assert body["data"]["createRequest"]["errors"] == []


@pytest.mark.parametrize("bad", ["nope", to_global_id("Operator", 1), to_global_id("Customer", 404)])
async def test_unknown_customer_is_not_found(app, gql, bad):
    # given
    admin = await make_user(app, Role.ADMIN)

    # when
    body = await gql(CREATE, {"input": {"customerId": bad, "body": "Help"}}, token=admin.token)

    # then
    assert body["data"]["createRequest"]["errors"] == [{"code": "NOT_FOUND", "field": ["customerId"]}]


async def test_an_erased_customer_takes_no_new_requests_and_nothing_is_written(app, gql):
    # given an erased customer
    sales = await make_user(app, Role.SALES)
    customer = await make_customer(app, email=None, erased_at=models.utcnow())

    # when staff file a request for it, with an empty body too
    body = await gql(
        CREATE, {"input": {"customerId": to_global_id("Customer", customer.id), "body": " "}}, token=sales.token
    )

    # then both problems are reported, and neither a request nor an audit record exists
    payload = body["data"]["createRequest"]
    assert payload["request"] is None
    assert sorted((e["code"], e["field"][0]) for e in payload["errors"]) == [
        ("VALIDATION", "body"),
        ("VALIDATION", "customerId"),
    ]
    assert await audit_records(app) == []
