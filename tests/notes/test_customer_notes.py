"""Customer.notes: staff read them newest first; a customer viewer gets null with a FORBIDDEN error."""

from __future__ import annotations

import pytest

from db import models
from db.enums import Role
from tests.chat.given import fetch, gid, make_note
from tests.factories import make_customer, make_user

NOTES = """
query Notes($id: ID!, $first: Int, $after: String) {
  customer(id: $id) {
    id
    notes(first: $first, after: $after) {
      totalCount
      nodes { body author { id } customer { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

NODE = "query N($id: ID!) { node(id: $id) { __typename ... on Note { body } } }"

PAGE_OF_CUSTOMERS = """
{ customers(first: 50) { nodes { notes(first: 3) { totalCount nodes { body author { firstName } } } } } }
"""


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.SALES])
async def test_staff_read_notes_newest_first(app, gql, role):
    # given
    customer = await make_customer(app)
    writer = await make_user(app, Role.SALES)
    for text in ["one", "two", "three"]:
        await make_note(app, customer, body=text, author=writer.user)
    await make_note(app, await make_customer(app), body="other customer")
    staff = await make_user(app, role)
    # when
    body = await gql(NOTES, {"id": gid("Customer", customer), "first": 2}, token=staff.token)
    # then
    notes = body["data"]["customer"]["notes"]
    assert [n["body"] for n in notes["nodes"]] == ["three", "two"]
    assert notes["totalCount"] == 3
    assert notes["nodes"][0]["author"] == {"id": gid("User", writer.user)}
    assert notes["nodes"][0]["customer"] == {"id": gid("Customer", customer)}
    rest = await gql(
        NOTES, {"id": gid("Customer", customer), "after": notes["pageInfo"]["endCursor"]}, token=staff.token
    )
    assert [n["body"] for n in rest["data"]["customer"]["notes"]["nodes"]] == ["one"]


async def test_a_customer_sees_null_notes_with_a_forbidden_error(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    customer = await fetch(app, models.Customer, me.user.customer_id)
    await make_note(app, customer, body="internal: difficult customer")
    # when
    body = await gql(NOTES, {"id": gid("Customer", customer)}, token=me.token)
    # then: the rest of the customer is there
    assert body["data"]["customer"] == {"id": gid("Customer", customer), "notes": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"] == ["customer", "notes"]
    assert "difficult" not in str(body)


async def test_notes_are_nodes_for_staff_only(app, gql):
    customer = await make_customer(app)
    note = await make_note(app, customer, body="vip")
    operator = await make_user(app, Role.OPERATOR)
    me = await make_user(app, Role.CUSTOMER, customer=customer)
    assert (await gql(NODE, {"id": gid("Note", note)}, token=operator.token))["data"]["node"] == {
        "__typename": "Note",
        "body": "vip",
    }
    assert (await gql(NODE, {"id": gid("Note", note)}, token=me.token)) == {"data": {"node": None}}


async def test_nested_page_size_over_50_is_bad_user_input(app, gql):
    customer = await make_customer(app)
    admin = await make_user(app, Role.ADMIN)
    body = await gql(NOTES, {"id": gid("Customer", customer), "first": 51}, token=admin.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_notes_of_a_page_of_customers_cost_the_same_for_5_or_20(app, gql, sql_counter):
    # given
    admin = await make_user(app, Role.ADMIN)
    writer = await make_user(app, Role.OPERATOR)

    async def customers_with_notes(n: int) -> None:
        for _ in range(n):
            customer = await make_customer(app)
            for k in range(4):
                await make_note(app, customer, body=f"note {k}", author=writer.user)

    await customers_with_notes(5)
    sql_counter.statements.clear()
    small = await gql(PAGE_OF_CUSTOMERS, token=admin.token)
    small_count = sql_counter.count
    await customers_with_notes(15)
    sql_counter.statements.clear()
    large = await gql(PAGE_OF_CUSTOMERS, token=admin.token)
    # then
    assert "errors" not in small and "errors" not in large
    assert len(large["data"]["customers"]["nodes"]) == 20
    assert all(n["notes"]["totalCount"] == 4 for n in large["data"]["customers"]["nodes"])
    assert sql_counter.count == small_count
    assert len([s for s in sql_counter.statements if "notes" in s]) == 2  # the page and the batched count
