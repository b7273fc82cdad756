"""customers: keyset pages, search over name/email/phone, archived on request, created-between, orderings."""

from datetime import UTC, datetime, timedelta

import pytest

from db import models
from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user

LIST = """
query ($filter: CustomerFilter, $orderBy: CustomerOrder, $first: Int, $after: String, $last: Int, $before: String) {
  customers(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { lastName } }
    nodes { lastName }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


def names(body):
    return [n["lastName"] for n in body["data"]["customers"]["nodes"]]


async def _staff(app):
    return (await make_user(app, Role.SALES)).token


async def test_default_order_is_creation_order_without_archived(app, gql):
    # given
    token = await _staff(app)
    for name in ("Stark", "Lannister", "Targaryen"):
        await make_customer(app, last_name=name)
    await make_customer(app, last_name="Gone", archived_at=models.utcnow())

    # when
    body = await gql(LIST, token=token)

    # then
    assert names(body) == ["Stark", "Lannister", "Targaryen"]
    assert body["data"]["customers"]["totalCount"] == 3
    page_info = body["data"]["customers"]["pageInfo"]
    assert page_info["hasNextPage"] is False and page_info["hasPreviousPage"] is False
    assert page_info["startCursor"] == body["data"]["customers"]["edges"][0]["cursor"]


async def test_archived_customers_on_request(app, gql):
    # given
    token = await _staff(app)
    await make_customer(app, last_name="Live")
    await make_customer(app, last_name="Gone", archived_at=models.utcnow())

    # when
    body = await gql(LIST, {"filter": {"includeArchived": True}}, token=token)

    # then
    assert names(body) == ["Live", "Gone"]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("stark", ["Stark"]),
        ("ED", ["Stark"]),
        ("ed stark", ["Stark"]),
        ("WINTERFELL.example", ["Stark"]),
        ("+4420836", ["Stark"]),
        ("020 8366 1171", ["Stark"]),
        ("2083661171", ["Stark"]),
        ("snow", ["Snow"]),
        ("%", []),
        ("_", []),
        ("nobody", []),
    ],
)
async def test_search_matches_name_full_name_email_and_phone(app, gql, term, expected):
    # given
    token = await _staff(app)
    await make_customer(app, first_name="Ed", last_name="Stark", email="ed@winterfell.example", phone="+442083661171")
    await make_customer(app, first_name="Jon", last_name="Snow", email="jon@wall.example", phone=None)

    # when
    body = await gql(LIST, {"filter": {"search": term}}, token=token)

    # then
    assert names(body) == expected
    assert body["data"]["customers"]["totalCount"] == len(expected)


async def test_created_between(app, gql):
    # given
    token = await _staff(app)
    now = datetime.now(UTC)
    await make_customer(app, last_name="Old", created_at=now - timedelta(days=10))
    await make_customer(app, last_name="Mid", created_at=now - timedelta(days=5))
    await make_customer(app, last_name="New", created_at=now)

    # when
    body = await gql(
        LIST,
        {
            "filter": {
                "createdAfter": (now - timedelta(days=6)).isoformat(),
                "createdBefore": (now - timedelta(days=1)).isoformat(),
            }
        },
        token=token,
    )

    # then
    assert names(body) == ["Mid"]


async def test_order_by_last_name_descending(app, gql):
    # given
    token = await _staff(app)
    for name in ("Baratheon", "Stark", "Arryn"):
        await make_customer(app, last_name=name)

    # when
    body = await gql(LIST, {"orderBy": {"field": "LAST_NAME", "direction": "DESC"}}, token=token)

    # then
    assert names(body) == ["Stark", "Baratheon", "Arryn"]


async def test_paging_forward_neither_skips_nor_repeats_while_rows_are_inserted(app, gql):
    # given
    token = await _staff(app)
    for i in range(5):
        await make_customer(app, last_name=f"C{i}")

    # when
    first = await gql(LIST, {"first": 2}, token=token)
    await make_customer(app, last_name="Late")
    after = first["data"]["customers"]["pageInfo"]["endCursor"]
    second = await gql(LIST, {"first": 2, "after": after}, token=token)
    third = await gql(LIST, {"first": 10, "after": second["data"]["customers"]["pageInfo"]["endCursor"]}, token=token)

    # then
    assert names(first) == ["C0", "C1"] and first["data"]["customers"]["pageInfo"]["hasNextPage"] is True
    assert names(second) == ["C2", "C3"] and second["data"]["customers"]["pageInfo"]["hasPreviousPage"] is True
    assert names(third) == ["C4", "Late"] and third["data"]["customers"]["pageInfo"]["hasNextPage"] is False


async def test_paging_backward_with_last_and_before(app, gql):
    # given
    token = await _staff(app)
    for name in ("Arryn", "Baratheon", "Stark", "Tully"):
        await make_customer(app, last_name=name)
    order = {"field": "LAST_NAME"}

    # when
    last = await gql(LIST, {"orderBy": order, "last": 2}, token=token)
    before = last["data"]["customers"]["pageInfo"]["startCursor"]
    previous = await gql(LIST, {"orderBy": order, "last": 2, "before": before}, token=token)

    # then
    assert names(last) == ["Stark", "Tully"] and last["data"]["customers"]["pageInfo"]["hasPreviousPage"] is True
    assert names(previous) == ["Arryn", "Baratheon"]
    assert previous["data"]["customers"]["pageInfo"]["hasPreviousPage"] is False


@pytest.mark.parametrize(
    "variables",
    [{"first": 51}, {"first": -1}, {"last": 51}, {"after": "garbage"}, {"first": 1, "last": 1}],
)
async def test_bad_page_arguments_are_bad_user_input(app, gql, variables):
    # given
    token = await _staff(app)

    # when
    body = await gql(LIST, variables, token=token)

    # then
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_cursor_of_another_ordering_is_refused(app, gql):
    # given
    token = await _staff(app)
    await make_customer(app)
    await make_customer(app)
    cursor = (await gql(LIST, {"first": 1}, token=token))["data"]["customers"]["pageInfo"]["endCursor"]

    # when
    body = await gql(LIST, {"first": 1, "after": cursor, "orderBy": {"field": "LAST_NAME"}}, token=token)

    # then
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_fifty_is_allowed_and_twenty_is_the_default(app, gql):
    # given
    token = await _staff(app)
    for _ in range(25):
        await make_customer(app)

    # when
    default = await gql(LIST, token=token)
    fifty = await gql(LIST, {"first": 50}, token=token)

    # then
    assert len(names(default)) == 20 and default["data"]["customers"]["totalCount"] == 25
    assert len(names(fifty)) == 25


async def test_a_customer_lists_only_itself(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    await make_customer(app, last_name="Other")

    # when
    body = await gql(LIST, {"filter": {"search": "other"}}, token=me.token)
    everything = await gql("{ customers { totalCount nodes { id } } }", token=me.token)

    # then
    assert names(body) == []
    assert everything["data"]["customers"] == {
        "totalCount": 1,
        "nodes": [{"id": to_global_id("Customer", me.user.customer_id)}],
    }
