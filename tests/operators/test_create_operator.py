"""createOperator: ADMIN only; staff roles only; optional password (none = SSO only), hashed, never audited."""

import pytest

from db import models
from db.enums import Role
from integrations.auth.passwords import verify_password
from schema.ids import decode_id
from tests.factories import make_user
from tests.requests.given import audit_records

CREATE = """
mutation ($input: CreateOperatorInput!) {
  createOperator(input: $input) { operator { id firstName lastName email role } errors { code field } }
}"""


def _input(**overrides):
    values = {"firstName": "Jennie", "lastName": "Lanister", "email": "jennie@example.com"}
    values.update(overrides)
    return {"input": values}


async def _stored(app, global_id):
    async with app.state.sessionmaker() as session:
        return await session.get(models.User, decode_id(global_id, "Operator"))


async def test_an_admin_creates_an_operator_with_a_password(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)

    # when
    body = await gql(CREATE, _input(password="correct horse battery"), token=admin.token)

    # then
    payload = body["data"]["createOperator"]
    assert payload["errors"] == []
    assert payload["operator"]["role"] == "OPERATOR"
    stored = await _stored(app, payload["operator"]["id"])
    assert stored.password_hash != "correct horse battery"
    assert verify_password("correct horse battery", stored.password_hash)
    records = await audit_records(app)
    assert [(r.action, r.entity_type, r.entity_id) for r in records] == [
        ("operator.created", "Operator", payload["operator"]["id"])
    ]
    assert "correct horse battery" not in str(records[0].details)
    assert records[0].details["changes"]["sso_only"] == {"from": None, "to": False}


async def test_without_a_password_the_account_is_sso_only(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)

    # when
    body = await gql(CREATE, _input(role="SALES"), token=admin.token)

    # then
    operator = body["data"]["createOperator"]["operator"]
    assert operator["role"] == "SALES"
    assert (await _stored(app, operator["id"])).password_hash is None


async def test_invalid_input_is_reported_per_field(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)

    # when
    body = await gql(CREATE, _input(firstName="", email="nope", password="short", role="CUSTOMER"), token=admin.token)

    # then
    errors = body["data"]["createOperator"]["errors"]
    assert {(e["code"], e["field"][0]) for e in errors} == {
        ("VALIDATION", "firstName"),
        ("VALIDATION", "email"),
        ("VALIDATION", "password"),
        ("VALIDATION", "role"),
    }


async def test_an_email_in_use_is_a_conflict(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)

    # when
    body = await gql(CREATE, _input(email=admin.user.email.upper()), token=admin.token)

    # then
    assert body["data"]["createOperator"]["errors"] == [{"code": "CONFLICT", "field": ["email"]}]


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SALES, Role.CUSTOMER])
async def test_only_admins_may(app, gql, role):
    # given
    user = await make_user(app, role)

    # when
    body = await gql(CREATE, _input(), token=user.token)

    # then
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
