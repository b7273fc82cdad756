"""Compiled writes (compiled/writes.py): `createCustomer` as one statement answers and writes exactly as the
resolver path's unit of work does — the same payload, the same customer, audit and outbox rows, the same
notification — and hands over everything it must not answer itself. On the hot path it is one statement per
request, and a write whose outcome is unknown is never run a second time."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import update

from db import models
from db.enums import Role
from db.refs import entity_ref
from server.app import create_app
from tests.conftest import _asyncpg_dsn
from tests.conftest import test_settings as settings_with
from tests.factories import make_customer, make_user
from tests.performance.test_compiled_budget import wire  # noqa: F401  (the fixture: every statement sent)

MUTATION = """mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id firstName lastName email phone company createdAt }
    errors { code message field }
  }
}"""
_emails = itertools.count(1)


def fresh_email() -> str:
    return f"Written.{next(_emails)}@Example.com"


# (name, query, variables-with-EMAIL, planned): EMAIL in a variable or the text is replaced by a fresh address.
CORPUS: list[tuple[str, str, dict[str, Any] | None, bool]] = [
    ("bench shape", MUTATION, {"input": {"firstName": "Ada", "lastName": "Lovelace", "email": "EMAIL"}}, True),
    (
        "every field",
        MUTATION,
        {
            "input": {
                "firstName": "  Grace ",
                "lastName": "Hopper",
                "email": "EMAIL",
                "phone": "+44 20 8366 1177",
                "company": " Navy ",
            }
        },
        True,
    ),
    ("no email", MUTATION, {"input": {"firstName": "No", "lastName": "Mail", "phone": "+442083661171"}}, True),
    (
        "literal input, aliases, typenames",
        """mutation { __typename made: createCustomer(input: {firstName: "Lit", lastName: "Eral", email: "EMAIL"}) {
             __typename c: customer { __typename i: id first: firstName version archivedAt erasedAt updatedAt }
             e: errors { __typename code } } }""",
        None,
        True,
    ),
    (
        "fragments and nested lists",
        """mutation M($input: CreateCustomerInput!) { createCustomer(input: $input) { ...P } }
           fragment P on CustomerPayload { customer { ...C requests(first: 3) { totalCount nodes { id } pageInfo {
             hasNextPage endCursor } } chatSessions { totalCount } openRequestCount } errors { message } }
           fragment C on Customer { id lastName }""",
        {"input": {"firstName": "Frag", "lastName": "Ment", "email": "EMAIL"}},
        True,
    ),
    (
        "skip and include",
        """mutation { createCustomer(input: {firstName: "Sk", lastName: "Ip", email: "EMAIL"}) {
             customer @skip(if: true) { id } errors @include(if: true) { code } } }""",
        None,
        True,
    ),
    (
        "two operations, one chosen",
        """query Q { __typename } mutation W { createCustomer(input: {firstName: "Two", lastName: "Ops"}) {
             customer { firstName } } }""",
        None,
        True,
    ),
    # handed over: the resolver path answers these (payload errors, CONFLICT, NUL, two writes)
    ("blank name", MUTATION, {"input": {"firstName": " ", "lastName": "X", "email": "EMAIL"}}, False),
    ("bad email", MUTATION, {"input": {"firstName": "Bad", "lastName": "Mail", "email": "not-an-email"}}, False),
    ("bad phone", MUTATION, {"input": {"firstName": "Bad", "lastName": "Phone", "phone": "12"}}, False),
    ("NUL", MUTATION, {"input": {"firstName": "N\x00L", "lastName": "X", "email": "EMAIL"}}, False),
    ("taken email", MUTATION, {"input": {"firstName": "Taken", "lastName": "X", "email": "TAKEN@example.COM"}}, False),
    (
        "two writes",
        """mutation { a: createCustomer(input: {firstName: "A", lastName: "One"}) { customer { id } }
                      b: createCustomer(input: {firstName: "B", lastName: "Two"}) { customer { id } } }""",
        None,
        False,
    ),
    ("another mutation", "mutation { logout { ok } }", None, False),
]


def with_email(value: Any, email: str) -> Any:
    if isinstance(value, str):
        return value.replace("EMAIL", email)
    if isinstance(value, dict):
        return {k: with_email(v, email) for k, v in value.items()}
    return value


async def rows_after(conn: asyncpg.Connection, marks: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for table in ("customers", "audit_records", "outbox"):
        found = await conn.fetch(f"SELECT * FROM {table} WHERE id > $1 ORDER BY id", marks[table])
        out[table] = [{k: orjson.loads(v) if k in ("details", "payload") else v for k, v in r.items()} for r in found]
    return out


async def marks_now(conn: asyncpg.Connection) -> dict[str, int]:
    return {
        t: await conn.fetchval(f"SELECT coalesce(max(id), 0) FROM {t}")
        for t in ("customers", "audit_records", "outbox")
    }


def normalised(answer: Any, rows: dict[str, list[dict[str, Any]]], email: str) -> Any:
    """The answer and the rows with what differs between two runs by nature (ids, times, keys) made equal."""
    replacements: dict[Any, str] = {email: "<email>", email.lower(): "<email>"}
    for i, customer in enumerate(rows["customers"]):
        replacements[entity_ref("Customer", customer["id"])] = f"<customer {i}>"
        replacements[customer["id"]] = f"<customer id {i}>"
        for column in ("created_at", "updated_at"):
            replacements[customer[column].isoformat()] = "<time>"

    def clean(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: clean(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if key in ("id", "created_at", "updated_at", "occurred_at", "available_at", "idempotency_key", "request_id"):
            return f"<{key}>" if value is not None else None
        if isinstance(value, str) and value.lower() == email.lower():
            return "<email>"  # as given, or as the validator spells it (the domain in lower case)
        if isinstance(value, str | int) and not isinstance(value, bool) and value in replacements:
            return replacements[value]
        return value

    return clean(answer), clean(rows)


async def run_once(client: httpx.AsyncClient, conn: asyncpg.Connection, doc: tuple[str, str, Any, bool], token: str):
    """(status, answer, rows written, notifications) of one run, normalised."""
    _name, query, variables, _planned = doc
    email = fresh_email()
    marks = await marks_now(conn)
    notes: list[str] = []

    def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        notes.append(payload)

    await conn.add_listener("customer_created", heard)
    body: dict[str, Any] = {"query": with_email(query, email), "variables": with_email(variables, email)}
    if "mutation W" in query:
        body["operationName"] = "W"
    response = await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
    await asyncio.sleep(0.05)  # a NOTIFY reaches the listening connection after the commit
    await conn.remove_listener("customer_created", heard)
    rows = await rows_after(conn, marks)
    heard_ids = [orjson.loads(n)["id"] for n in notes]
    answer, rows = normalised(response.json(), rows, email)
    ids = {
        c["id"]: i
        for i, c in enumerate(
            await conn.fetch("SELECT id FROM customers WHERE id > $1 ORDER BY id", marks["customers"])
        )
    }
    return response.status_code, answer, rows, [ids.get(n, "?") for n in heard_ids]


def _diff(mismatch: tuple[str, Any, Any]) -> str:
    """The first mismatch's differing parts, readable."""
    name, compiled, resolved = mismatch
    lines = [name]

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b), key=str):
                walk(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}")
        elif isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{path}[{i}]")
        elif a != b:
            lines.append(f"{path}: compiled {a!r} / resolver {b!r}")

    walk(compiled, resolved, "")
    return "\n".join(lines)


