"""customer(id) and node(id): visible customers only; anything else is null, never an error."""

import pytest

from db import models
from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user

CUSTOMER = "query ($id: ID!) { customer(id: $id) { id firstName archivedAt } }"
NODE = "query ($id: ID!) { node(id: $id) { __typename id ... on Customer { lastName } } }"


async def test_staff_read_any_customer_archived_included(app, gql):
    # given
    operator = await make_user(app, Role.OPERATOR)
    customer = await make_customer(app, first_name="Ed", archived_at=models.utcnow())
    gid = to_global_id("Customer", customer.id)

    # when
    body = await gql(CUSTOMER, {"id": gid}, token=operator.token)
    node = await gql(NODE, {"id": gid}, token=operator.token)

    # then
    assert body["data"]["customer"]["firstName"] == "Ed"
    assert body["data"]["customer"]["archivedAt"] is not None
    assert node["data"]["node"] == {"__typename": "Customer", "id": gid, "lastName": customer.last_name}


async def test_a_customer_reads_itself_but_not_others(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    other = await make_customer(app)

    # when
    mine = await gql(CUSTOMER, {"id": to_global_id("Customer", me.user.customer_id)}, token=me.token)
    theirs = await gql(CUSTOMER, {"id": to_global_id("Customer", other.id)}, token=me.token)
    theirs_by_node = await gql(NODE, {"id": to_global_id("Customer", other.id)}, token=me.token)

    # then
    assert mine["data"]["customer"] is not None
    assert theirs == {"data": {"customer": None}}
    assert theirs_by_node == {"data": {"node": None}}


@pytest.mark.parametrize("bad", ["", "garbage", to_global_id("Request", 1), to_global_id("Customer", 404)])
async def test_unknown_ids_give_null(app, gql, bad):
    # given
    admin = await make_user(app, Role.ADMIN)
    await make_customer(app)

    # when
    body = await gql(CUSTOMER, {"id": bad}, token=admin.token)

    # then
    assert body == {"data": {"customer": None}}


async def test_anonymous_callers_are_unauthenticated(app, gql):
    # given
    customer = await make_customer(app)

    # when
    body = await gql(CUSTOMER, {"id": to_global_id("Customer", customer.id)})

    # then
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
