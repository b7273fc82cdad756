"""request(id) and node(id): archived ones too; invisible or unknown ones are null."""

from db.enums import RequestStatus, Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user
from tests.requests.given import gid, make_request

REQUEST = """
query ($id: ID!) {
  request(id: $id) { id body status archivedAt customer { lastName } createdBy { lastName } processedBy { firstName } }
}"""
NODE = "query ($id: ID!) { node(id: $id) { __typename ... on Request { body } } }"


async def test_staff_read_a_request_with_its_people(app, gql):
    # given
    operator = await make_user(app, Role.OPERATOR, first_name="Jennie")
    customer = await make_customer(app, last_name="Stark")
    request = await make_request(
        app, customer, body="Winter", status=RequestStatus.IN_PROGRESS, processed_by=operator.user
    )

    # when
    body = await gql(REQUEST, {"id": gid("Request", request)}, token=operator.token)
    node = await gql(NODE, {"id": gid("Request", request)}, token=operator.token)

    # then
    assert body["data"]["request"] == {
        "id": gid("Request", request),
        "body": "Winter",
        "status": "IN_PROGRESS",
        "archivedAt": None,
        "customer": {"lastName": "Stark"},
        "createdBy": {"lastName": "Stark"},
        "processedBy": {"firstName": "Jennie"},
    }
    assert node["data"]["node"] == {"__typename": "Request", "body": "Winter"}


async def test_an_archived_request_is_returned_with_archived_at(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    request = await make_request(app, await make_customer(app), archived=True)

    # when
    body = await gql(REQUEST, {"id": gid("Request", request)}, token=admin.token)

    # then
    assert body["data"]["request"]["archivedAt"] is not None


async def test_a_customer_reads_its_own_request_but_not_others(app, gql):
    # given
    me = await make_user(app, Role.CUSTOMER)
    async with app.state.sessionmaker() as session:
        from db import models

        mine = await make_request(app, await session.get(models.Customer, me.user.customer_id), body="mine")
    theirs = await make_request(app, await make_customer(app), body="theirs")

    # when
    own = await gql(REQUEST, {"id": gid("Request", mine)}, token=me.token)
    other = await gql(REQUEST, {"id": gid("Request", theirs)}, token=me.token)
    other_node = await gql(NODE, {"id": gid("Request", theirs)}, token=me.token)

    # then
    assert own["data"]["request"]["body"] == "mine"
    assert other == {"data": {"request": None}}
    assert other_node == {"data": {"node": None}}


async def test_unknown_and_wrongly_typed_ids_give_null(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    request = await make_request(app, await make_customer(app))

    # when
    wrong_type = await gql(REQUEST, {"id": to_global_id("Customer", request.id)}, token=admin.token)
    unknown = await gql(REQUEST, {"id": to_global_id("Request", 999)}, token=admin.token)

    # then
    assert wrong_type == {"data": {"request": None}} == {"data": {"request": unknown["data"]["request"]}}