@pytest.fixture
async def listener(database_url: str):
    conn = await asyncpg.connect(_asyncpg_dsn(database_url))
    yield conn
    await conn.close()


@pytest.mark.parametrize("role", ["ADMIN", "SALES", "OPERATOR", "CUSTOMER"])
async def test_both_paths_write_alike(app, client, listener, role):
    # given a viewer of the role and a live customer whose email is taken (an erased one's is free again)
    account = await make_user(app, Role(role))
    await make_customer(app, email="taken@example.com")
    runtime, settings = app.state.compiled, app.state.settings
    mismatches, planned = [], set()

    for doc in CORPUS:
        # when the document runs on the compiled path and then on the resolver path
        before = runtime.stats["planned"]
        settings.compiled.enabled = True
        compiled = await run_once(client, listener, doc, account.token)
        was_planned = runtime.stats["planned"] > before
        settings.compiled.enabled = False
        try:
            resolved = await run_once(client, listener, doc, account.token)
        finally:
            settings.compiled.enabled = True
        if compiled != resolved:
            mismatches.append((doc[0], compiled, resolved))
        if was_planned:
            planned.add(doc[0])

    # then answers, rows and notifications are equal; editors' good documents were compiled, nothing else was
    assert mismatches == [], _diff(mismatches[0])
    editors = {name for name, _q, _v, plannable in CORPUS if plannable}
    assert planned == (editors if role in ("ADMIN", "SALES") else set())


