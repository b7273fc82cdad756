"""createAuditRecord: ADMIN writes a record by hand, and that write is audited itself."""

from __future__ import annotations

import pytest

from db import models
from db.enums import Role
from tests.chat.given import audit_rows, count, gid
from tests.factories import make_user

CREATE = """
mutation Create($input: CreateAuditRecordInput!) {
  createAuditRecord(input: $input) {
    auditRecord { id action entityType entityId status details actorLabel actor { id } }
    errors { code field message }
  }
}
"""


async def test_admin_creates_a_record_and_the_creation_is_audited(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    # when
    body = await gql(
        CREATE,
        {
            "input": {
                "action": "import.finished",
                "entityType": "Import",
                "entityId": "batch-7",
                "status": "FAILURE",
                "details": {"rows": 12, "password": "never stored", "nested": {"ok": True}},
            }
        },
        token=admin.token,
    )
    # then
    payload = body["data"]["createAuditRecord"]
    assert payload["errors"] == []
    record = payload["auditRecord"]
    assert record["action"] == "import.finished"
    assert (record["entityType"], record["entityId"], record["status"]) == ("Import", "batch-7", "FAILURE")
    assert record["details"] == {"rows": 12, "nested": {"ok": True}}
    assert record["actor"] == {"id": gid("User", admin.user)} and record["actorLabel"] == f"admin:{admin.id}"
    made, meta = await audit_rows(app)
    assert made.action == "import.finished"
    assert (meta.action, meta.entity_type, meta.entity_id) == ("audit_record.created", "AuditRecord", record["id"])
    assert meta.details == {
        "action": "import.finished",
        "entityType": "Import",
        "entityId": "batch-7",
        "status": "FAILURE",
    }


async def test_status_defaults_to_success_and_details_to_an_empty_object(app, gql):
    admin = await make_user(app, Role.ADMIN)
    body = await gql(CREATE, {"input": {"action": "x.y", "entityType": "X"}}, token=admin.token)
    record = body["data"]["createAuditRecord"]["auditRecord"]
    assert (record["status"], record["details"], record["entityId"]) == ("SUCCESS", {}, None)


@pytest.mark.parametrize(
    ("input", "field"),
    [
        ({"status": "MAYBE"}, "status"),
        ({"status": "success"}, "status"),
        ({"action": "  "}, "action"),
        ({"action": "a" * 65}, "action"),
        ({"entityType": ""}, "entityType"),
        ({"entityId": "e" * 129}, "entityId"),
        ({"details": [1, 2]}, "details"),
        ({"details": "text"}, "details"),
        ({"details": {"blob": "z" * 70_000}}, "details"),
    ],
)
async def test_invalid_input_is_a_validation_error(app, gql, input, field):
    admin = await make_user(app, Role.ADMIN)
    body = await gql(CREATE, {"input": {"action": "x.y", "entityType": "X", **input}}, token=admin.token)
    payload = body["data"]["createAuditRecord"]
    assert payload["auditRecord"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", [field])]
    assert await count(app, models.AuditRecord) == 0


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SALES, Role.CUSTOMER])
async def test_only_admins_create(app, gql, role):
    viewer = await make_user(app, role)
    body = await gql(CREATE, {"input": {"action": "x.y", "entityType": "X"}}, token=viewer.token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count(app, models.AuditRecord) == 0
