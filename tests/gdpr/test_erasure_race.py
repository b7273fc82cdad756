"""eraseCustomer against a request, chat session, chat message or note created for the same customer at the same
moment: either the new row commits first and is erased with the rest, or it is refused with a user error after.
No customer-linked row written meanwhile survives the erasure (real PostgreSQL, real concurrent transactions)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from schema.ids import decode_id, to_global_id
from tests.conftest import _asyncpg_dsn
from tests.gdpr.given import ADD_NOTE, CREATE, CREATE_REQUEST, ERASE, POST, START_CHAT, call, customer_with_everything

RACING = "Racing Hawthorne"  # a personal text each racing write carries
TABLES = ("customers", "requests", "chat_sessions", "chat_messages", "notes", "contracts", "audit_records", "outbox")
USER_ERRORS = {"VALIDATION", "NOT_FOUND"}


async def post(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body  # never INTERNAL_SERVER_ERROR, nor any other top-level error
    return next(iter(body["data"].values()))  # type: ignore[no-any-return]


def writes(customer_id: str, session_id: str, n: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """The four writes that race the erasure, each carrying RACING."""
    return [
        (CREATE_REQUEST, {"input": {"customerId": customer_id, "body": f"{RACING} request {n}"}}),
        (START_CHAT, {"input": {"customerId": customer_id, "title": f"{RACING} chat {n}"}}),
        (POST, {"input": {"sessionId": session_id, "body": f"{RACING} message {n}"}}),
        (ADD_NOTE, {"input": {"customerId": customer_id, "body": f"{RACING} note {n}"}}),
    ]


async def survivors(app: Any) -> list[str]:
    """Rows of any customer-linked table still holding a racing write's text."""
    found: list[str] = []
    async with app.state.engine.connect() as conn:
        for table in TABLES:
            for row in await conn.exec_driver_sql(f"SELECT * FROM {table}"):
                if RACING.lower() in json.dumps(list(map(str, row))).lower():
                    found.append(f"{table}: {tuple(row)}")
    return found


@asynccontextmanager
async def locks_held(database_url: str, sql: str, *args: Any) -> AsyncIterator[asyncpg.Connection]:
    """A transaction of the test's own holding the locks `sql` takes (SELECT … FOR UPDATE, LOCK TABLE) until the
    block ends."""
    conn = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        async with conn.transaction():
            await conn.execute(sql, *args)
            yield conn
    finally:
        await conn.close()


async def until_waiting_on_locks(conn: asyncpg.Connection, n: int, seconds: float = 15.0) -> None:
    """Until `n` other backends of this database wait on a lock (bounded in time)."""
    deadline = time.monotonic() + seconds
    waiting = 0
    while time.monotonic() < deadline:
        await conn.execute("SELECT pg_stat_clear_snapshot()")  # inside a transaction the view is a snapshot
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND pid <> pg_backend_pid()"
        )
        if waiting >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{waiting} backends wait on a lock, expected {n}")


async def test_writes_that_start_while_the_erasure_runs_are_refused_and_nothing_survives(
    app, client, database_url: str
):
    # given a customer with a request, a chat and a note
    story = await customer_with_everything(app, client)
    pk = decode_id(story.customer_id, "Customer")
    # and an erasure that has locked the customer and erased its requests and chats, held just before it deletes
    # the notes (the test's transaction holds the note's row lock)
    async with locks_held(database_url, "SELECT 1 FROM notes WHERE customer_id = $1 FOR UPDATE", pk) as held:
        erasure = asyncio.create_task(post(client, ERASE, {"id": story.customer_id}, story.admin.token))
        await until_waiting_on_locks(held, 1)
        # when a request, a chat session, a message and a note are written for the customer meanwhile
        racing = [
            asyncio.create_task(post(client, query, variables, story.operator.token))
            for query, variables in writes(story.customer_id, story.session_id)
        ]
        await until_waiting_on_locks(held, 1 + len(racing))  # every write waits on the erasure
    # (the erasure goes on and commits)
    erased = await asyncio.wait_for(erasure, 30)
    payloads = await asyncio.wait_for(asyncio.gather(*racing), 30)
    # then the erasure succeeded
    assert erased["errors"] == [], erased
    # and every write that came after it was refused with a user error, not written
    codes = [[e["code"] for e in p["errors"]] for p in payloads]
    assert all(len(c) == 1 and c[0] in USER_ERRORS for c in codes), payloads
    assert await survivors(app) == []


