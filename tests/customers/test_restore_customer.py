"""restoreCustomer: brings an archived customer back into the list, audited."""

from db import models
from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user
from tests.requests.given import audit_actions

RESTORE = "mutation ($id: ID!) { restoreCustomer(id: $id) { customer { id archivedAt } errors { code field } } }"


async def test_restoring_brings_the_customer_back(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app, archived_at=models.utcnow())

    # when
    body = await gql(RESTORE, {"id": to_global_id("Customer", customer.id)}, token=admin.token)

    # then
    assert body["data"]["restoreCustomer"]["customer"]["archivedAt"] is None
    listed = await gql("{ customers { nodes { id } } }", token=admin.token)
    assert listed["data"]["customers"]["nodes"] == [{"id": to_global_id("Customer", customer.id)}]
    assert await audit_actions(app) == ["customer.restored"]


async def test_restoring_a_live_customer_is_an_invalid_transition(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app)

    # when
    body = await gql(RESTORE, {"id": to_global_id("Customer", customer.id)}, token=admin.token)

    # then
    assert body["data"]["restoreCustomer"]["errors"] == [{"code": "INVALID_TRANSITION", "field": ["id"]}]