async def test_the_rows_a_compiled_write_leaves(app, client, listener):
    # given a SALES user
    sales = await make_user(app, Role.SALES)
    variables = {"input": {"firstName": "Row", "lastName": "Check", "email": "Row.Check@Example.com", "company": "Co"}}

    # when it creates a customer on the compiled path
    response = await client.post(
        "/graphql",
        json={"query": MUTATION, "variables": variables},
        headers={"Authorization": f"Bearer {sales.token}", "X-Request-ID": "req-compiled-write-1"},
    )

    # then the customer, its audit record (actor, request id, changes) and its outbox row are there
    assert app.state.compiled.stats["planned"] >= 1
    customer = response.json()["data"]["createCustomer"]["customer"]
    row = await listener.fetchrow("SELECT * FROM customers WHERE lower(email) = 'row.check@example.com'")
    audit = await listener.fetchrow("SELECT * FROM audit_records WHERE action = 'customer.created'")
    outbox = await listener.fetchrow("SELECT * FROM outbox")
    assert (row["first_name"], row["company"], row["version"]) == ("Row", "Co", 1)
    assert audit["entity_id"] == customer["id"] and audit["actor_id"] == sales.user.id
    assert audit["actor_label"] == f"sales:{sales.user.id}" and audit["request_id"] == "req-compiled-write-1"
    assert orjson.loads(audit["details"])["changes"]["first_name"] == {"from": None, "to": "Row"}
    assert outbox["topic"] == "email.customer_created" and outbox["state"] == "pending"
    assert orjson.loads(outbox["payload"])["customer_id"] == row["id"]


