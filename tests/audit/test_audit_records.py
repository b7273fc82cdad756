"""auditRecords: ADMIN reads the trail newest first, filtered and paged; everyone else is FORBIDDEN."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from db.enums import Role
from schema.ids import to_global_id
from tests.chat.given import gid, make_audit
from tests.factories import make_user

RECORDS = """
query Records($filter: AuditRecordFilter, $first: Int, $after: String, $last: Int, $before: String) {
  auditRecords(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    nodes { action entityType entityId actorLabel status details occurredAt actor { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def actions(body: dict) -> list[str]:
    return [n["action"] for n in body["data"]["auditRecords"]["nodes"]]


async def test_admin_lists_records_newest_first(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    operator = await make_user(app, Role.OPERATOR)
    await make_audit(app, action="customer.created", occurred_at=T0)
    await make_audit(
        app,
        action="request.assigned",
        entity_type="Request",
        entity_id=to_global_id("Request", 4),
        actor_id=operator.id,
        actor_label=f"operator:{operator.id}",
        details={"processedBy": {"from": None, "to": "x"}},
        occurred_at=T0 + timedelta(minutes=1),
    )
    # when
    body = await gql(RECORDS, token=admin.token)
    # then
    records = body["data"]["auditRecords"]
    assert actions(body) == ["request.assigned", "customer.created"]
    assert records["totalCount"] == 2
    newest = records["nodes"][0]
    assert newest["entityType"] == "Request"
    assert newest["actor"] == {"id": gid("User", operator.user)}
    assert newest["actorLabel"] == f"operator:{operator.id}"
    assert newest["status"] == "SUCCESS"
    assert newest["details"] == {"processedBy": {"from": None, "to": "x"}}
    assert records["nodes"][1]["actor"] is None


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SALES, Role.CUSTOMER])
async def test_only_admins_read_the_trail(app, gql, role):
    viewer = await make_user(app, role)
    await make_audit(app)
    body = await gql(RECORDS, token=viewer.token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_filters_combine(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    sales = await make_user(app, Role.SALES)
    customer_a, customer_b = to_global_id("Customer", 1), to_global_id("Customer", 2)
    await make_audit(app, action="customer.created", entity_id=customer_a, actor_id=sales.id, occurred_at=T0)
    await make_audit(app, action="customer.updated", entity_id=customer_a, occurred_at=T0 + timedelta(hours=1))
    await make_audit(
        app, action="customer.created", entity_id=customer_b, actor_id=sales.id, occurred_at=T0 + timedelta(hours=2)
    )
    await make_audit(
        app, action="note.added", entity_type="Note", entity_id="Tm90ZTox", occurred_at=T0 + timedelta(hours=3)
    )

    async def run(filter: dict) -> list[str]:
        body = await gql(RECORDS, {"filter": filter}, token=admin.token)
        assert "errors" not in body, body
        return [f"{n['action']}@{n['occurredAt'][11:13]}" for n in body["data"]["auditRecords"]["nodes"]]

    # when / then
    assert await run({"entityType": "Note"}) == ["note.added@15"]
    assert await run({"entityId": customer_a}) == ["customer.updated@13", "customer.created@12"]
    assert await run({"action": "customer.created"}) == ["customer.created@14", "customer.created@12"]
    assert await run({"actorId": gid("User", sales.user)}) == ["customer.created@14", "customer.created@12"]
    assert await run({"actorId": gid("Operator", sales.user)}) == ["customer.created@14", "customer.created@12"]
    assert await run({"actorId": "Q3VzdG9tZXI6MQ"}) == []  # a Customer ID names no actor
    assert await run({"from": (T0 + timedelta(hours=1)).isoformat(), "to": (T0 + timedelta(hours=3)).isoformat()}) == [
        "customer.created@14",
        "customer.updated@13",
    ]
    assert await run({"action": "customer.created", "entityId": customer_b}) == ["customer.created@14"]
    total = await gql(RECORDS, {"filter": {"action": "customer.created"}}, token=admin.token)
    assert total["data"]["auditRecords"]["totalCount"] == 2


async def test_paging_both_ways(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    for n in range(5):
        await make_audit(app, action=f"thing.v{n}")
    # when
    page1 = await gql(RECORDS, {"first": 2}, token=admin.token)
    end = page1["data"]["auditRecords"]["pageInfo"]["endCursor"]
    page2 = await gql(RECORDS, {"first": 2, "after": end}, token=admin.token)
    back = await gql(
        RECORDS, {"last": 2, "before": page2["data"]["auditRecords"]["pageInfo"]["startCursor"]}, token=admin.token
    )
    # then
    assert actions(page1) == ["thing.v4", "thing.v3"]
    assert actions(page2) == ["thing.v2", "thing.v1"]
    assert actions(back) == ["thing.v4", "thing.v3"]
    assert page2["data"]["auditRecords"]["pageInfo"]["hasNextPage"]
    assert page2["data"]["auditRecords"]["totalCount"] == 5


@pytest.mark.parametrize("arguments", [{"first": 51}, {"after": "nope"}, {"first": -5}])
async def test_bad_page_arguments_are_bad_user_input(app, gql, arguments):
    admin = await make_user(app, Role.ADMIN)
    body = await gql(RECORDS, arguments, token=admin.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_actors_of_a_page_cost_one_statement(app, gql, sql_counter):
    admin = await make_user(app, Role.ADMIN)
    actors = [await make_user(app, Role.OPERATOR) for _ in range(5)]
    for n in range(30):
        await make_audit(app, actor_id=actors[n % 5].id)
    sql_counter.statements.clear()
    body = await gql(RECORDS, {"first": 30}, token=admin.token)
    assert len({n["actor"]["id"] for n in body["data"]["auditRecords"]["nodes"]}) == 5
    # viewer, the page, the count, the actors
    assert sql_counter.count == 4
