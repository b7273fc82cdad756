"""Operator.assignedRequests and Operator.openRequestCount; a customer sees only its own requests in them."""

from db import models
from db.enums import RequestStatus, Role
from tests.factories import make_customer, make_user
from tests.requests.given import gid, make_request

OPERATOR = """
query ($id: ID!, $status: RequestStatus) {
  node(id: $id) { ... on Operator { openRequestCount assignedRequests(status: $status) { totalCount nodes { body } } } }
}"""
VIA_REQUEST = """
query ($id: ID!) {
  request(id: $id) { processedBy { firstName openRequestCount assignedRequests { totalCount nodes { body } } } }
}"""


async def _given(app):
    operator = await make_user(app, Role.OPERATOR, first_name="Jennie")
    stark, snow = await make_customer(app), await make_customer(app)
    mine = await make_request(app, stark, body="stark 1", status=RequestStatus.IN_PROGRESS, processed_by=operator.user)
    await make_request(app, snow, body="snow 1", status=RequestStatus.IN_PROGRESS, processed_by=operator.user)
    await make_request(app, snow, body="snow 2", status=RequestStatus.COMPLETED, processed_by=operator.user)
    await make_request(
        app, snow, body="snow 3", status=RequestStatus.IN_PROGRESS, processed_by=operator.user, archived=True
    )
    await make_request(app, snow, body="unassigned")
    return operator, stark, mine


async def test_staff_see_every_assigned_request(app, gql):
    # given
    operator, _, _ = await _given(app)

    # when
    body = await gql(OPERATOR, {"id": gid("Operator", operator.user)}, token=operator.token)
    completed = await gql(OPERATOR, {"id": gid("Operator", operator.user), "status": "COMPLETED"}, token=operator.token)

    # then
    node = body["data"]["node"]
    assert node["openRequestCount"] == 2
    assert [n["body"] for n in node["assignedRequests"]["nodes"]] == ["stark 1", "snow 1", "snow 2"]
    assert node["assignedRequests"]["totalCount"] == 3
    assert [n["body"] for n in completed["data"]["node"]["assignedRequests"]["nodes"]] == ["snow 2"]


async def test_a_customer_sees_the_handler_of_its_request_with_only_its_own_requests(app, gql):
    # given
    operator, stark, mine = await _given(app)
    me = await make_user(app, Role.CUSTOMER, customer=stark)

    # when
    body = await gql(VIA_REQUEST, {"id": gid("Request", mine)}, token=me.token)

    # then
    assert body["data"]["request"]["processedBy"] == {
        "firstName": "Jennie",
        "openRequestCount": 1,
        "assignedRequests": {"totalCount": 1, "nodes": [{"body": "stark 1"}]},
    }


async def test_a_customer_cannot_fetch_operators_who_never_handled_its_requests(app, gql):
    # given
    operator, stark, _ = await _given(app)
    stranger = await make_user(app, Role.OPERATOR)
    me = await make_user(app, Role.CUSTOMER, customer=stark)

    # when
    handler = await gql(OPERATOR, {"id": gid("Operator", operator.user)}, token=me.token)
    other = await gql(OPERATOR, {"id": gid("Operator", stranger.user)}, token=me.token)

    # then
    assert handler["data"]["node"]["openRequestCount"] == 1
    assert other == {"data": {"node": None}}


async def test_a_customer_account_is_not_an_operator_node(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    customer_user = await make_user(app, Role.CUSTOMER)

    # when
    body = await gql(OPERATOR, {"id": gid("Operator", customer_user.user)}, token=admin.token)

    # then
    assert body == {"data": {"node": None}}
    assert isinstance(customer_user.user, models.User)