async def hot_post(client: httpx.AsyncClient, token: str, email: str) -> httpx.Response:
    variables = {"input": {"firstName": "Hot", "lastName": "Write", "email": email}}
    return await client.post(
        "/graphql", json={"query": MUTATION, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )


async def test_a_hot_write_is_one_statement(app, client, wire):  # noqa: F811
    # given an admin whose write the full pipeline has compiled once
    admin = await make_user(app, Role.ADMIN)
    first = await hot_post(client, admin.token, "hot.1@example.com")
    hot = app.state.compiled.stats["hot"]
    wire.statements.clear()

    # when it sends the same document again
    second = await hot_post(client, admin.token, "hot.2@example.com")

    # then the hot path wrote it with one statement, answering as the full pipeline did
    assert app.state.compiled.stats["hot"] == hot + 1
    assert len(wire.statements) == 1, wire.statements
    a, b = first.json()["data"]["createCustomer"], second.json()["data"]["createCustomer"]
    assert a.keys() == b.keys() and a["errors"] == b["errors"] == []
    assert b["customer"]["email"] == "hot.2@example.com" and b["customer"]["id"] != a["customer"]["id"]
    assert second.json()["extensions"]["cost"] == first.json()["extensions"]["cost"]
    async with app.state.sessionmaker() as session:
        audit = (
            await session.execute(
                models.AuditRecord.__table__.select().where(models.AuditRecord.entity_id == b["customer"]["id"])
            )
        ).one()
    assert audit.request_id == second.headers["x-request-id"] and audit.actor_id == admin.user.id


async def test_a_hot_write_follows_the_viewers_row(app, client):
    # given a SALES user whose write is hot
    sales = await make_user(app, Role.SALES)
    await hot_post(client, sales.token, "follow.1@example.com")
    await hot_post(client, sales.token, "follow.2@example.com")

    # when the user is made an OPERATOR, then deactivated
    async with app.state.sessionmaker() as session:
        await session.execute(update(models.User).where(models.User.id == sales.user.id).values(role="OPERATOR"))
        await session.commit()
    as_operator = await hot_post(client, sales.token, "follow.3@example.com")
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(models.User).where(models.User.id == sales.user.id).values(role="SALES", is_active=False)
        )
        await session.commit()
    deactivated = await hot_post(client, sales.token, "follow.4@example.com")

    # then neither wrote: FORBIDDEN, then UNAUTHENTICATED, as the full pipeline answers
    assert as_operator.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert deactivated.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    async with app.state.sessionmaker() as session:
        emails = (await session.execute(models.Customer.__table__.select())).all()
    assert sorted(r.email for r in emails) == ["follow.1@example.com", "follow.2@example.com"]


async def test_a_taken_email_on_the_hot_path_is_a_conflict(app, client):
    # given a hot write
    admin = await make_user(app, Role.ADMIN)
    await hot_post(client, admin.token, "first.taken@example.com")
    await hot_post(client, admin.token, "second.taken@example.com")

    # when the same email comes again, in another case
    again = await hot_post(client, admin.token, "FIRST.taken@example.com")

    # then the resolver path's CONFLICT, and nothing written
    payload = again.json()["data"]["createCustomer"]
    assert payload["customer"] is None
    assert [e["code"] for e in payload["errors"]] == ["CONFLICT"]
    assert app.state.compiled.stats["write handed over"] >= 1


async def _blocked_write(
    app: Any, client: httpx.AsyncClient, listener: asyncpg.Connection, token: str
) -> httpx.Response:
    """Sends the write while a lock holds it, kills its backend mid-statement, and returns the answer."""
    locker = await asyncpg.connect(_asyncpg_dsn(str(app.state.engine.url.render_as_string(hide_password=False))))
    tx = locker.transaction()
    await tx.start()
    await locker.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
    try:
        sending = asyncio.ensure_future(hot_post(client, token, "unknown.outcome@example.com"))
        for _ in range(200):
            pid = await listener.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH c AS (INSERT%'"
            )
            if pid is not None:
                break
            await asyncio.sleep(0.02)
        assert pid is not None, "the write never reached PostgreSQL"
        await listener.execute("SELECT pg_terminate_backend($1)", pid)
        await asyncio.sleep(0.1)
    finally:
        await tx.rollback()
        await locker.close()
    return await sending


async def test_a_write_whose_outcome_is_unknown_is_not_run_again(app, client, listener):
    # given a hot write
    admin = await make_user(app, Role.ADMIN)
    await hot_post(client, admin.token, "before.1@example.com")
    await hot_post(client, admin.token, "before.2@example.com")
    count = await listener.fetchval("SELECT count(*) FROM customers")

    # when its connection dies while the statement waits for a lock
    answer = await _blocked_write(app, client, listener, admin.token)

    # then SERVICE_UNAVAILABLE, and the resolver path did not write it a second time
    assert answer.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert answer.json()["data"] is None
    assert await listener.fetchval("SELECT count(*) FROM customers") == count
    assert app.state.compiled.stats["write outcome unknown"] == 1


