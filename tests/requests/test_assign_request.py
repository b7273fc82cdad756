"""assignRequest: ADMIN assigns anyone who handles requests; an OPERATOR assigns itself; → IN_PROGRESS."""

import pytest

from db.enums import RequestStatus, Role
from tests.factories import make_customer, make_user
from tests.requests.given import audit_records, gid, make_request

ASSIGN = """
mutation ($input: AssignRequestInput!) {
  assignRequest(input: $input) { request { status processedBy { id } } errors { code field } }
}"""


async def _request(app, **kwargs):
    return await make_request(app, await make_customer(app), **kwargs)


async def test_an_admin_assigns_an_operator(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    operator = await make_user(app, Role.OPERATOR)
    request = await _request(app)

    # when
    body = await gql(
        ASSIGN,
        {"input": {"requestId": gid("Request", request), "operatorId": gid("Operator", operator.user)}},
        token=admin.token,
    )

    # then
    assert body["data"]["assignRequest"] == {
        "request": {"status": "IN_PROGRESS", "processedBy": {"id": gid("Operator", operator.user)}},
        "errors": [],
    }
    records = await audit_records(app)
    assert [r.action for r in records] == ["request.assigned"]
    assert records[0].details["changes"] == {
        "status": {"from": "PENDING", "to": "IN_PROGRESS"},
        "processed_by": {"from": None, "to": gid("Operator", operator.user)},
    }


async def test_an_operator_assigns_itself_and_may_be_reassigned(app, gql):
    # given
    operator = await make_user(app, Role.OPERATOR)
    admin = await make_user(app, Role.ADMIN)
    request = await _request(app)
    rid = gid("Request", request)

    # when
    own = await gql(
        ASSIGN, {"input": {"requestId": rid, "operatorId": gid("Operator", operator.user)}}, token=operator.token
    )
    again = await gql(
        ASSIGN, {"input": {"requestId": rid, "operatorId": gid("Operator", admin.user)}}, token=admin.token
    )

    # then
    assert own["data"]["assignRequest"]["errors"] == []
    assert again["data"]["assignRequest"]["request"] == {
        "status": "IN_PROGRESS",
        "processedBy": {"id": gid("Operator", admin.user)},
    }


async def test_an_operator_may_not_assign_someone_else(app, gql):
    # given
    operator = await make_user(app, Role.OPERATOR)
    colleague = await make_user(app, Role.OPERATOR)
    request = await _request(app)

    # when
    body = await gql(
        ASSIGN,
        {"input": {"requestId": gid("Request", request), "operatorId": gid("Operator", colleague.user)}},
        token=operator.token,
    )

    # then
    assert body["data"]["assignRequest"] == {
        "request": None,
        "errors": [{"code": "FORBIDDEN", "field": ["operatorId"]}],
    }


@pytest.mark.parametrize("role", [Role.SALES, Role.CUSTOMER])
async def test_sales_and_customers_are_forbidden(app, gql, role):
    # given
    user = await make_user(app, role)
    operator = await make_user(app, Role.OPERATOR)
    request = await _request(app)

    # when
    body = await gql(
        ASSIGN,
        {"input": {"requestId": gid("Request", request), "operatorId": gid("Operator", operator.user)}},
        token=user.token,
    )

    # then
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_sales_users_do_not_handle_requests(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    sales = await make_user(app, Role.SALES)
    request = await _request(app)

    # when
    body = await gql(
        ASSIGN,
        {"input": {"requestId": gid("Request", request), "operatorId": gid("Operator", sales.user)}},
        token=admin.token,
    )

    # then
    assert body["data"]["assignRequest"]["errors"] == [{"code": "VALIDATION", "field": ["operatorId"]}]


async def test_a_customer_account_is_not_an_operator(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    customer_user = await make_user(app, Role.CUSTOMER)
    request = await _request(app)

    # when
    body = await gql(
        ASSIGN,
        {"input": {"requestId": gid("Request", request), "operatorId": gid("Operator", customer_user.user)}},
        token=admin.token,
    )

    # then
    assert body["data"]["assignRequest"]["errors"] == [{"code": "NOT_FOUND", "field": ["operatorId"]}]


@pytest.mark.parametrize("status", [RequestStatus.COMPLETED, RequestStatus.REJECTED])
async def test_closed_requests_cannot_be_assigned(app, gql, status):
    # given
    admin = await make_user(app, Role.ADMIN)
    request = await _request(app, status=status)

    # when
    body = await gql(
        ASSIGN,
        {"input": {"requestId": gid("Request", request), "operatorId": gid("Operator", admin.user)}},
        token=admin.token,
    )

    # then
    assert body["data"]["assignRequest"]["errors"] == [{"code": "INVALID_TRANSITION", "field": None}]


async def test_an_unknown_request_is_not_found(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)

    # when
    body = await gql(
        ASSIGN, {"input": {"requestId": "bogus", "operatorId": gid("Operator", admin.user)}}, token=admin.token
    )

    # then
    assert body["data"]["assignRequest"]["errors"] == [{"code": "NOT_FOUND", "field": ["requestId"]}]
