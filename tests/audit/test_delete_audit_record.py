"""deleteAuditRecord: ADMIN removes a record; the deletion itself stays on the trail."""

from __future__ import annotations

import pytest

from db import models
from db.enums import Role
from tests.chat.given import audit_rows, fetch, gid, make_audit
from tests.factories import make_user

DELETE = """
mutation Delete($id: ID!) {
  deleteAuditRecord(id: $id) { auditRecord { id action } errors { code field message } }
}
"""


async def test_admin_deletes_a_record_and_the_deletion_is_audited(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    row = await make_audit(app, action="customer.updated", entity_id="Q3VzdG9tZXI6MQ")
    # when
    body = await gql(DELETE, {"id": gid("AuditRecord", row)}, token=admin.token)
    # then: the payload shows the record as it was
    assert body["data"]["deleteAuditRecord"] == {
        "auditRecord": {"id": gid("AuditRecord", row), "action": "customer.updated"},
        "errors": [],
    }
    assert await fetch(app, models.AuditRecord, row.id) is None
    [meta] = await audit_rows(app)
    assert (meta.action, meta.entity_id) == ("audit_record.deleted", gid("AuditRecord", row))
    assert meta.details == {
        "action": "customer.updated",
        "entityType": "Customer",
        "entityId": "Q3VzdG9tZXI6MQ",
        "status": "SUCCESS",
    }


async def test_deleting_twice_is_not_found(app, gql):
    admin = await make_user(app, Role.ADMIN)
    row = await make_audit(app)
    await gql(DELETE, {"id": gid("AuditRecord", row)}, token=admin.token)
    body = await gql(DELETE, {"id": gid("AuditRecord", row)}, token=admin.token)
    assert body["data"]["deleteAuditRecord"] == {
        "auditRecord": None,
        "errors": [{"code": "NOT_FOUND", "field": ["id"], "message": "Audit record not found."}],
    }
    assert len(await audit_rows(app)) == 1


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SALES, Role.CUSTOMER])
async def test_only_admins_delete(app, gql, role):
    viewer = await make_user(app, role)
    row = await make_audit(app)
    body = await gql(DELETE, {"id": gid("AuditRecord", row)}, token=viewer.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await fetch(app, models.AuditRecord, row.id) is not None
