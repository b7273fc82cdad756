"""updateAuditRecord: ADMIN changes status or details; the change is audited with before/after."""

from __future__ import annotations

import pytest

from db import models
from db.enums import Role
from tests.chat.given import audit_rows, count, fetch, gid, make_audit
from tests.factories import make_user

UPDATE = """
mutation Update($input: UpdateAuditRecordInput!) {
  updateAuditRecord(input: $input) {
    auditRecord { id action status details }
    errors { code field message }
  }
}
"""


async def test_admin_changes_the_status_and_the_change_is_audited(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    row = await make_audit(app, details={"a": 1})
    # when
    body = await gql(UPDATE, {"input": {"id": gid("AuditRecord", row), "status": "FAILURE"}}, token=admin.token)
    # then: details untouched (absent)
    payload = body["data"]["updateAuditRecord"]
    assert payload["errors"] == []
    assert payload["auditRecord"]["status"] == "FAILURE"
    assert payload["auditRecord"]["details"] == {"a": 1}
    assert (await fetch(app, models.AuditRecord, row.id)).status == "FAILURE"
    _original, meta = await audit_rows(app)
    assert (meta.action, meta.entity_id, meta.actor_id) == ("audit_record.updated", gid("AuditRecord", row), admin.id)
    assert meta.details == {"status": {"from": "SUCCESS", "to": "FAILURE"}}


async def test_details_are_replaced_or_cleared_with_null(app, gql):
    admin = await make_user(app, Role.ADMIN)
    row = await make_audit(app, details={"a": 1})
    replaced = await gql(UPDATE, {"input": {"id": gid("AuditRecord", row), "details": {"b": 2}}}, token=admin.token)
    assert replaced["data"]["updateAuditRecord"]["auditRecord"]["details"] == {"b": 2}
    assert replaced["data"]["updateAuditRecord"]["auditRecord"]["status"] == "SUCCESS"
    cleared = await gql(UPDATE, {"input": {"id": gid("AuditRecord", row), "details": None}}, token=admin.token)
    assert cleared["data"]["updateAuditRecord"]["auditRecord"]["details"] == {}
    assert (await fetch(app, models.AuditRecord, row.id)).details == {}


async def test_an_invalid_status_is_a_validation_error(app, gql):
    admin = await make_user(app, Role.ADMIN)
    row = await make_audit(app)
    body = await gql(UPDATE, {"input": {"id": gid("AuditRecord", row), "status": "DONE"}}, token=admin.token)
    assert body["data"]["updateAuditRecord"]["errors"] == [
        {"code": "VALIDATION", "field": ["status"], "message": "Status must be SUCCESS or FAILURE."}
    ]
    assert (await fetch(app, models.AuditRecord, row.id)).status == "SUCCESS"
    assert await count(app, models.AuditRecord) == 1


async def test_unknown_records_are_not_found(app, gql):
    admin = await make_user(app, Role.ADMIN)
    body = await gql(UPDATE, {"input": {"id": "QXVkaXRSZWNvcmQ6OTk5", "status": "FAILURE"}}, token=admin.token)
    assert body["data"]["updateAuditRecord"]["errors"][0]["code"] == "NOT_FOUND"
    assert body["data"]["updateAuditRecord"]["errors"][0]["field"] == ["id"]


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SALES, Role.CUSTOMER])
async def test_only_admins_update(app, gql, role):
    viewer = await make_user(app, role)
    row = await make_audit(app)
    body = await gql(UPDATE, {"input": {"id": gid("AuditRecord", row), "status": "FAILURE"}}, token=viewer.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await fetch(app, models.AuditRecord, row.id)).status == "SUCCESS"
