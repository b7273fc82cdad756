"""Every SSO write is audited through the unit of work: first-sight creation, linking an existing staff user,
and a role the provider changed; a plain repeat sign-in writes nothing."""

from __future__ import annotations

from db import models
from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_user
from tests.identity.helpers import rows
from tests.identity.test_sso import idp, me, sso  # noqa: F401  (fixtures)


async def test_linking_an_existing_staff_user_is_audited(app, client, sso):  # noqa: F811
    # given
    existing = await make_user(app, Role.OPERATOR, email="ops.lead@company.example.com", password_hash=None)
    # when
    assert (await me(client, sso.token()))["data"]["me"]["role"] == "OPERATOR"
    # then
    [record] = await rows(app, models.AuditRecord)
    assert (record.action, record.entity_type, record.entity_id) == (
        "operator.sso_linked",
        "Operator",
        to_global_id("Operator", existing.id),
    )
    assert record.actor_id == existing.id and record.actor_label == f"operator:{existing.id}"
    assert record.details == {"source": "sso", "changes": {"sso_linked": {"from": False, "to": True}}}


async def test_a_role_changed_by_the_provider_is_audited(app, client, sso):  # noqa: F811
    # given
    await me(client, sso.token(role="OPERATOR"))
    # when
    await me(client, sso.token(role="ADMIN"))
    await me(client, sso.token(role="ADMIN"))  # unchanged: nothing more to record
    # then
    [user] = await rows(app, models.User)
    records = await rows(app, models.AuditRecord)
    assert [r.action for r in records] == ["operator.created", "operator.role_changed"]
    changed = records[1]
    assert changed.entity_id == to_global_id("Operator", user.id) and changed.actor_id == user.id
    assert changed.details == {"source": "sso", "changes": {"role": {"from": "OPERATOR", "to": "ADMIN"}}}
