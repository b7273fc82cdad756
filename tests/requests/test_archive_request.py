"""archiveRequest: hidden from every list and count unless includeArchived; still readable by id."""

import pytest

from db.enums import RequestStatus, Role
from tests.factories import make_customer, make_user
from tests.requests.given import audit_actions, gid, make_request

ARCHIVE = "mutation ($id: ID!) { archiveRequest(id: $id) { request { id archivedAt } errors { code field } } }"
COUNTS = """
query ($customer: ID!) {
  requests { totalCount }
  archived: requests(filter: {includeArchived: true}) { totalCount }
  customer(id: $customer) { openRequestCount requests { totalCount } }
  operators { nodes { id openRequestCount assignedRequests { totalCount } } }
}"""


async def test_archived_requests_leave_lists_and_counts(app, gql):
    # given
    operator = await make_user(app, Role.OPERATOR)
    customer = await make_customer(app)
    request = await make_request(app, customer, status=RequestStatus.IN_PROGRESS, processed_by=operator.user)

    # when
    body = await gql(ARCHIVE, {"id": gid("Request", request)}, token=operator.token)

    # then
    assert body["data"]["archiveRequest"]["request"]["archivedAt"] is not None
    counts = await gql(COUNTS, {"customer": gid("Customer", customer)}, token=operator.token)
    data = counts["data"]
    assert data["requests"]["totalCount"] == 0
    assert data["archived"]["totalCount"] == 1
    assert data["customer"] == {"openRequestCount": 0, "requests": {"totalCount": 0}}
    assert data["operators"]["nodes"] == [
        {"id": gid("Operator", operator.user), "openRequestCount": 0, "assignedRequests": {"totalCount": 0}}
    ]
    direct = await gql(
        "query ($id: ID!) { request(id: $id) { archivedAt } }", {"id": gid("Request", request)}, token=operator.token
    )
    assert direct["data"]["request"]["archivedAt"] is not None
    assert await audit_actions(app) == ["request.archived"]


async def test_archiving_twice_is_an_invalid_transition(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    request = await make_request(app, await make_customer(app), archived=True)

    # when
    body = await gql(ARCHIVE, {"id": gid("Request", request)}, token=admin.token)

    # then
    assert body["data"]["archiveRequest"]["errors"] == [{"code": "INVALID_TRANSITION", "field": ["id"]}]


@pytest.mark.parametrize("role", [Role.SALES, Role.CUSTOMER])
async def test_sales_and_customers_are_forbidden(app, gql, role):
    # given
    user = await make_user(app, role)
    request = await make_request(app, await make_customer(app))

    # when
    body = await gql(ARCHIVE, {"id": gid("Request", request)}, token=user.token)

    # then
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