@pytest.mark.parametrize("write", range(4), ids=["request", "chat session", "chat message", "note"])
async def test_a_write_that_started_first_commits_and_is_erased_with_the_rest(app, client, database_url: str, write):
    # given a customer, and a write for it that has begun and is held before it commits (the test's transaction
    # keeps the audit table from taking the write's audit record)
    story = await customer_with_everything(app, client)
    query, variables = writes(story.customer_id, story.session_id)[write]
    async with locks_held(database_url, "LOCK TABLE audit_records IN SHARE MODE") as held:
        writing = asyncio.create_task(post(client, query, variables, story.operator.token))
        await until_waiting_on_locks(held, 1)
        # when the customer is erased meanwhile
        erasure = asyncio.create_task(post(client, ERASE, {"id": story.customer_id}, story.admin.token))
        await until_waiting_on_locks(held, 2)  # the erasure waits for the write
    # then the write commits first, and the erasure, after it, erases what it wrote
    written = await asyncio.wait_for(writing, 30)
    erased = await asyncio.wait_for(erasure, 30)
    assert written["errors"] == [], written
    assert erased["errors"] == [], erased
    assert await survivors(app) == []


async def test_many_racing_erasures_and_writes_leave_nothing_behind(app, client):
    # given a dozen customers, each with an open chat session
    story = await customer_with_everything(app, client)
    customers = [(story.customer_id, story.session_id)]
    for n in range(11):
        created = await call(
            client, CREATE, {"input": {"firstName": f"Race{n}", "lastName": "Hawthorne"}}, story.sales.token
        )
        customer_id = created["createCustomer"]["customer"]["id"]
        chat = await call(
            client, START_CHAT, {"input": {"customerId": customer_id, "title": "t"}}, story.operator.token
        )
        customers.append((customer_id, chat["startChatSession"]["chatSession"]["id"]))
    rng = random.Random(20261202)

    async def later(seconds: float, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
        await asyncio.sleep(seconds)
        return await post(client, query, variables, token)

    for n, (customer_id, session_id) in enumerate(customers):
        # when the customer is erased while four writes race it, at small random offsets
        jobs = [later(rng.uniform(0, 0.03), ERASE, {"id": customer_id}, story.admin.token)]
        jobs += [
            later(rng.uniform(0, 0.03), query, variables, story.operator.token)
            for query, variables in writes(customer_id, session_id, n)
        ]
        erased, *payloads = await asyncio.wait_for(asyncio.gather(*jobs), 30)
        # then the erasure succeeded, and each write either happened (so was erased) or was refused with a user error
        assert erased["errors"] == [], erased
        for p in payloads:
            assert p["errors"] == [] or [e["code"] for e in p["errors"]] in ([c] for c in USER_ERRORS), p
    # and no racing text survives anywhere
    assert await survivors(app) == []


ASSIGN = """
mutation ($input: AssignRequestInput!) { assignRequest(input: $input) { request { status } errors { code field } } }"""
RESOLVE = """
mutation ($input: ChangeRequestStatusInput!) {
  changeRequestStatus(input: $input) { request { status resolutionComment } errors { code field } }
}"""


async def test_a_resolution_comment_written_while_the_erasure_runs_is_refused(app, client, database_url: str):
    # given a customer's request in progress with an operator
    story = await customer_with_everything(app, client)
    pk = decode_id(story.customer_id, "Customer")
    operator_id = to_global_id("Operator", story.operator.user.id)
    assigned = await post(
        client, ASSIGN, {"input": {"requestId": story.request_id, "operatorId": operator_id}}, story.operator.token
    )
    assert assigned["errors"] == [], assigned
    rejection = {"input": {"requestId": story.request_id, "status": "REJECTED", "resolutionComment": RACING}}
    # and an erasure that has locked the customer and erased its requests, held before it deletes the notes
    async with locks_held(database_url, "SELECT 1 FROM notes WHERE customer_id = $1 FOR UPDATE", pk) as held:
        erasure = asyncio.create_task(post(client, ERASE, {"id": story.customer_id}, story.admin.token))
        await until_waiting_on_locks(held, 1)
        # when the operator rejects the request with a comment meanwhile
        resolving = asyncio.create_task(post(client, RESOLVE, rejection, story.operator.token))
        await until_waiting_on_locks(held, 2)  # the status change waits on the erasure
    erased = await asyncio.wait_for(erasure, 30)
    resolved = await asyncio.wait_for(resolving, 30)
    # then the erasure succeeded, the comment was refused and its text is nowhere
    assert erased["errors"] == [], erased
    assert resolved["errors"] == [{"code": "VALIDATION", "field": ["resolutionComment"]}], resolved
    assert await survivors(app) == []
    # and the request can still be closed without a comment
    done = await post(
        client, RESOLVE, {"input": {"requestId": story.request_id, "status": "COMPLETED"}}, story.operator.token
    )
    assert done["errors"] == [] and done["request"]["status"] == "COMPLETED", done
