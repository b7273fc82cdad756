"""eraseCustomer: the tombstone, erased texts, deleted notes and files, scrubbed audit details, a free email, and
exactly one winner when two erasures race."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import text

from db import models
from db.enums import Role
from schema.ids import decode_id, to_global_id
from tests.contracts.given import count, rows
from tests.factories import make_customer, make_user
from tests.gdpr.given import (
    CREATE,
    EMAIL,
    ERASE,
    PERSONAL,
    POST,
    call,
    customer_with_everything,
)

READ_BACK = """
query Back($id: ID!, $session: ID!) {
  customer(id: $id) {
    id firstName lastName email phone company erasedAt
    requests(first: 10) { nodes { body resolutionComment } }
    chatSessions(first: 10) { nodes { title messages(first: 10) { nodes { body } } } }
    notes(first: 10) { totalCount }
    contracts(first: 10) { totalCount }
  }
  chatSession(id: $session) { messageCount }
}
"""


async def test_erasure_leaves_a_tombstone_and_no_personal_data_anywhere(app, client):
    # given a customer with requests, a chat, a note, a contract file and an audit trail, all through the API
    story = await customer_with_everything(app, client)
    [contract_row] = await rows(app, models.Contract)
    stored = Path(app.state.services.storage.root) / contract_row.storage_key
    assert stored.is_file()
    # when an admin erases it
    data = await call(client, ERASE, {"id": story.customer_id}, story.admin.token)
    # then the payload is the tombstone
    payload = data["eraseCustomer"]
    assert payload["errors"] == []
    tomb = payload["customer"]
    assert (tomb["firstName"], tomb["lastName"], tomb["email"], tomb["phone"], tomb["company"]) == (
        "Erased",
        "Customer",
        None,
        None,
        None,
    )
    assert tomb["erasedAt"] is not None
    # and that is what every reader sees: texts erased, notes and contracts gone
    back = await call(client, READ_BACK, {"id": story.customer_id, "session": story.session_id}, story.sales.token)
    customer = back["customer"]
    assert customer["firstName"] == "Erased" and customer["email"] is None
    assert [r["body"] for r in customer["requests"]["nodes"]] == ["[erased]"]
    assert [s["title"] for s in customer["chatSessions"]["nodes"]] == ["[erased]"]
    assert [m["body"] for m in customer["chatSessions"]["nodes"][0]["messages"]["nodes"]] == ["[erased]"]
    assert back["chatSession"]["messageCount"] == 1
    assert customer["notes"]["totalCount"] == 0
    assert customer["contracts"]["totalCount"] == 0
    # the file is gone from storage and its link no longer downloads
    assert not stored.exists()
    assert (await client.get(urlparse(story.contract["downloadUrl"]).path)).status_code == 404
    # no table holds a personal value any more: customers, requests, chat, notes, contracts, audit, outbox
    async with app.state.engine.connect() as conn:
        dump = []
        for table in (
            "customers",
            "requests",
            "chat_sessions",
            "chat_messages",
            "notes",
            "contracts",
            "audit_records",
            "outbox",
        ):
            dump.append(json.dumps([list(map(str, r)) for r in (await conn.execute(text(f"SELECT * FROM {table}")))]))
    everything = "\n".join(dump).lower()
    assert [value for value in PERSONAL if value.lower() in everything] == []
    # the erasure itself is on record, with what it erased
    [record] = await rows(app, models.AuditRecord, models.AuditRecord.action == "customer.erased")
    assert record.entity_id == story.customer_id
    assert record.actor_id == story.admin.id
    assert record.details == {
        "requests": 1,
        "chatSessions": 1,
        "messages": 1,
        "notes": 1,
        "contracts": 1,
        "auditRecordsRewritten": record.details["auditRecordsRewritten"],
    }
    assert record.details["auditRecordsRewritten"] >= 2  # created and updated carried names, emails, phones
    # the audit trail keeps its shape: which fields changed, not their values
    [updated] = await rows(app, models.AuditRecord, models.AuditRecord.action == "customer.updated")
    assert updated.details["changes"]["email"] == {"from": "[erased]", "to": "[erased]"}


async def test_the_email_is_free_again_after_erasure(app, client):
    story = await customer_with_everything(app, client)
    await call(client, ERASE, {"id": story.customer_id}, story.admin.token)
    again = await call(
        client, CREATE, {"input": {"firstName": "New", "lastName": "Owner", "email": EMAIL}}, story.sales.token
    )
    assert again["createCustomer"]["errors"] == []


async def test_erasing_twice_says_it_is_already_erased(app, client):
    story = await customer_with_everything(app, client)
    await call(client, ERASE, {"id": story.customer_id}, story.admin.token)
    data = await call(client, ERASE, {"id": story.customer_id}, story.admin.token)
    assert data["eraseCustomer"]["customer"] is None
    assert data["eraseCustomer"]["errors"] == [
        {
            "code": "INVALID_TRANSITION",
            "message": "The customer is already erased.",
            "field": ["id"],
            "retryAfter": None,
        }
    ]
    assert await count(app, models.AuditRecord, models.AuditRecord.action == "customer.erased") == 1


async def test_two_racing_erasures_one_wins_the_other_is_told(app, client):
    story = await customer_with_everything(app, client)
    other_admin = await make_user(app, Role.ADMIN)
    first, second = await asyncio.gather(
        call(client, ERASE, {"id": story.customer_id}, story.admin.token),
        call(client, ERASE, {"id": story.customer_id}, other_admin.token),
    )
    outcomes = sorted(
        [
            "won" if r["eraseCustomer"]["errors"] == [] else r["eraseCustomer"]["errors"][0]["code"]
            for r in (first, second)
        ]
    )
    assert outcomes == ["INVALID_TRANSITION", "won"]
    assert await count(app, models.AuditRecord, models.AuditRecord.action == "customer.erased") == 1


async def test_the_erased_customers_own_login_stops_working(app, client):
    customer = await make_customer(app, email="self.service@example.com")
    account = await make_user(app, Role.CUSTOMER, customer=customer, email="self.service@example.com")
    admin = await make_user(app, Role.ADMIN)
    await call(client, ERASE, {"id": to_global_id("Customer", customer.id)}, admin.token)  # type: ignore[arg-type]
    response = await client.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": f"Bearer {account.token}"}
    )
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]
    [user] = await rows(app, models.User, models.User.id == account.id)
    assert user.email.endswith("@erased.invalid") and not user.is_active and user.password_hash is None


async def test_an_erased_customer_takes_no_new_contracts(app, client):
    from tests.contracts.given import pdf, upload

    story = await customer_with_everything(app, client)
    await call(client, ERASE, {"id": story.customer_id}, story.admin.token)
    response = await upload(client, token=story.sales.token, customer_id=story.customer_id, content=pdf())
    errors = response.json()["data"]["uploadContract"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("VALIDATION", ["customerId"])]


async def test_an_erased_customers_chat_takes_no_new_messages(app, client):
    story = await customer_with_everything(app, client)
    await call(client, ERASE, {"id": story.customer_id}, story.admin.token)
    data = await call(
        client, POST, {"input": {"sessionId": story.session_id, "body": "still there?"}}, story.operator.token
    )
    assert data["postChatMessage"]["chatMessage"] is None
    assert [e["code"] for e in data["postChatMessage"]["errors"]] == ["VALIDATION"]
    assert await count(app, models.ChatMessage) == 1  # the erased one only


async def test_an_unknown_customer_is_not_found(app, client):
    admin = await make_user(app, Role.ADMIN)
    data = await call(client, ERASE, {"id": to_global_id("Customer", 424242)}, admin.token)
    assert [e["code"] for e in data["eraseCustomer"]["errors"]] == ["NOT_FOUND"]
    data = await call(client, ERASE, {"id": "not-an-id"}, admin.token)
    assert [e["code"] for e in data["eraseCustomer"]["errors"]] == ["NOT_FOUND"]


async def test_erasing_a_customer_with_10000_messages_takes_one_short_transaction(app, client, sql_counter):
    customer = await make_customer(app, first_name="Maximilian", last_name="Chatterley")
    admin = await make_user(app, Role.ADMIN)
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO chat_sessions (customer_id, title) SELECT :c, 'chat ' || n FROM generate_series(1, 10) n"
            ),
            {"c": customer.id},
        )
        await conn.execute(
            text(
                "INSERT INTO chat_messages (session_id, sender, body) "
                "SELECT s.id, 'CUSTOMER', 'Maximilian says ' || n FROM chat_sessions s, generate_series(1, 1000) n "
                "WHERE s.customer_id = :c"
            ),
            {"c": customer.id},
        )
        await conn.execute(
            text(
                "INSERT INTO requests (customer_id, body) SELECT :c, 'Maximilian asks ' || n "
                "FROM generate_series(1, 500) n"
            ),
            {"c": customer.id},
        )
    sql_counter.statements.clear()
    started = time.perf_counter()
    data = await call(client, ERASE, {"id": to_global_id("Customer", customer.id)}, admin.token)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert data["eraseCustomer"]["errors"] == []
    [record] = await rows(app, models.AuditRecord, models.AuditRecord.action == "customer.erased")
    assert record.details["messages"] == 10_000 and record.details["requests"] == 500
    async with app.state.engine.connect() as conn:
        left = await conn.scalar(text("SELECT count(*) FROM chat_messages WHERE body <> '[erased]'"))
    assert left == 0
    print(f"\nerased 10,000 messages and 500 requests in {elapsed:.3f} s, {sql_counter.count} statements")
    assert elapsed < 5.0
    assert sql_counter.count < 40  # set-based: the statement count does not grow with the data


async def test_storage_down_rolls_the_whole_erasure_back(app, database_url):
    from tests.chat.given import make_contract
    from tests.contracts.given import free_port
    from tests.contracts.test_gcs_storage import gcs_app

    customer = await make_customer(app, first_name="Rollo", last_name="Backhouse")
    await make_contract(app, customer)
    admin = await make_user(app, Role.ADMIN)
    async with gcs_app(database_url, storage__gcs_endpoint=f"http://127.0.0.1:{free_port()}") as (_, gcs_client):
        data = await call(gcs_client, ERASE, {"id": to_global_id("Customer", customer.id)}, admin.token)  # type: ignore[arg-type]
    errors = data["eraseCustomer"]["errors"]
    assert [(e["code"], e["retryAfter"]) for e in errors] == [("STORAGE_UNAVAILABLE", 30)]
    [row] = await rows(app, models.Customer, models.Customer.id == customer.id)
    assert row.erased_at is None and row.first_name == "Rollo"
    assert await count(app, models.Contract) == 1
    assert decode_id(to_global_id("Customer", customer.id), "Customer") == customer.id  # type: ignore[arg-type]
