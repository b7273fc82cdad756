"""Data for the differential test, built to hit the byte-format and scope traps of the compiled path.

Zero and non-zero microseconds, unicode (accents, emoji, quotes, backslashes, tabs), long last names (cursors
longer than base64's 76-character lines), nulls, customers without requests or sessions, archived customers and
requests, requests handled by an operator, an admin, a sales user and a customer account (which is no operator),
ties in last names, and every role: ADMIN, OPERATOR, SALES and a CUSTOMER with its own data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from db import models
from db.enums import ChatSessionStatus, MessageSender, RequestStatus, Role
from schema.ids import to_global_id
from tests.factories import Account, make_customer, make_user

BASE = datetime(2026, 3, 1, 9, 30, 0, tzinfo=UTC)  # zero microseconds


@dataclass
class World:
    accounts: dict[str, Account]  # ADMIN, OPERATOR, SALES, CUSTOMER
    ids: dict[str, str]  # global IDs by name


async def _add(app: Any, *rows: Any) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        for row in rows:
            session.add(row)
            await session.flush()


async def build_world(app: Any) -> World:
    admin = await make_user(app, Role.ADMIN, first_name="Ada", last_name="Admin")
    operator = await make_user(app, Role.OPERATOR, first_name="Otto", last_name="Ömer-Operator")
    sales = await make_user(app, Role.SALES, first_name="Sal", last_name="Sales")
    names = [
        ("Alice", "Able", "alice@example.com", "+442083661171", "Acme"),
        ("Zoë", "Żółć", "zoe@example.com", None, None),
        ("Bob", 'O\'Brien \\ "quoted"', None, "+14155550123", "Tab\there"),
        ("Émile", "Able", "emile@example.com", None, "Ünïcode 🚀"),
        ("Long", "L" + "o" * 98 + "g", "long@example.com", None, None),
        ("Eve", "Empty", None, None, None),
        ("Carl", "Archived", "carl@example.com", None, None),
        ("Dora", "Δέλτα", "dora@example.com", "+33142685300", "Société"),
    ]
    customers: list[models.Customer] = []
    for i, (first, last, email, phone, company) in enumerate(names):
        created = BASE + timedelta(hours=i, microseconds=0 if i % 2 == 0 else 123456 + i)
        customers.append(
            await make_customer(
                app,
                first_name=first,
                last_name=last,
                email=email,
                phone=phone,
                company=company,
                created_at=created,
                updated_at=created + timedelta(seconds=5),
                archived_at=BASE + timedelta(days=1) if last == "Archived" else None,
            )
        )
    alice, zoe, bob, emile, long_, eve, carl, dora = customers
    customer_login = await make_user(app, Role.CUSTOMER, customer=alice, first_name="Alice", last_name="Able")
    requests = []
    statuses = list(RequestStatus)
    handlers = [None, operator.user.id, admin.user.id, sales.user.id, customer_login.user.id]
    for i, owner in enumerate([alice, alice, alice, zoe, bob, bob, emile, long_, carl, dora, alice, dora]):
        at = BASE + timedelta(minutes=i, microseconds=0 if i % 3 == 0 else 1000 * i + 7)
        requests.append(
            models.SupportRequest(
                customer_id=owner.id,
                created_by_id=customer_login.user.id if owner is alice else None,
                body=["Printer 🔥", "Line1\nLine2", 'ünïcödé "q" \\ back', "plain"][i % 4] + f" #{i}",
                status=statuses[i % 4].value,
                processed_by_id=handlers[i % 5],
                resolution_comment="Closed: done" if statuses[i % 4] == RequestStatus.COMPLETED else None,
                created_at=at,
                updated_at=at + timedelta(seconds=1),
                archived_at=at + timedelta(days=2) if i in (2, 9) else None,
            )
        )
    await _add(app, *requests)
    sessions = []
    for i, owner in enumerate([alice, alice, zoe, bob, dora, alice]):
        at = BASE + timedelta(hours=2, minutes=i, microseconds=0 if i % 2 else 5)
        sessions.append(
            models.ChatSession(
                customer_id=owner.id,
                started_by_id=customer_login.user.id if owner is alice else operator.user.id,
                title=["Hello", "Ärger mit Rechnung", "Δ", "emoji 😀"][i % 4] + f" {i}",
                status=ChatSessionStatus.CLOSED.value if i % 3 == 0 else ChatSessionStatus.OPEN.value,
                message_count=i * 2,
                last_message_at=at + timedelta(minutes=3) if i % 2 else None,
                started_at=at,
                closed_at=at + timedelta(hours=1) if i % 3 == 0 else None,
            )
        )
    await _add(app, *sessions)
    messages = []
    for i, session in enumerate(sessions[:5]):
        for j in range(i % 3 + (1 if i else 0)):  # the first session has none
            at = session.started_at + timedelta(minutes=j + 1, microseconds=0 if j % 2 else 42 + j)
            sender = [MessageSender.CUSTOMER, MessageSender.OPERATOR, MessageSender.ASSISTANT][j % 3]
            author = {MessageSender.CUSTOMER: customer_login.user.id, MessageSender.OPERATOR: operator.user.id}
            messages.append(
                models.ChatMessage(
                    session_id=session.id,
                    sender=sender.value,
                    author_id=author.get(sender),
                    body=["Hi 👋", 'Tab\tand "quotes"', "Ünïcode\nline"][j % 3] + f" {i}.{j}",
                    created_at=at,
                )
            )
    await _add(app, *messages)
    ids = {
        "alice": to_global_id("Customer", alice.id),  # type: ignore[arg-type]
        "zoe": to_global_id("Customer", zoe.id),  # type: ignore[arg-type]
        "bob": to_global_id("Customer", bob.id),  # type: ignore[arg-type]
        "carl": to_global_id("Customer", carl.id),  # type: ignore[arg-type]
        "req_alice": to_global_id("Request", requests[0].id),  # type: ignore[arg-type]
        "req_bob": to_global_id("Request", requests[4].id),  # type: ignore[arg-type]
        "req_archived": to_global_id("Request", requests[2].id),  # type: ignore[arg-type]
        "session_alice": to_global_id("ChatSession", sessions[0].id),  # type: ignore[arg-type]
        "session_zoe": to_global_id("ChatSession", sessions[2].id),  # type: ignore[arg-type]
        "session_dora": to_global_id("ChatSession", sessions[4].id),  # type: ignore[arg-type]
        "operator": to_global_id("Operator", operator.user.id),  # type: ignore[arg-type]
        "admin": to_global_id("Operator", admin.user.id),  # type: ignore[arg-type]
    }
    accounts = {"ADMIN": admin, "OPERATOR": operator, "SALES": sales, "CUSTOMER": customer_login}
    return World(accounts, ids)
