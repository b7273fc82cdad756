"""Two real server processes on one database: subscribe on one, mutate on the other, receive.

Events travel through PostgreSQL LISTEN/NOTIFY, so what one process commits reaches the subscribers of every
process; what is rolled back reaches nobody."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user
from tests.subscriptions.live import ServerProcess, connected, data_of, graphql, mutate, received, subscribe

REQUEST_UPDATED = """
subscription Watch($c: ID) { requestUpdated(customerId: $c) {
  id body status archivedAt customer { id firstName } processedBy { id } } }
"""
CHAT_MESSAGE_ADDED = "subscription Chat($s: ID!) { chatMessageAdded(sessionId: $s) { id body sender session { id } } }"
CUSTOMER_CREATED = "subscription New { customerCreated { id firstName email } }"

CREATE_REQUEST = """
mutation Create($c: ID!, $body: String!) { createRequest(input: {customerId: $c, body: $body}) {
  request { id } errors { code } } }
"""
ASSIGN = """
mutation Assign($r: ID!, $o: ID!) { assignRequest(input: {requestId: $r, operatorId: $o}) {
  request { id } errors { code } } }
"""
COMPLETE = """
mutation Done($r: ID!) { changeRequestStatus(input: {requestId: $r, status: COMPLETED, resolutionComment: "ok"}) {
  request { id } errors { code } } }
"""
ARCHIVE = "mutation Archive($r: ID!) { archiveRequest(id: $r) { request { id } errors { code } } }"
UPDATE_CUSTOMER = """
mutation Rename($c: ID!, $name: String!) { updateCustomer(input: {id: $c, firstName: $name}) {
  customer { id } errors { code } } }
"""
START_CHAT = """
mutation Start($c: ID!) { startChatSession(input: {customerId: $c, title: "Help"}) {
  chatSession { id } errors { code } } }
"""
POST = """
mutation Post($s: ID!, $body: String!) { postChatMessage(input: {sessionId: $s, body: $body}) {
  chatMessage { id } errors { code } } }
"""
CREATE_CUSTOMER = """
mutation New($email: String!) { createCustomer(input: {firstName: "Nina", lastName: "New", email: $email}) {
  customer { id } errors { code } } }
"""
SIGNUP = """
mutation Join($email: String!) { signup(input: {email: $email, password: "long-enough-password-1",
  firstName: "Sam", lastName: "Signup"}) { customer { id } errors { code } } }
"""


@pytest.fixture(scope="module")
def servers(database_url: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    one = ServerProcess(database_url).start()
    try:
        two = ServerProcess(database_url).start()
    except Exception:
        one.stop()
        raise
    try:
        yield one, two
    finally:
        one.stop()
        two.stop()


async def test_a_request_event_made_on_one_process_reaches_subscribers_on_the_other(app, servers):
    one, two = servers
    admin = await make_user(app, Role.ADMIN)
    operator = await make_user(app, Role.OPERATOR)
    customer = await make_customer(app, first_name="Ada")
    owner = await make_user(app, Role.CUSTOMER, customer=customer)
    stranger = await make_user(app, Role.CUSTOMER)
    customer_id = to_global_id("Customer", customer.id)  # type: ignore[arg-type]
    operator_id = to_global_id("Operator", operator.id)

    async with (
        connected(one.base, operator.token) as staff_ws,
        connected(one.base, owner.token) as owner_ws,
        connected(one.base, stranger.token) as stranger_ws,
    ):
        for ws in (staff_ws, owner_ws, stranger_ws):
            await subscribe(ws, REQUEST_UPDATED)
        created = await mutate(two.base, admin.token, CREATE_REQUEST, {"c": customer_id, "body": "Printer on fire"})
        request_id = created["data"]["createRequest"]["request"]["id"]
        await mutate(two.base, admin.token, ASSIGN, {"r": request_id, "o": operator_id})
        await mutate(two.base, operator.token, COMPLETE, {"r": request_id})
        await mutate(two.base, admin.token, ARCHIVE, {"r": request_id})
        staff_events = data_of(await received(staff_ws, 5, until=4))
        owner_events = data_of(await received(owner_ws, 5, until=4))
        stranger_messages = await received(stranger_ws, 1)

    for events in (staff_events, owner_events):
        updates = [e["requestUpdated"] for e in events]
        assert [u["id"] for u in updates] == [request_id] * 4
        assert [u["status"] for u in updates] == ["PENDING", "IN_PROGRESS", "COMPLETED", "COMPLETED"]
        assert [u["archivedAt"] is not None for u in updates] == [False, False, False, True]
        assert updates[0]["customer"] == {"id": customer_id, "firstName": "Ada"}
    assert [e["requestUpdated"]["processedBy"] for e in staff_events][1] == {"id": operator_id}
    assert data_of(stranger_messages) == []


async def test_every_event_is_read_afresh_for_the_subscriber(app, servers):
    """The connection lives long; the rows it shows must not: a change between two events shows in the second."""
    one, two = servers
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app, first_name="Before")
    customer_id = to_global_id("Customer", customer.id)  # type: ignore[arg-type]
    async with connected(one.base, admin.token) as ws:
        await subscribe(ws, REQUEST_UPDATED, {"c": customer_id})
        await mutate(two.base, admin.token, CREATE_REQUEST, {"c": customer_id, "body": "first"})
        first = data_of(await received(ws, 5, until=1))
        await mutate(two.base, admin.token, UPDATE_CUSTOMER, {"c": customer_id, "name": "After"})
        await mutate(two.base, admin.token, CREATE_REQUEST, {"c": customer_id, "body": "second"})
        second = data_of(await received(ws, 5, until=1))
    assert [e["requestUpdated"]["customer"]["firstName"] for e in first + second] == ["Before", "After"]


async def test_a_customer_id_filter_delivers_only_that_customers_requests(app, servers):
    one, two = servers
    admin = await make_user(app, Role.ADMIN)
    wanted, other = await make_customer(app), await make_customer(app)
    wanted_id = to_global_id("Customer", wanted.id)  # type: ignore[arg-type]
    other_id = to_global_id("Customer", other.id)  # type: ignore[arg-type]
    async with connected(one.base, admin.token) as ws:
        await subscribe(ws, REQUEST_UPDATED, {"c": wanted_id})
        await mutate(two.base, admin.token, CREATE_REQUEST, {"c": other_id, "body": "not this one"})
        await mutate(two.base, admin.token, CREATE_REQUEST, {"c": wanted_id, "body": "this one"})
        events = data_of(await received(ws, 2))
    assert [e["requestUpdated"]["body"] for e in events] == ["this one"]


async def test_chat_messages_reach_the_other_process(app, servers):
    one, two = servers
    operator = await make_user(app, Role.OPERATOR)
    owner = await make_user(app, Role.CUSTOMER)
    customer_id = to_global_id("Customer", owner.user.customer_id)  # type: ignore[arg-type]
    started = await mutate(two.base, operator.token, START_CHAT, {"c": customer_id})
    session_id = started["data"]["startChatSession"]["chatSession"]["id"]
    other = await mutate(two.base, operator.token, START_CHAT, {"c": customer_id})
    other_session_id = other["data"]["startChatSession"]["chatSession"]["id"]
    async with connected(one.base, owner.token) as ws:
        await subscribe(ws, CHAT_MESSAGE_ADDED, {"s": session_id})
        await mutate(two.base, operator.token, POST, {"s": other_session_id, "body": "elsewhere"})
        await mutate(two.base, operator.token, POST, {"s": session_id, "body": "How can I help?"})
        await mutate(two.base, owner.token, POST, {"s": session_id, "body": "My printer"})
        events = data_of(await received(ws, 5, until=2))
    messages = [e["chatMessageAdded"] for e in events]
    assert [(m["body"], m["sender"]) for m in messages] == [("How can I help?", "OPERATOR"), ("My printer", "CUSTOMER")]
    assert {m["session"]["id"] for m in messages} == {session_id}


async def test_new_customers_reach_staff_on_the_other_process_whoever_created_them(app, servers):
    one, two = servers
    sales = await make_user(app, Role.SALES)
    admin = await make_user(app, Role.ADMIN)
    async with connected(one.base, sales.token) as ws:
        await subscribe(ws, CUSTOMER_CREATED)
        await mutate(two.base, admin.token, CREATE_CUSTOMER, {"email": "nina.new@example.com"})
        await mutate(two.base, "", SIGNUP, {"email": "sam.signup@example.com"})
        events = data_of(await received(ws, 5, until=2))
    assert [e["customerCreated"]["email"] for e in events] == ["nina.new@example.com", "sam.signup@example.com"]


ROLLBACK_AT_COMMIT = """
CREATE OR REPLACE FUNCTION test_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused at commit by the test'; END $$;
CREATE CONSTRAINT TRIGGER test_refuse_commit AFTER INSERT ON requests
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.body LIKE 'ROLLBACK%')
  EXECUTE FUNCTION test_refuse_commit();
