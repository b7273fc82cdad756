"""archiveCustomer: a soft delete by ADMIN or SALES, audited; the record stays readable by id."""

from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user
from tests.requests.given import audit_actions

ARCHIVE = (
    "mutation ($id: ID!) { archiveCustomer(id: $id) { customer { id archivedAt version } errors { code field } } }"
)
LIST = "{ customers { totalCount nodes { id } } }"


async def test_archiving_hides_the_customer_from_the_list(app, gql):
    # given
    sales = await make_user(app, Role.SALES)
    customer = await make_customer(app)
    gid = to_global_id("Customer", customer.id)

    # when
    body = await gql(ARCHIVE, {"id": gid}, token=sales.token)

    # then
    payload = body["data"]["archiveCustomer"]
    assert payload["errors"] == [] and payload["customer"]["archivedAt"] is not None
    assert payload["customer"]["version"] == 2
    assert (await gql(LIST, token=sales.token))["data"]["customers"] == {"totalCount": 0, "nodes": []}
    direct = await gql("query ($id: ID!) { customer(id: $id) { archivedAt } }", {"id": gid}, token=sales.token)
    assert direct["data"]["customer"]["archivedAt"] is not None
    assert await audit_actions(app) == ["customer.archived"]


async def test_archiving_twice_is_an_invalid_transition(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app)
    await gql(ARCHIVE, {"id": to_global_id("Customer", customer.id)}, token=admin.token)

    # when
    body = await gql(ARCHIVE, {"id": to_global_id("Customer", customer.id)}, token=admin.token)

    # then
    assert body["data"]["archiveCustomer"]["errors"] == [{"code": "INVALID_TRANSITION", "field": ["id"]}]


async def test_operators_and_customers_are_forbidden(app, gql):
    # given
    customer = await make_customer(app)
    for role in (Role.OPERATOR, Role.CUSTOMER):
        user = await make_user(app, role)

        # when
        body = await gql(ARCHIVE, {"id": to_global_id("Customer", customer.id)}, token=user.token)

        # then
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
