"""`customer-graph create-admin`: creates (or resets) an ADMIN, prompting for the password when not given."""

from __future__ import annotations

import getpass

import anyio
import pytest

from db import models
from db.enums import Role
from server import admin
from server.cli import main
from tests.factories import make_user
from tests.identity.helpers import PASSWORD, audit_actions, count, rows

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token user { role } errors { code } }
}
"""


async def run(database_url: str, **kwargs) -> int:
    values = {"email": "root@example.com", "first_name": "Root", "last_name": "Admin", "password": PASSWORD}
    values.update(kwargs)
    return await anyio.to_thread.run_sync(lambda: admin.create_admin(database_url, **values))


async def test_creates_an_admin_who_can_log_in(app, gql, database_url, capsys):
    # when
    status = await run(database_url)
    # then
    assert status == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("created admin root@example.com")
    body = await gql(LOGIN, {"email": "root@example.com", "password": PASSWORD})
    assert body["data"]["login"]["user"] == {"role": "ADMIN"}
    assert await audit_actions(app) == ["operator.created", "user.logged_in"]
    [record, _] = await rows(app, models.AuditRecord)
    assert record.actor_label == "system:create-admin" and PASSWORD not in str(record.details)


async def test_resets_an_existing_staff_user(app, gql, database_url, capsys):
    # given
    existing = await make_user(app, Role.OPERATOR, email="Root@Example.com", is_active=False)
    # when
    status = await run(database_url, password="a brand new password")
    # then
    assert status == 0
    assert "reset admin" in capsys.readouterr().out
    [user] = await rows(app, models.User)
    assert (user.id, user.role, user.is_active) == (existing.id, "ADMIN", True)
    old = await gql(LOGIN, {"email": "root@example.com", "password": PASSWORD})
    assert old["data"]["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
    new = await gql(LOGIN, {"email": "root@example.com", "password": "a brand new password"})
    assert new["data"]["login"]["token"]


async def test_prompts_for_the_password_when_not_given(app, database_url, monkeypatch):
    # given: the operator types the same password twice
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": PASSWORD)
    # when
    status = await run(database_url, password=None)
    # then
    assert status == 0
    assert await count(app, models.User) == 1


async def test_mismatched_prompts_write_nothing(app, database_url, monkeypatch, capsys):
    # given
    answers = iter([PASSWORD, "something else entirely"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    # when
    status = await run(database_url, password=None)
    # then
    assert status == 2
    assert "do not match" in capsys.readouterr().err
    assert await count(app, models.User) == 0


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"first_name": " "}, "firstName"),
    ],
)
async def test_invalid_input_writes_nothing(app, database_url, capsys, kwargs, reason):
    # when
    status = await run(database_url, **kwargs)
    # then
    assert status == 2
    assert reason in capsys.readouterr().err
    assert await count(app, models.User) == 0


async def test_a_customer_account_is_not_promoted(app, database_url, capsys):
    # given
    await make_user(app, Role.CUSTOMER, email="root@example.com")
    # when
    status = await run(database_url)
    # then
    assert status == 2
    assert "customer account" in capsys.readouterr().err
    [user] = await rows(app, models.User)
    assert user.role == "CUSTOMER"


async def test_the_cli_command_runs_it(app, database_url, monkeypatch, capsys):
    # given
    monkeypatch.setenv("DATABASE_URL", database_url)
    from server.settings import get_settings

    get_settings.cache_clear()
    argv = ["create-admin", "--email", "cli@example.com", "--password", PASSWORD]
    # when
    try:
        status = await anyio.to_thread.run_sync(main, argv)
    finally:
        get_settings.cache_clear()
    # then
    assert status == 0, capsys.readouterr().err
    assert "created admin cli@example.com" in capsys.readouterr().out
    assert await count(app, models.User) == 1