"""
UNDO_ROLLBACK_AT_COMMIT = """
DROP TRIGGER IF EXISTS test_refuse_commit ON requests;
DROP FUNCTION IF EXISTS test_refuse_commit();
"""


async def test_a_rolled_back_mutation_publishes_nothing(app, servers):
    """The trigger fails the transaction at COMMIT, after the mutation has run its NOTIFY: PostgreSQL drops it."""
    one, two = servers
    admin = await make_user(app, Role.ADMIN)
    customer_id = to_global_id("Customer", (await make_customer(app)).id)  # type: ignore[arg-type]
    async with app.state.engine.begin() as conn:
        for statement in ROLLBACK_AT_COMMIT.split(";\n"):
            if statement.strip():
                await conn.exec_driver_sql(statement)
    try:
        async with connected(one.base, admin.token) as ws:
            await subscribe(ws, REQUEST_UPDATED)
            failed = await graphql(two.base, admin.token, CREATE_REQUEST, {"c": customer_id, "body": "ROLLBACK me"})
            await mutate(two.base, admin.token, CREATE_REQUEST, {"c": customer_id, "body": "committed"})
            events = data_of(await received(ws, 2))
    finally:
        async with app.state.engine.begin() as conn:
            for statement in UNDO_ROLLBACK_AT_COMMIT.split(";\n"):
                if statement.strip():
                    await conn.exec_driver_sql(statement)
    assert failed.get("errors") or failed["data"]["createRequest"]["errors"], failed
    assert [e["requestUpdated"]["body"] for e in events] == ["committed"]


async def test_subscribers_on_both_processes_receive_the_same_event_once(app, servers):
    one, two = servers
    admin = await make_user(app, Role.ADMIN)
    customer_id = to_global_id("Customer", (await make_customer(app)).id)  # type: ignore[arg-type]
    async with connected(one.base, admin.token) as ws_one, connected(two.base, admin.token) as ws_two:
        await subscribe(ws_one, REQUEST_UPDATED)
        await subscribe(ws_two, REQUEST_UPDATED)
        await mutate(one.base, admin.token, CREATE_REQUEST, {"c": customer_id, "body": "once"})
        got_one, got_two = await asyncio.gather(received(ws_one, 2), received(ws_two, 2))
    assert [e["requestUpdated"]["body"] for e in data_of(got_one)] == ["once"]
    assert [e["requestUpdated"]["body"] for e in data_of(got_two)] == ["once"]
