"""requests: filters by status, customer, operator and archived; a customer sees only its own."""

import pytest

from db.enums import RequestStatus, Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user
from tests.requests.given import gid, make_request

LIST = """
query ($filter: RequestFilter, $first: Int, $after: String) {
  requests(filter: $filter, first: $first, after: $after) {
    totalCount nodes { body } pageInfo { hasNextPage endCursor }
  }
}"""


def bodies(body):
    return [n["body"] for n in body["data"]["requests"]["nodes"]]


async def _given(app):
    operator = await make_user(app, Role.OPERATOR)
    stark, snow = await make_customer(app), await make_customer(app)
    await make_request(app, stark, body="a")
    await make_request(app, stark, body="b", status=RequestStatus.IN_PROGRESS, processed_by=operator.user)
    await make_request(app, snow, body="c", status=RequestStatus.COMPLETED, processed_by=operator.user)
    await make_request(app, snow, body="d", archived=True)
    return operator, stark, snow


async def test_all_live_requests_oldest_first(app, gql):
    # given
    operator, _, _ = await _given(app)

    # when
    body = await gql(LIST, token=operator.token)

    # then
    assert bodies(body) == ["a", "b", "c"]
    assert body["data"]["requests"]["totalCount"] == 3


@pytest.mark.parametrize(
    ("make_filter", "expected"),
    [
        (lambda op, stark, snow: {"status": "IN_PROGRESS"}, ["b"]),
        (lambda op, stark, snow: {"customerId": gid("Customer", snow)}, ["c"]),
        (lambda op, stark, snow: {"customerId": gid("Customer", snow), "includeArchived": True}, ["c", "d"]),
        (lambda op, stark, snow: {"operatorId": gid("Operator", op.user)}, ["b", "c"]),
        (lambda op, stark, snow: {"operatorId": gid("Operator", op.user), "status": "COMPLETED"}, ["c"]),
        (lambda op, stark, snow: {"customerId": "garbage"}, []),
        (lambda op, stark, snow: {"customerId": to_global_id("Request", stark.id)}, []),
    ],
)
async def test_filters(app, gql, make_filter, expected):
    # given
    operator, stark, snow = await _given(app)

    # when
    body = await gql(LIST, {"filter": make_filter(operator, stark, snow)}, token=operator.token)

    # then
    assert bodies(body) == expected
    assert body["data"]["requests"]["totalCount"] == len(expected)


async def test_paging(app, gql):
    # given
    operator, _, _ = await _given(app)

    # when
    first = await gql(LIST, {"first": 2}, token=operator.token)
    rest = await gql(
        LIST, {"first": 2, "after": first["data"]["requests"]["pageInfo"]["endCursor"]}, token=operator.token
    )

    # then
    assert bodies(first) == ["a", "b"] and bodies(rest) == ["c"]
    assert rest["data"]["requests"]["pageInfo"]["hasNextPage"] is False


async def test_more_than_fifty_is_bad_user_input(app, gql):
    # given
    operator, _, _ = await _given(app)

    # when
    body = await gql(LIST, {"first": 51}, token=operator.token)

    # then
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_customer_sees_only_its_own_requests(app, gql):
    # given
    operator, stark, snow = await _given(app)
    me = await make_user(app, Role.CUSTOMER, customer=stark)

    # when
    everything = await gql(LIST, token=me.token)
    snows = await gql(LIST, {"filter": {"customerId": gid("Customer", snow), "includeArchived": True}}, token=me.token)
    by_operator = await gql(LIST, {"filter": {"operatorId": gid("Operator", operator.user)}}, token=me.token)

    # then
    assert bodies(everything) == ["a", "b"]
    assert bodies(snows) == [] and snows["data"]["requests"]["totalCount"] == 0
    assert bodies(by_operator) == ["b"]
