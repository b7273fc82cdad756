"""`me`: the signed-in user, with its customer record (customers) or operator (staff); null for anonymous."""

from __future__ import annotations

from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_user

ME = """
query Me {
  me { id email role emailVerified customer { id firstName } operator { id } }
}
"""


async def test_anonymous_is_null(gql):
    assert await gql(ME) == {"data": {"me": None}}


async def test_a_customer_sees_its_own_customer_record(app, gql):
    # given
    account = await make_user(app, Role.CUSTOMER)
    # when
    body = await gql(ME, token=account.token)
    # then
    me = body["data"]["me"]
    assert me["id"] == to_global_id("User", account.id)
    assert me["role"] == "CUSTOMER"
    assert me["customer"]["id"] == to_global_id("Customer", account.user.customer_id)
    assert me["operator"] is None


async def test_staff_see_themselves_as_operator(app, gql):
    for role in (Role.ADMIN, Role.OPERATOR, Role.SALES):
        account = await make_user(app, role)
        me = (await gql(ME, token=account.token))["data"]["me"]
        assert me["role"] == role.value
        assert me["customer"] is None
        assert me["operator"]["id"] == to_global_id("Operator", account.id)


async def test_the_password_hash_is_not_in_the_schema(gql, app):
    account = await make_user(app, Role.ADMIN)
    body = await gql("query { me { passwordHash } }", token=account.token)
    assert body["errors"][0]["message"].startswith("Cannot query field")
