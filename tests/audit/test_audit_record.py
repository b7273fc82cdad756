"""auditRecord(id) and node(id) for audit records: ADMIN only."""

from __future__ import annotations

import pytest

from db.enums import Role
from tests.chat.given import gid, make_audit
from tests.factories import make_user

RECORD = "query R($id: ID!) { auditRecord(id: $id) { id action entityId details } }"
NODE = "query N($id: ID!) { node(id: $id) { __typename ... on AuditRecord { action } } }"


async def test_admin_reads_one_record(app, gql):
    admin = await make_user(app, Role.ADMIN)
    row = await make_audit(app, action="request.archived", entity_id="UmVxdWVzdDox", details={"why": "dup"})
    body = await gql(RECORD, {"id": gid("AuditRecord", row)}, token=admin.token)
    assert body["data"]["auditRecord"] == {
        "id": gid("AuditRecord", row),
        "action": "request.archived",
        "entityId": "UmVxdWVzdDox",
        "details": {"why": "dup"},
    }
    node = await gql(NODE, {"id": gid("AuditRecord", row)}, token=admin.token)
    assert node["data"]["node"] == {"__typename": "AuditRecord", "action": "request.archived"}


async def test_unknown_ids_read_as_null(app, gql):
    admin = await make_user(app, Role.ADMIN)
    for value in ["junk", "Q3VzdG9tZXI6MQ", "QXVkaXRSZWNvcmQ6OTk5OTk"]:
        assert await gql(RECORD, {"id": value}, token=admin.token) == {"data": {"auditRecord": None}}


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SALES, Role.CUSTOMER])
async def test_others_are_forbidden_and_see_no_node(app, gql, role):
    viewer = await make_user(app, role)
    row = await make_audit(app)
    body = await gql(RECORD, {"id": gid("AuditRecord", row)}, token=viewer.token)
    assert body["data"] == {"auditRecord": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await gql(NODE, {"id": gid("AuditRecord", row)}, token=viewer.token) == {"data": {"node": None}}
