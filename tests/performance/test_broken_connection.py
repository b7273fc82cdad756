"""No liveness ping per checkout: a pooled connection that died is noticed on use, and a read retries once."""

from __future__ import annotations

import asyncpg

from db.enums import Role
from integrations.auth.passwords import hash_password
from tests.conftest import _asyncpg_dsn
from tests.factories import make_customer, make_user

QUERY = "{ customers(first: 5) { nodes { firstName } } }"


async def _terminate_pooled_connections(database_url: str) -> int:
    conn = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
    finally:
        await conn.close()
    return len(rows)


async def test_a_read_on_a_connection_that_died_in_the_pool_is_retried(app, gql, database_url):
    # given: a customer, and pooled connections that PostgreSQL has since closed
    await make_customer(app)
    admin = await make_user(app, Role.ADMIN)
    assert "errors" not in await gql(QUERY, token=admin.token)
    assert await _terminate_pooled_connections(database_url) >= 1

    # when
    body = await gql(QUERY, token=admin.token)

    # then: the read noticed the dead connection and ran again on a fresh one
    assert "errors" not in body, body
    assert len(body["data"]["customers"]["nodes"]) == 1


LOGIN = """
mutation ($input: LoginInput!) { login(input: $input) { token errors { code } } }"""
PASSWORD = "a-long-enough-password"


async def test_a_transaction_after_the_server_closed_pooled_connections_gets_a_fresh_one(app, gql, database_url):
    # given: an account, and pooled connections that PostgreSQL has since closed (asyncpg saw them close)
    admin = await make_user(app, Role.ADMIN, password_hash=hash_password(PASSWORD))
    assert "errors" not in await gql(QUERY, token=admin.token)
    assert await _terminate_pooled_connections(database_url) >= 1

    # when: a sign-in (no token, so no read before its own transaction) checks out a connection
    body = await gql(LOGIN, {"input": {"email": admin.user.email, "password": PASSWORD}})

    # then: the closed connection was replaced at checkout, and the sign-in went through
    assert "errors" not in body, body
    assert body["data"]["login"]["errors"] == [] and body["data"]["login"]["token"]
