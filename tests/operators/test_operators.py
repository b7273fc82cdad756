"""operators: staff users by last name, paged; staff only."""

from db.enums import Role
from tests.factories import make_user

LIST = """
query ($first: Int, $after: String) {
  operators(first: $first, after: $after) { totalCount nodes { lastName role } pageInfo { hasNextPage endCursor } }
}"""


async def test_staff_are_listed_by_last_name(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN, last_name="Baratheon")
    await make_user(app, Role.OPERATOR, last_name="Lanister")
    await make_user(app, Role.SALES, last_name="Arryn")
    await make_user(app, Role.CUSTOMER, last_name="Aardvark")

    # when
    body = await gql(LIST, token=admin.token)

    # then
    assert body["data"]["operators"]["nodes"] == [
        {"lastName": "Arryn", "role": "SALES"},
        {"lastName": "Baratheon", "role": "ADMIN"},
        {"lastName": "Lanister", "role": "OPERATOR"},
    ]
    assert body["data"]["operators"]["totalCount"] == 3


async def test_paging(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN, last_name="A")
    await make_user(app, Role.OPERATOR, last_name="B")

    # when
    first = await gql(LIST, {"first": 1}, token=admin.token)
    rest = await gql(
        LIST, {"first": 1, "after": first["data"]["operators"]["pageInfo"]["endCursor"]}, token=admin.token
    )

    # then
    assert [n["lastName"] for n in first["data"]["operators"]["nodes"]] == ["A"]
    assert [n["lastName"] for n in rest["data"]["operators"]["nodes"]] == ["B"]
    assert rest["data"]["operators"]["pageInfo"]["hasNextPage"] is False


async def test_customers_may_not_list_operators(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)

    # when
    body = await gql(LIST, token=me.token)

    # then
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_more_than_fifty_is_bad_user_input(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)

    # when
    body = await gql(LIST, {"first": 51}, token=admin.token)

    # then
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
