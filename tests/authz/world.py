"""The world the authorization matrix runs in: every role, two customers with one of everything each.

Customer B's data carries distinctive markers (its email, "B-SECRET" bodies and titles): a response to customer A's
account that contains any of them, or any of B's global IDs, is a leak, whatever path it came through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from db import models
from db.enums import ChatSessionStatus, MessageSender, RequestStatus, Role
from schema.ids import to_global_id
from tests.factories import Account, make_customer, make_user

B_MARK = "B-SECRET"


@dataclass
class World:
    accounts: dict[str, Account]  # admin, operator, operator2, sales, customer (A's account), customer_b
    ids: dict[str, str]  # global IDs by name
    emails: dict[str, str]
    b_markers: list[str] = field(default_factory=list)

    def token(self, actor: str) -> str | None:
        return None if actor == "anonymous" else self.accounts[actor].token

    def leaks_b(self, text: str) -> list[str]:
        """Which of customer B's markers appear in `text`."""
        return [m for m in self.b_markers if m in text]


async def _add(app: Any, *rows: Any) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        for row in rows:
            session.add(row)
            await session.flush()


def _contract(customer: models.Customer, *, title: str, key: str, by: models.User) -> models.Contract:
    return models.Contract(
        customer_id=customer.id,
        title=title,
        filename=f"{key}.pdf",
        content_type="application/pdf",
        size=1234,
        sha256="0" * 64,
        storage_key=f"contracts/{key}",
        uploaded_by_id=by.id,
    )


async def build_world(app: Any) -> World:
    admin = await make_user(app, Role.ADMIN)
    operator = await make_user(app, Role.OPERATOR)
    operator2 = await make_user(app, Role.OPERATOR)
    sales = await make_user(app, Role.SALES)
    cust_a = await make_customer(app, first_name="Alice", last_name="Able", email="alice@example.com")
    cust_b = await make_customer(
        app, first_name="Bob", last_name="Bsecret", email="b-secret-bob@example.com", company=f"{B_MARK} GmbH"
    )
    cust_archived = await make_customer(
        app, first_name="Carl", last_name="Archived", email="carl@example.com", archived_at=datetime.now(UTC)
    )
    alice = await make_user(app, Role.CUSTOMER, customer=cust_a, email="alice.login@example.com")
    bob = await make_user(app, Role.CUSTOMER, customer=cust_b, email="b-secret-login@example.com")

    req_a = models.SupportRequest(customer_id=cust_a.id, created_by_id=alice.id, body="Alice's printer is on fire")
    req_b = models.SupportRequest(customer_id=cust_b.id, created_by_id=bob.id, body=f"{B_MARK} request body")
    req_a_busy = models.SupportRequest(
        customer_id=cust_a.id,
        created_by_id=alice.id,
        body="Alice's second request",
        status=RequestStatus.IN_PROGRESS.value,
        processed_by_id=operator2.id,
    )
    req_b_busy = models.SupportRequest(
        customer_id=cust_b.id,
        created_by_id=bob.id,
        body=f"{B_MARK} request in progress",
        status=RequestStatus.IN_PROGRESS.value,
        processed_by_id=operator2.id,
    )
    await _add(app, req_a, req_b, req_a_busy, req_b_busy)

    chat_a = models.ChatSession(customer_id=cust_a.id, started_by_id=alice.id, title="Alice chat", message_count=1)
    chat_b = models.ChatSession(customer_id=cust_b.id, started_by_id=bob.id, title=f"{B_MARK} chat", message_count=1)
    await _add(app, chat_a, chat_b)
    msg_a = models.ChatMessage(
        session_id=chat_a.id, sender=MessageSender.CUSTOMER.value, author_id=alice.id, body="hello from A"
    )
    msg_b = models.ChatMessage(
        session_id=chat_b.id, sender=MessageSender.CUSTOMER.value, author_id=bob.id, body=f"{B_MARK} message"
    )
    reply_a = models.ChatMessage(
        session_id=chat_a.id, sender=MessageSender.OPERATOR.value, author_id=operator.id, body="operator reply"
    )
    closed_a = models.ChatSession(
        customer_id=cust_a.id, title="Alice closed chat", status=ChatSessionStatus.CLOSED.value
    )
    note_a = models.Note(customer_id=cust_a.id, author_id=sales.id, body="internal note about Alice")
    note_b = models.Note(customer_id=cust_b.id, author_id=sales.id, body=f"{B_MARK} internal note")
    contract_a = _contract(cust_a, title="Alice contract", key="alice-1", by=sales.user)
    contract_b = _contract(cust_b, title=f"{B_MARK} contract", key="bob-1", by=sales.user)
    audit_a = models.AuditRecord(
        action="customer.updated",
        entity_type="Customer",
        entity_id=to_global_id("Customer", cust_a.id),  # type: ignore[arg-type]
        actor_id=admin.id,
        actor_label=f"admin:{admin.id}",
        details={"firstName": {"from": "Al", "to": "Alice"}},
    )
    await _add(app, msg_a, msg_b, reply_a, closed_a, note_a, note_b, contract_a, contract_b, audit_a)

    def g(type_name: str, row: Any) -> str:
        return to_global_id(type_name, row.id)

    ids = {
        "customerA": g("Customer", cust_a),
        "customerB": g("Customer", cust_b),
        "customerArchived": g("Customer", cust_archived),
        "requestA": g("Request", req_a),
        "requestB": g("Request", req_b),
        "requestABusy": g("Request", req_a_busy),
        "requestBBusy": g("Request", req_b_busy),
        "sessionA": g("ChatSession", chat_a),
        "sessionB": g("ChatSession", chat_b),
        "closedSessionA": g("ChatSession", closed_a),
        "messageA": g("ChatMessage", msg_a),
        "messageB": g("ChatMessage", msg_b),
        "noteA": g("Note", note_a),
        "noteB": g("Note", note_b),
        "contractA": g("Contract", contract_a),
        "contractB": g("Contract", contract_b),
        "auditA": g("AuditRecord", audit_a),
        "userA": g("User", alice.user),
        "userB": g("User", bob.user),
        "operator": to_global_id("Operator", operator.id),
        "operator2": to_global_id("Operator", operator2.id),
        "userOperator": g("User", operator.user),
    }
    accounts = {
        "admin": admin,
        "operator": operator,
        "operator2": operator2,
        "sales": sales,
        "customer": alice,
        "customer_b": bob,
    }
    emails = {"customerA": "alice@example.com", "customerB": "b-secret-bob@example.com"}
    b_ids = [v for k, v in ids.items() if k.endswith("B") or k in ("requestBBusy",)]
    markers = [B_MARK, "b-secret", "Bsecret", *b_ids]
    return World(accounts=accounts, ids=ids, emails=emails, b_markers=markers)