async def test_a_write_whose_outcome_is_unknown_on_the_full_pipeline(app, client, listener):
    # given an admin whose write is not hot yet (the full pipeline compiles it)
    admin = await make_user(app, Role.ADMIN)

    # when its connection dies while the statement waits for a lock
    answer = await _blocked_write(app, client, listener, admin.token)

    # then SERVICE_UNAVAILABLE on the field, and no customer
    error = answer.json()["errors"][0]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE" and error["path"] == ["createCustomer"]
    assert await listener.fetchval("SELECT count(*) FROM customers") == 0


async def test_a_write_past_the_execution_timeout_answers_what_happened(app, database_url, listener):
    # given a server whose requests stop after half a second, and an admin whose write is not hot yet
    settings = settings_with(limits__execution_timeout_seconds=0.5)
    application = create_app(settings, database_url_override=database_url)
    async with LifespanManager(application):
        admin = await make_user(application, Role.ADMIN)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            # when its statement waits a second and a half for a lock, past the timeout, and then runs
            locker = await asyncpg.connect(_asyncpg_dsn(database_url))
            tx = locker.transaction()
            await tx.start()
            await locker.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
            try:
                sending = asyncio.ensure_future(hot_post(client, admin.token, "past.timeout@example.com"))
                await asyncio.sleep(1.5)
            finally:
                await tx.rollback()
                await locker.close()
            answer = await sending

        # then the answer is the customer it wrote (not a timeout that leaves the client guessing), and it is there
        payload = answer.json()
        assert "errors" not in payload, payload
        created = payload["data"]["createCustomer"]
        assert created["errors"] == [] and created["customer"]["email"] == "past.timeout@example.com"
        assert application.state.compiled.stats["write awaited past a cancellation"] == 1
    found = await listener.fetchval("SELECT count(*) FROM customers WHERE email = 'past.timeout@example.com'")
    assert found == 1


SLOW_INSERT = """
CREATE FUNCTION test_slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$;
CREATE TRIGGER test_slow_insert AFTER INSERT ON customers FOR EACH ROW
WHEN (NEW.email = 'Race.Same@example.com') EXECUTE FUNCTION test_slow_insert();
"""


async def test_racing_hot_writes_of_one_email_make_one_customer(app, client, listener):
    # given a hot write, and inserts of one email held open long enough that writers overlap
    admin = await make_user(app, Role.ADMIN)
    await hot_post(client, admin.token, "race.warm.1@example.com")
    await hot_post(client, admin.token, "race.warm.2@example.com")
    await listener.execute(SLOW_INSERT)
    try:
        # when eight requests race to create customers with that email
        answers = await asyncio.gather(*(hot_post(client, admin.token, "Race.Same@example.com") for _ in range(8)))
    finally:
        await listener.execute("DROP TRIGGER test_slow_insert ON customers; DROP FUNCTION test_slow_insert()")

    # then PostgreSQL refused the losers' statements (a unique violation: rolled back), the resolver path answered
    # them: exactly one customer has the email, every other request is a CONFLICT in its payload, never an error
    assert app.state.compiled.stats["write refused"] >= 1
    payloads = [a.json()["data"]["createCustomer"] for a in answers]
    assert all(a.status_code == 200 and "errors" not in a.json() for a in answers)
    created = [p for p in payloads if p["customer"] is not None]
    assert len(created) == 1 and created[0]["errors"] == []
    assert all([e["code"] for e in p["errors"]] == ["CONFLICT"] for p in payloads if p["customer"] is None)
    rows = await listener.fetch("SELECT email FROM customers")
    assert [r["email"] for r in rows].count("Race.Same@example.com") == 1
    assert await listener.fetchval("SELECT count(*) FROM outbox") == len(rows)  # none for the refused writes
