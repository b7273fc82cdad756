"""The compiled read path's own rules: the setting, one plan per argument shape, a bounded cache, its limits."""

from __future__ import annotations

from typing import Any

from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user

ONE = "query One($id: ID!) { customer(id: $id) { id lastName requests { totalCount } } }"


async def test_switched_off_everything_runs_on_the_resolver_path(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app, last_name="Resolved")
    runtime = app.state.compiled
    served = runtime.stats["planned"]
    variables = {"id": to_global_id("Customer", customer.id)}  # type: ignore[arg-type]

    # when
    app.state.settings.compiled.enabled = False
    try:
        off = await gql(ONE, variables, token=admin.token)
    finally:
        app.state.settings.compiled.enabled = True
    on = await gql(ONE, variables, token=admin.token)

    # then
    assert off == on
    assert off["data"]["customer"]["lastName"] == "Resolved"
    assert runtime.stats["planned"] == served + 1


async def test_one_plan_serves_every_value_of_the_variables(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)
    customers = [await make_customer(app, last_name=f"Planned{i}") for i in range(3)]
    runtime = app.state.compiled
    document = ONE + " # plan reuse"

    # when
    names = []
    for c in customers:
        body = await gql(document, {"id": to_global_id("Customer", c.id)}, token=admin.token)  # type: ignore[arg-type]
        names.append(body["data"]["customer"]["lastName"])

    # then
    assert names == ["Planned0", "Planned1", "Planned2"]
    assert len([key for key in runtime.plans.items if key[0] == document]) == 1


async def test_the_plan_cache_is_bounded(app, gql):
    # given a cache of two plans
    admin = await make_user(app, Role.ADMIN)
    runtime = app.state.compiled
    size = runtime.plans.size
    runtime.plans.size = 2
    try:
        # when five different documents are planned
        for i in range(5):
            body = await gql(f"{{ customers(first: {i}) {{ totalCount }} }}", token=admin.token)
            assert body == {"data": {"customers": {"totalCount": 0}}}
        kept = len(runtime.plans)
    finally:
        runtime.plans.size = size

    # then
    assert kept == 2


async def _served(app: Any, gql: Any, query: str, token: str | None) -> tuple[dict[str, Any], bool]:
    runtime = app.state.compiled
    before = runtime.stats["planned"]
    body = await gql(query, token=token)
    return body, runtime.stats["planned"] > before


async def test_other_mutations_anonymous_callers_and_unknown_fields_are_left_to_the_resolver_path(app, gql):
    # given
    admin = await make_user(app, Role.ADMIN)

    # when / then
    body, planned = await _served(app, gql, "{ customers { totalCount } }", None)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" and not planned
    body, planned = await _served(
        app, gql, 'mutation { createCustomer(input: {firstName: "A", lastName: "B"}) { errors { code } } }', admin.token
    )
    assert body["data"]["createCustomer"]["errors"] == [] and planned  # the one compiled write (compiled/writes.py)
    update = 'mutation { updateCustomer(input: {id: "%s", firstName: "C"}) { customer { firstName } } }'
    customer_id = (await gql("{ customers { nodes { id } } }", token=admin.token))["data"]["customers"]["nodes"][0][
        "id"
    ]
    body, planned = await _served(app, gql, update % customer_id, admin.token)
    assert body["data"]["updateCustomer"]["customer"] == {"firstName": "C"} and not planned
    body, planned = await _served(app, gql, "{ me { role } customers { totalCount } }", admin.token)
    assert body["data"]["me"]["role"] == "ADMIN" and not planned
    body, planned = await _served(app, gql, "{ customers { totalCount } }", admin.token)
    assert body["data"]["customers"]["totalCount"] == 1 and planned


async def test_a_customer_sees_only_its_own_rows_on_the_compiled_path(app, gql):
    # given
    own = await make_customer(app, last_name="Own")
    await make_customer(app, last_name="Other")
    account = await make_user(app, Role.CUSTOMER, customer=own)

    # when
    body, planned = await _served(app, gql, "{ customers { totalCount nodes { lastName } } }", account.token)

    # then
    assert planned
    assert body["data"]["customers"] == {"totalCount": 1, "nodes": [{"lastName": "Own"}]}
    body, planned = await _served(app, gql, "{ operators { totalCount } }", account.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN" and not planned
