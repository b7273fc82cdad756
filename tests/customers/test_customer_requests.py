"""Customer.requests and Customer.openRequestCount: nested, batched, archived left out unless asked."""

from db.enums import RequestStatus, Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user
from tests.requests.given import make_request

NESTED = """
query ($id: ID!, $status: RequestStatus, $includeArchived: Boolean, $first: Int, $after: String) {
  customer(id: $id) {
    openRequestCount
    requests(status: $status, includeArchived: $includeArchived, first: $first, after: $after) {
      totalCount nodes { body } pageInfo { hasNextPage endCursor }
    }
  }
}"""


async def _given(app):
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app)
    await make_request(app, customer, body="pending")
    await make_request(app, customer, body="working", status=RequestStatus.IN_PROGRESS, processed_by=admin.user)
    await make_request(app, customer, body="done", status=RequestStatus.COMPLETED)
    await make_request(app, customer, body="archived open", archived=True)
    await make_request(app, await make_customer(app), body="someone else's")
    return admin, to_global_id("Customer", customer.id)


async def test_requests_oldest_first_without_archived(app, gql):
    # given
    admin, gid = await _given(app)

    # when
    body = await gql(NESTED, {"id": gid}, token=admin.token)

    # then
    customer = body["data"]["customer"]
    assert customer["openRequestCount"] == 2
    assert customer["requests"]["totalCount"] == 3
    assert [n["body"] for n in customer["requests"]["nodes"]] == ["pending", "working", "done"]


async def test_status_filter_and_archived_on_request(app, gql):
    # given
    admin, gid = await _given(app)

    # when
    pending = await gql(NESTED, {"id": gid, "status": "PENDING"}, token=admin.token)
    everything = await gql(NESTED, {"id": gid, "includeArchived": True}, token=admin.token)

    # then
    assert [n["body"] for n in pending["data"]["customer"]["requests"]["nodes"]] == ["pending"]
    assert everything["data"]["customer"]["requests"]["totalCount"] == 4


async def test_nested_paging(app, gql):
    # given
    admin, gid = await _given(app)

    # when
    first = await gql(NESTED, {"id": gid, "first": 2}, token=admin.token)
    cursor = first["data"]["customer"]["requests"]["pageInfo"]["endCursor"]
    rest = await gql(NESTED, {"id": gid, "first": 2, "after": cursor}, token=admin.token)

    # then
    assert [n["body"] for n in first["data"]["customer"]["requests"]["nodes"]] == ["pending", "working"]
    assert first["data"]["customer"]["requests"]["pageInfo"]["hasNextPage"] is True
    assert [n["body"] for n in rest["data"]["customer"]["requests"]["nodes"]] == ["done"]
    assert rest["data"]["customer"]["requests"]["pageInfo"]["hasNextPage"] is False


async def test_nested_page_size_over_fifty_is_bad_user_input(app, gql):
    # given
    admin, gid = await _given(app)

    # when
    body = await gql(NESTED, {"id": gid, "first": 51}, token=admin.token)

    # then
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["path"] == ["customer", "requests"]


async def test_a_customer_sees_its_own_requests(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    async with app.state.sessionmaker() as session:
        from db import models

        customer = await session.get(models.Customer, me.user.customer_id)
    await make_request(app, customer, body="mine")

    # when
    body = await gql(NESTED, {"id": to_global_id("Customer", customer.id)}, token=me.token)

    # then
    assert [n["body"] for n in body["data"]["customer"]["requests"]["nodes"]] == ["mine"]
