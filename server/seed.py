"""Demo data for `customer-graph dev`/`seed`, and a set-based bulk generator for `seed --customers N`.

Both are synchronous entry points (they run their own event loop): call them from the CLI or a test,
never from inside a running loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine, create_sessionmaker
from db.enums import ChatSessionStatus, MessageSender, RequestStatus, Role
from db.models import ChatMessage, ChatSession, Customer, Note, SupportRequest, User
from integrations.auth.passwords import hash_password
from resolvers.unit_of_work import UnitOfWork, system_unit_of_work

DEMO_PASSWORD = "demo-password-1"
DEMO_STAFF = (
    ("admin@demo.local", "Ada", "Admin", Role.ADMIN),
    ("operator@demo.local", "Oscar", "Operator", Role.OPERATOR),
    ("sales@demo.local", "Sam", "Sales", Role.SALES),
)
DEMO_CUSTOMER_LOGIN = "customer@demo.local"
# Serialises concurrent seeders (two `dev` processes on one database): whoever takes it first loads the data.
_SEED_LOCK = 0x5EED_0001

Login = tuple[str, str, str]  # (email, role, password)


def _run(coro: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError("server.seed runs its own event loop: call it from synchronous code")


def _engine(url: str) -> AsyncEngine:
    # Bulk statements run far longer than a request: no statement timeout here.
    return create_engine(url, pool_size=2, max_overflow=0, statement_timeout_ms=0)


# --------------------------------------------------------------------------------------------------
# Demo data
# --------------------------------------------------------------------------------------------------

# (first, last, email, phone, company)
_DEMO_CUSTOMERS = (
    ("Ed", "Stark", "ed.stark@example.com", "+442083661171", "Winterfell Holdings"),
    ("Casey", "Customer", DEMO_CUSTOMER_LOGIN, "+14155550100", None),
    ("Grace", "Hopper", "grace.hopper@example.com", "+12025550143", "Compiler Corp"),
    ("Alan", "Turing", "alan.turing@example.com", "+441614960000", "Bletchley Analytics"),
    ("Katherine", "Johnson", "katherine.johnson@example.com", "+17575550199", "Orbital Trajectories"),
    ("Linus", "Torvalds", None, "+358401234567", "Kernel Works Oy"),
    ("Margaret", "Hamilton", "margaret.hamilton@example.com", None, "Apollo Software"),
    ("Tim", "Berners-Lee", "tim.bl@example.com", "+442079460958", "Web Consortium"),
    ("Hedy", "Lamarr", "hedy.lamarr@example.com", "+13105550123", "Frequency Hopping Inc"),
    ("Ken", "Thompson", "ken.thompson@example.com", "+16505550177", None),
)

# (customer index, body, status, resolution comment)
_DEMO_REQUESTS = (
    (0, "My invoice for March shows the wrong VAT number.", RequestStatus.PENDING, None),
    (0, "Please move my delivery address to the Winterfell office.", RequestStatus.IN_PROGRESS, None),
    (0, "The portal logged me out during checkout.", RequestStatus.COMPLETED, "Session timeout raised; fixed."),
    (1, "How do I download my contract as PDF?", RequestStatus.PENDING, None),
    (1, "Refund the duplicate charge from last week, please.", RequestStatus.COMPLETED, "Refunded in full."),
    (1, "Can I get a discount for paying yearly?", RequestStatus.REJECTED, "Yearly plans are already discounted."),
    (2, "Our compiler licence key stopped working.", RequestStatus.IN_PROGRESS, None),
    (3, "Please add a second contact to our account.", RequestStatus.PENDING, None),
    (3, "We need an export of all our support tickets.", RequestStatus.COMPLETED, "Export sent by email."),
    (4, "The trajectory report is missing two pages.", RequestStatus.REJECTED, "Duplicate of an earlier request."),
    (5, "Kernel build server is unreachable since Monday.", RequestStatus.IN_PROGRESS, None),
    (6, "Update our billing email address.", RequestStatus.PENDING, None),
    (7, "Hyperlinks in the welcome email are broken.", RequestStatus.COMPLETED, "Template corrected."),
    (8, "Requesting a call back about the new frequency plan.", RequestStatus.PENDING, None),
    (9, "Close our test account, please.", RequestStatus.REJECTED, "Account has open invoices."),
)

# (customer index, title, closed?, [(sender, body), ...])
_DEMO_CHATS: tuple[tuple[int, str, bool, tuple[tuple[MessageSender, str], ...]], ...] = (
    (
        0,
        "Invoice VAT number",
        False,
        (
            (MessageSender.CUSTOMER, "Hi, the VAT number on my March invoice is wrong."),
            (MessageSender.OPERATOR, "Sorry about that, Ed. Which number should it show?"),
            (MessageSender.CUSTOMER, "GB 123 4567 89."),
            (MessageSender.OPERATOR, "Thanks, I've opened a request and will send a corrected invoice."),
        ),
    ),
    (
        1,
        "Contract download",
        True,
        (
            (MessageSender.CUSTOMER, "Where can I find my contract?"),
            (MessageSender.ASSISTANT, "Contracts are listed on your customer page under 'Contracts'."),
            (MessageSender.CUSTOMER, "Found it, thank you!"),
        ),
    ),
    (
        2,
        "Licence key",
        False,
        (
            (MessageSender.CUSTOMER, "Our licence key is rejected since this morning."),
            (MessageSender.OPERATOR, "Looking into it now."),
        ),
    ),
)

_DEMO_NOTES = (
    (0, "Prefers phone calls in the morning (UK time)."),
    (0, "Key account: renewals handled by Sam."),
    (2, "Evaluating the enterprise plan."),
    (4, "Asked for a quarterly business review."),
)


@dataclass
class _Staff:
    admin: User
    operator: User
    sales: User


async def _seed_demo(engine: AsyncEngine) -> list[Login]:
    sessionmaker = create_sessionmaker(engine)
    async with system_unit_of_work(sessionmaker, label="system (demo seed)") as uow:
        session = uow.session
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEED_LOCK})
        if await session.scalar(select(func.count()).select_from(User)):
            return []
        now = datetime.now(UTC)
        start = now - timedelta(days=30)

        password_hash = hash_password(DEMO_PASSWORD)
        staff_rows = [
            User(
                email=email,
                first_name=first,
                last_name=last,
                role=role.value,
                password_hash=password_hash,
                email_verified=True,
                created_at=start,
                updated_at=start,
            )
            for email, first, last, role in DEMO_STAFF
        ]
        session.add_all(staff_rows)

        customers = [
            Customer(
                first_name=first,
                last_name=last,
                email=email,
                phone=phone,
                company=company,
                created_at=start + timedelta(days=i, hours=9),
                updated_at=start + timedelta(days=i, hours=9),
            )
            for i, (first, last, email, phone, company) in enumerate(_DEMO_CUSTOMERS)
        ]
        session.add_all(customers)
        await session.flush()
        staff = _Staff(*staff_rows)

        own = customers[1]
        customer_user = User(
            email=DEMO_CUSTOMER_LOGIN,
            first_name=own.first_name,
            last_name=own.last_name,
            role=Role.CUSTOMER.value,
            password_hash=password_hash,
            email_verified=True,
            customer_id=own.id,
            created_at=own.created_at,
            updated_at=own.created_at,
        )
        session.add(customer_user)
        await session.flush()

        for n, (ci, body, status, comment) in enumerate(_DEMO_REQUESTS):
            customer = customers[ci]
            created = customer.created_at + timedelta(days=1, hours=n)
            processed = status != RequestStatus.PENDING
            session.add(
                SupportRequest(
                    customer_id=customer.id,
                    created_by_id=customer_user.id if ci == 1 else staff.sales.id,
                    body=body,
                    status=status.value,
                    processed_by_id=(staff.operator.id if n % 3 else staff.admin.id) if processed else None,
                    resolution_comment=comment,
                    created_at=created,
                    updated_at=created + timedelta(hours=2) if processed else created,
                )
            )

        message_total = 0
        for ci, title, closed, messages in _DEMO_CHATS:
            customer = customers[ci]
            started = customer.created_at + timedelta(days=2)
            stamps = [started + timedelta(minutes=3 * (i + 1)) for i in range(len(messages))]
            chat = ChatSession(
                customer_id=customer.id,
                started_by_id=customer_user.id if ci == 1 else staff.operator.id,
                title=title,
                status=(ChatSessionStatus.CLOSED if closed else ChatSessionStatus.OPEN).value,
                message_count=len(messages),
                last_message_at=stamps[-1],
                started_at=started,
                closed_at=stamps[-1] + timedelta(minutes=5) if closed else None,
            )
            session.add(chat)
            await session.flush()
            for (sender, body), stamp in zip(messages, stamps, strict=True):
                author = None
                if sender == MessageSender.OPERATOR:
                    author = staff.operator.id
                elif sender == MessageSender.CUSTOMER and ci == 1:
                    author = customer_user.id
                session.add(
                    ChatMessage(
                        session_id=chat.id,
                        sender=sender.value,
                        author_id=author,
                        body=body,
                        created_at=stamp,
                    )
                )
            message_total += len(messages)

        for n, (ci, body) in enumerate(_DEMO_NOTES):
            session.add(
                Note(
                    customer_id=customers[ci].id,
                    author_id=staff.sales.id if n % 2 else staff.operator.id,
                    body=body,
                    created_at=customers[ci].created_at + timedelta(days=3),
                )
            )

        uow.audit(
            action="system.seeded",
            entity="System",
            details={
                "users": len(staff_rows) + 1,
                "customers": len(customers),
                "requests": len(_DEMO_REQUESTS),
                "chatSessions": len(_DEMO_CHATS),
                "chatMessages": message_total,
                "notes": len(_DEMO_NOTES),
            },
        )
    logins = [(email, role.value, DEMO_PASSWORD) for email, _, _, role in DEMO_STAFF]
    logins.append((DEMO_CUSTOMER_LOGIN, Role.CUSTOMER.value, DEMO_PASSWORD))
    return logins


def seed_demo_once(url: str) -> list[Login]:
    """Load the demo data when the database has no users yet; return the demo logins, or [] if data existed."""

    async def run() -> list[Login]:
        engine = _engine(url)
        try:
            return await _seed_demo(engine)
        finally:
            await engine.dispose()

    result: list[Login] = _run(run())
    return result


# --------------------------------------------------------------------------------------------------
# Bulk data: set-based SQL (INSERT ... SELECT FROM generate_series), one transaction per chunk
# --------------------------------------------------------------------------------------------------

REQUESTS_PER_CUSTOMER = 5
SESSIONS_PER_CUSTOMER = 2
MESSAGES_PER_SESSION = 10
BULK_OPERATORS = 5
DEFAULT_CHUNK = 10_000
BULK_ACTOR = "system (bulk seed)"

_FIRST = (
    "Ada Ben Cleo Dev Elena Finn Gina Hugo Iris Jon Kira Leo Maya Nils Olga Pablo Quinn Rosa Sven Tara "
    "Uma Viktor Wren Xena Yusuf Zoe Ed Grace Alan Hedy"
).split()
_LAST = (
    "Stark Hopper Turing Lamarr Johnson Thompson Hamilton Lovelace Ritchie Liskov Knuth Dijkstra Perlman Goldberg "
    "Kay Wirth Backus Allen Cerf Kahn Bartik Clarke Noether Curie Meitner Franklin Nash Shannon Boole Babbage"
).split()
_COMPANIES = "Acme Globex Initech Umbrella Hooli Stark Wayne Wonka Tyrell Cyberdyne Soylent Vandelay".split()


def _sql_array(words: tuple[str, ...] | list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + w.replace("'", "''") + "'" for w in words) + "]::text[]"


# Request status by position: 30% PENDING, 20% IN_PROGRESS, 35% COMPLETED, 15% REJECTED.
_STATUS = (
    "(CASE WHEN (c.n * 7 + k) % 20 < 6 THEN 'PENDING' WHEN (c.n * 7 + k) % 20 < 10 THEN 'IN_PROGRESS' "
    "WHEN (c.n * 7 + k) % 20 < 17 THEN 'COMPLETED' ELSE 'REJECTED' END)"
)

_CHUNK_SQL = (
    # The chunk's customers, their ids taken from the identity sequence up front: unique emails from ids.
    """
    CREATE TEMP TABLE bulk_c ON COMMIT DROP AS
    SELECT nextval(pg_get_serial_sequence('customers', 'id')) AS id, g AS n,
           CAST(:t0 AS timestamptz)
               + (CAST(:span AS float8) * (CAST(:offset AS bigint) + g) / CAST(:total AS float8)) * interval '1 second'
               AS created_at
    FROM generate_series(1, CAST(:count AS integer)) AS g
    """,
    f"""
    INSERT INTO customers (id, first_name, last_name, email, phone, company, created_at, updated_at)
    SELECT c.id,
           ({_sql_array(_FIRST)})[1 + c.id % {len(_FIRST)}],
           ({_sql_array(_LAST)})[1 + (c.id / {len(_FIRST)}) % {len(_LAST)}],
           'bulk-' || c.id || '@example.com',
           '+4420' || lpad((c.id % 100000000)::text, 8, '0'),
           CASE WHEN c.id % 3 = 0 THEN NULL ELSE ({_sql_array(_COMPANIES)})[1 + c.id % {len(_COMPANIES)}] || ' Ltd' END,
           c.created_at, c.created_at
    FROM bulk_c c
    """,
    f"""
    INSERT INTO requests (customer_id, body, status, processed_by_id, resolution_comment,
                          created_at, updated_at, archived_at)
    SELECT c.id,
           'Request ' || k || ' from customer ' || c.id || ': please look into my account.',
           s.status,
           CASE WHEN s.status <> 'PENDING'
                THEN (CAST(:operators AS bigint[]))[1 + (c.n + k) % cardinality(CAST(:operators AS bigint[]))] END,
           CASE s.status WHEN 'COMPLETED' THEN 'Resolved: done as asked.'
                         WHEN 'REJECTED' THEN 'Rejected: not covered by the contract.' END,
           c.created_at + k * interval '1 day',
           c.created_at + k * interval '1 day' + CASE WHEN s.status <> 'PENDING' THEN interval '2 hours'
                                                      ELSE interval '0' END,
           CASE WHEN s.status IN ('COMPLETED', 'REJECTED') AND (c.n + k) % 10 = 0
                THEN c.created_at + k * interval '1 day' + interval '3 days' END
    FROM bulk_c c
    CROSS JOIN generate_series(1, {REQUESTS_PER_CUSTOMER}) AS k
    CROSS JOIN LATERAL (SELECT {_STATUS} AS status) s
    """,
    f"""
    CREATE TEMP TABLE bulk_s ON COMMIT DROP AS
    SELECT nextval(pg_get_serial_sequence('chat_sessions', 'id')) AS id, c.id AS customer_id, c.n, k,
           c.created_at + k * interval '12 hours' AS started_at,
           (CAST(:operators AS bigint[]))[1 + (c.n + k) % cardinality(CAST(:operators AS bigint[]))] AS operator_id
    FROM bulk_c c
    CROSS JOIN generate_series(1, {SESSIONS_PER_CUSTOMER}) AS k
    """,
    f"""
    INSERT INTO chat_sessions (id, customer_id, started_by_id, title, status, message_count,
                               last_message_at, started_at, closed_at)
    SELECT s.id, s.customer_id, s.operator_id, 'Chat ' || s.k || ' with customer ' || s.customer_id,
           CASE WHEN s.k = 1 THEN 'CLOSED' ELSE 'OPEN' END,
           {MESSAGES_PER_SESSION},
           s.started_at + {MESSAGES_PER_SESSION} * interval '1 minute',
           s.started_at,
           CASE WHEN s.k = 1 THEN s.started_at + {MESSAGES_PER_SESSION + 5} * interval '1 minute' END
    FROM bulk_s s
    """,
    f"""
    INSERT INTO chat_messages (session_id, sender, author_id, body, created_at)
    SELECT s.id,
           CASE WHEN m % 2 = 1 THEN 'CUSTOMER' ELSE 'OPERATOR' END,
           CASE WHEN m % 2 = 1 THEN NULL ELSE s.operator_id END,
           CASE WHEN m % 2 = 1 THEN 'Customer message ' || m || ' in session ' || s.id
                ELSE 'Operator reply ' || m || ' in session ' || s.id END,
           s.started_at + m * interval '1 minute'
    FROM bulk_s s
    CROSS JOIN generate_series(1, {MESSAGES_PER_SESSION}) AS m
    ORDER BY s.id, m
    """,
)


async def _bulk_operators(uow: UnitOfWork) -> list[int]:
    """Staff who may process requests (ADMIN/OPERATOR); a few bulk operators are created when none exist."""
    conn = uow.session
    rows = (
        await conn.execute(
            text("SELECT id FROM users WHERE role IN ('OPERATOR', 'ADMIN') AND is_active ORDER BY id LIMIT 50")
        )
    ).all()
    if rows:
        return [row[0] for row in rows]
    created = (
        await conn.execute(
            text(
                """
                INSERT INTO users (email, first_name, last_name, role, email_verified)
                SELECT 'bulk-operator-' || g || '@example.com', 'Bulk', 'Operator ' || g, 'OPERATOR', true
                FROM generate_series(1, :count) AS g
                ON CONFLICT DO NOTHING
                RETURNING id
                """
            ),
            {"count": BULK_OPERATORS},
        )
    ).all()
    if not created:  # the bulk operators exist but were deactivated or demoted
        raise RuntimeError("no active ADMIN or OPERATOR user to process the generated requests")
    for row in created:
        uow.audit(action="operator.created", entity="Operator", entity_id=int(row[0]), details={"source": "seed"})
    return [row[0] for row in created]


async def _seed_bulk(
    engine: AsyncEngine, customers: int, chunk: int, progress: Callable[[str], None]
) -> dict[str, int | float]:
    started = time.perf_counter()
    sessionmaker = create_sessionmaker(engine)
    async with system_unit_of_work(sessionmaker, label=BULK_ACTOR) as uow:
        operators = await _bulk_operators(uow)
    now = datetime.now(UTC)
    t0 = now - timedelta(days=730)
    span = (now - t0).total_seconds() - 15 * 86400  # leave room for the last customers' requests and chats
    done = 0
    while done < customers:
        count = min(chunk, customers - done)
        params = {
            "t0": t0,
            "span": span,
            "offset": done,
            "total": customers,
            "count": count,
            "operators": operators,
        }
        # Each chunk is one unit of work: its rows and its audit record commit together or not at all.
        async with system_unit_of_work(sessionmaker, label=BULK_ACTOR) as uow:
            await uow.session.execute(text("SET LOCAL synchronous_commit = off"))
            for statement in _CHUNK_SQL:
                await uow.session.execute(text(statement), params)
            uow.audit(action="system.bulk_seeded", entity="System", details=_chunk_totals(count))
        done += count
        elapsed = time.perf_counter() - started
        rate = done / elapsed if elapsed else 0.0
        progress(
            f"seed: {done:,}/{customers:,} customers ({done * REQUESTS_PER_CUSTOMER:,} requests, "
            f"{done * SESSIONS_PER_CUSTOMER:,} chat sessions, "
            f"{done * SESSIONS_PER_CUSTOMER * MESSAGES_PER_SESSION:,} messages) in {elapsed:.1f}s, "
            f"{rate:,.0f} customers/s"
        )
    totals = _chunk_totals(customers)
    progress("seed: analyzing tables")
    async with engine.begin() as conn:
        for table in ("users", "customers", "requests", "chat_sessions", "chat_messages"):
            await conn.execute(text(f"ANALYZE {table}"))
    seconds = time.perf_counter() - started
    progress(f"seed: done in {seconds:.1f}s")
    return {**totals, "seconds": round(seconds, 2)}


def _chunk_totals(customers: int) -> dict[str, int]:
    return {
        "customers": customers,
        "requests": customers * REQUESTS_PER_CUSTOMER,
        "chat_sessions": customers * SESSIONS_PER_CUSTOMER,
        "chat_messages": customers * SESSIONS_PER_CUSTOMER * MESSAGES_PER_SESSION,
    }


def seed_bulk(
    url: str,
    *,
    customers: int,
    chunk: int = DEFAULT_CHUNK,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int | float]:
    """Add `customers` generated customers, each with 5 requests and 2 chat sessions of 10 messages.

    Set-based SQL, one transaction per chunk of customers (a failure keeps whole chunks only), a progress
    line per chunk. Safe to run again: ids come from the identity sequences and emails from the ids.
    Returns the row counts added and the seconds taken.
    """
    if customers < 1:
        raise ValueError("--customers must be at least 1")
    report = progress or (lambda line: print(line, flush=True))

    async def run() -> dict[str, int | float]:
        engine = _engine(url)
        try:
            return await _seed_bulk(engine, customers, max(1, chunk), report)
        finally:
            await engine.dispose()

    result: dict[str, int | float] = _run(run())
    return result
