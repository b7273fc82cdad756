"""SQL budgets: nested fields go through loaders, so a page costs the same number of statements whatever its size.

Statements are counted with a `before_cursor_execute` listener (the `sql_counter` fixture); the count includes
the one statement that loads the signed-in user from the token. They hold the resolver path (the compiled read
path is switched off here; tests/performance/test_compiled_budget.py holds that one).
"""

from __future__ import annotations

from typing import Any

import pytest

from db import models
from db.enums import RequestStatus, Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user

pytestmark = pytest.mark.usefixtures("resolver_path")

PAGE_QUERY = """
{ customers(first: 50) { totalCount nodes { firstName openRequestCount
    requests(first: 10) { nodes { status body processedBy { firstName } } }
    chatSessions(first: 5) { nodes { title messageCount lastMessageAt } } } } }
"""
PAGE_BUDGET = 8

ONE_CUSTOMER_QUERY = """
query ($id: ID!) { customer(id: $id) { firstName lastName
    requests(first: 20) { nodes { body status processedBy { firstName lastName } } } } }
"""
ONE_CUSTOMER_BUDGET = 4


async def _populate(app: Any, customers: int) -> list[models.Customer]:
    """`customers` customers, each with 3 requests (two handled by different operators) and 2 chat sessions."""
    op1 = await make_user(app, Role.OPERATOR)
    op2 = await make_user(app, Role.ADMIN)
    rows = [await make_customer(app) for _ in range(customers)]
    async with app.state.sessionmaker() as session:
        for i, customer in enumerate(rows):
            session.add_all(
                [
                    models.SupportRequest(customer_id=customer.id, body=f"Question {i}"),
                    models.SupportRequest(
                        customer_id=customer.id,
                        body=f"Problem {i}",
                        status=RequestStatus.IN_PROGRESS.value,
                        processed_by_id=op1.id,
                    ),
                    models.SupportRequest(
                        customer_id=customer.id,
                        body=f"Done {i}",
                        status=RequestStatus.COMPLETED.value,
                        processed_by_id=op2.id,
                    ),
                    models.ChatSession(customer_id=customer.id, title=f"Chat {i}", message_count=2),
                    models.ChatSession(customer_id=customer.id, title=f"Other chat {i}"),
                ]
            )
        await session.commit()
    return rows


async def _count(gql, sql_counter, query: str, token: str, variables: dict[str, Any] | None = None) -> int:
    sql_counter.statements.clear()
    body = await gql(query, variables, token=token)
    assert "errors" not in body, body
    return sql_counter.count


@pytest.mark.parametrize("customers", [5, 50])
async def test_a_page_of_customers_stays_within_budget(app, gql, sql_counter, customers):
    # given
    await _populate(app, customers)
    admin = await make_user(app, Role.ADMIN)

    # when
    count = await _count(gql, sql_counter, PAGE_QUERY, admin.token)

    # then
    assert count <= PAGE_BUDGET, sql_counter.statements


async def test_a_page_costs_the_same_for_5_and_50_customers(app, gql, sql_counter):
    # given five customers
    await _populate(app, 5)
    admin = await make_user(app, Role.ADMIN)

    # when the page is read, then 45 more customers are added and it is read again
    small = await _count(gql, sql_counter, PAGE_QUERY, admin.token)
    await _populate(app, 45)
    sql_counter.statements.clear()
    body = await gql(PAGE_QUERY, token=admin.token)
    large = sql_counter.count

    # then
    assert len(body["data"]["customers"]["nodes"]) == 50
    assert body["data"]["customers"]["totalCount"] == 50
    assert all(len(c["requests"]["nodes"]) == 3 for c in body["data"]["customers"]["nodes"])
    assert small == large, sql_counter.statements


async def test_one_customer_with_requests_and_operators_costs_at_most_four(app, gql, sql_counter):
    # given
    customer = (await _populate(app, 3))[1]
    admin = await make_user(app, Role.ADMIN)

    # when
    count = await _count(
        gql, sql_counter, ONE_CUSTOMER_QUERY, admin.token, {"id": to_global_id("Customer", customer.id)}
    )

    # then
    assert count <= ONE_CUSTOMER_BUDGET, sql_counter.statements


async def test_requests_with_customers_and_operators_are_batched(app, gql, sql_counter):
    # given
    await _populate(app, 10)
    admin = await make_user(app, Role.ADMIN)
    query = "{ requests(first: 50) { totalCount nodes { body customer { lastName openRequestCount } "
    query += "createdBy { firstName } processedBy { firstName openRequestCount } } } }"

    # when
    count = await _count(gql, sql_counter, query, admin.token)

    # then: viewer, page, count, customers, open counts per customer, operators, open counts per operator
    assert count <= 7, sql_counter.statements


async def test_operators_with_assigned_requests_are_batched(app, gql, sql_counter):
    # given
    await _populate(app, 10)
    admin = await make_user(app, Role.ADMIN)
    query = "{ operators { nodes { firstName openRequestCount "
    query += "assignedRequests(first: 5) { totalCount nodes { body customer { firstName } } } } } }"

    # when
    count = await _count(gql, sql_counter, query, admin.token)

    # then: viewer, page, open counts, assigned pages, their counts, customers
    assert count <= 6, sql_counter.statements


REQUESTS_QUERY = "{ requests(first: 20) { nodes { body customer { lastName } processedBy { firstName } } } }"
CREATE_CUSTOMER = """
mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code } } }
"""


@pytest.mark.parametrize("query", [PAGE_QUERY, REQUESTS_QUERY], ids=["customers page", "requests page"])
async def test_reads_send_no_begin_or_rollback(app, gql, sql_counter, query):
    # given
    await _populate(app, 5)
    admin = await make_user(app, Role.ADMIN)

    # when
    count = await _count(gql, sql_counter, query, admin.token)

    # then: only SELECTs reach PostgreSQL (autocommit reads), no transaction around them
    assert count >= 2
    assert sql_counter.transaction_control == [], sql_counter.statements
    assert all(s.lstrip().upper().startswith("SELECT") for s in sql_counter.statements), sql_counter.statements


async def test_one_customer_read_sends_no_begin_or_rollback(app, gql, sql_counter):
    # given
    customer = (await _populate(app, 2))[0]
    admin = await make_user(app, Role.ADMIN)

    # when
    await _count(gql, sql_counter, ONE_CUSTOMER_QUERY, admin.token, {"id": to_global_id("Customer", customer.id)})

    # then
    assert sql_counter.transaction_control == [], sql_counter.statements


async def test_create_customer_is_one_transaction_within_budget(app, gql, sql_counter):
    # given
    admin = await make_user(app, Role.ADMIN)
    new = {"firstName": "Budget", "lastName": "Test", "email": "budget@example.com"}

    # when
    count = await _count(gql, sql_counter, CREATE_CUSTOMER, admin.token, {"input": new})

    # then: the viewer's lookup, then BEGIN, the email check, the inserts (customer, audit, outbox), COMMIT
    assert sql_counter.transaction_control == ["BEGIN", "COMMIT"], sql_counter.statements
    assert count <= 8, sql_counter.statements
