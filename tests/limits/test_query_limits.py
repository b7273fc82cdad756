"""Limits before execution: depth, aliases, tokens, directives and cost, counted after fragments are spread."""

from __future__ import annotations

import time
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from db.enums import Role
from server.app import create_app
from tests.conftest import test_settings as settings_with
from tests.factories import make_user


def too_complex(body: dict[str, Any]) -> dict[str, Any]:
    assert "data" not in body, body  # execution never started
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", body
    return error["extensions"]  # type: ignore[no-any-return]


def nested_me(levels: int) -> str:
    """`me { customer { requests { nodes { customer { ... } } } } }` reaching `levels` fields deep (me = 1)."""
    chain = ["me", "customer"]
    while len(chain) < levels:
        chain += ["requests", "nodes", "customer"]
    chain = chain[:levels]
    leaf = "totalCount" if chain[-1] == "requests" else "id"
    return "{ " + " { ".join(chain) + " { " + leaf + " } " + "} " * (len(chain) - 1) + "}"


async def test_depth_counts_the_root_field_as_one_and_ten_is_allowed(gql):
    # nested_me(9) selects `id` under the 9th field: depth 10
    assert "errors" not in await gql(nested_me(9))
    limits = too_complex(await gql(nested_me(10)))
    assert limits == {"code": "QUERY_TOO_COMPLEX", "limit": "depth", "actual": 11, "max": 10}


async def test_depth_counts_through_fragment_spreads(gql):
    query = """
    { me { ...A } }
    fragment A on User { customer { requests { nodes { ...B } } } }
    fragment B on Request { customer { requests { nodes { customer { requests { nodes { id } } } } } } }
    """
    assert too_complex(await gql(query))["actual"] == 11


async def test_aliases_in_a_fragment_count_once_per_spread(gql):
    five = " ".join(f"a{i}: __typename" for i in range(5))
    fragment = f"fragment Five on Query {{ {five} }}"
    assert "errors" not in await gql("{ ...Five ...Five ...Five } " + fragment)  # 15 allowed
    limits = too_complex(await gql("{ ...Five ...Five ...Five ...Five } " + fragment))
    assert (limits["limit"], limits["actual"], limits["max"]) == ("aliases", 20, 15)
    sixteen = " ".join(f"a{i}: __typename" for i in range(16))
    assert too_complex(await gql("{ " + sixteen + " }"))["actual"] == 16


async def test_repeated_spreads_in_nested_fragments_multiply(gql):
    query = """
    { ...Twice ...Twice }
    fragment Twice on Query { ...Four ...Four }
    fragment Four on Query { a: __typename b: __typename c: __typename d: __typename }
    """
    assert too_complex(await gql(query))["actual"] == 16


async def test_fragment_cycles_are_refused_without_hanging(gql):
    query = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }"
    body = await gql(query)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "data" not in body


async def test_a_fragment_bomb_is_refused_quickly(gql):
    parts = ["fragment F0 on Query { __typename }"]
    for i in range(1, 40):
        parts.append(f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}")
    started = time.perf_counter()
    limits = too_complex(await gql("{ ...F39 } " + " ".join(parts)))
    assert limits["limit"] == "cost" and limits["actual"] == 2**39
    assert time.perf_counter() - started < 2


async def test_tokens_over_the_limit_are_refused_while_parsing(gql):
    def document(numbers: int) -> str:  # 13 tokens around the list
        return "query($a: JSON = [" + " ".join(["1"] * numbers) + "]) { __typename }"

    at_limit = await gql(document(2000 - 13))
    assert at_limit["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"  # parsed: $a is unused
    limits = too_complex(await gql(document(2001 - 13)))
    assert (limits["limit"], limits["max"]) == ("tokens", 2000)


async def test_directives_are_counted_after_spreading(gql):
    ten = " ".join(f"a{i}: __typename @include(if: true)" for i in range(10))
    query = "{ ...T ...T ...T ...T ...T ...T } fragment T on Query { __typename " + "@skip(if: false) " * 9 + "}"
    assert too_complex(await gql(query))["limit"] == "directives"  # 6 spreads x 9 = 54
    assert "errors" not in await gql("{ " + ten + " }")


CONNECTIONS = """
query Pages($n: Int, $m: Int) {
  customers(first: $n) { nodes { id requests(first: $m) { nodes { id body status createdAt } } } }
}
"""


def cost(n: int, m: int) -> int:
    # objects: customers 1 + n x (nodes 1 + requests (1 + m x nodes 1)); scalars once each: id + 4 fields
    return 1 + n * (2 + m) + 5


DEEP = """
query Deep($n: Int, $m: Int) {
  customers(first: $n) { nodes { requests(first: $m) { nodes {
    customer { chatSessions(first: $m) { nodes { id } } } } } } }
}
"""


def deep_cost(n: int, m: int) -> int:
    # customers 1 + n x (nodes 1 + requests (1 + m x (nodes 1 + customer (1 + sessions (1 + m x nodes 1))))) + id
    return 1 + n * (2 + m * (3 + m)) + 1


async def test_cost_multiplies_nested_pages_and_admins_see_it(app, client):
    admin = await make_user(app, Role.ADMIN)
    sales = await make_user(app, Role.SALES)

    async def run(n: int, m: int, token: str, query: str = CONNECTIONS) -> dict[str, Any]:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": {"n": n, "m": m}},
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.json()  # type: ignore[no-any-return]

    body = await run(50, 30, admin.token)
    assert "errors" not in body
    assert body["extensions"] == {"cost": cost(50, 30)} == {"cost": 1606}
    assert "extensions" not in await run(50, 30, sales.token)
    assert (await run(10, 5, admin.token, DEEP))["extensions"] == {"cost": deep_cost(10, 5)} == {"cost": 422}
    limits = too_complex(await run(50, 50, admin.token, DEEP))
    assert (limits["limit"], limits["actual"], limits["max"]) == ("cost", deep_cost(50, 50), 10000)
    assert too_complex(await run(50, 50, sales.token, DEEP))["actual"] == 132602


async def test_four_nested_pages_of_fifty_are_refused(gql, app):
    admin = await make_user(app, Role.ADMIN)
    query = """{ customers(first: 50) { nodes { chatSessions(first: 50) { nodes {
      messages(first: 50) { nodes { session { messages(first: 50) { nodes { id } } } } } } } } } }"""
    limits = too_complex(await gql(query, token=admin.token))
    assert limits["limit"] == "cost" and limits["actual"] > 50**4


async def test_too_many_validation_errors_is_too_complex(gql):
    body = await gql("{ " + " ".join(f"unknown{i}" for i in range(60)) + " }")
    assert too_complex(body)["limit"] == "validationErrors"
    # graphql-core gives up on 900 identical fields ("Validation aborted."): too complex as well
    assert too_complex(await gql("{ " + " ".join(["__typename"] * 900) + " }"))["limit"] == "validation"


async def test_execution_time_out_stops_a_request(app, database_url):
    settings = settings_with(limits__execution_timeout_seconds=1e-9)
    application = create_app(settings, database_url_override=database_url)
    async with LifespanManager(application):
        admin = await make_user(application, Role.ADMIN)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.post(
                "/graphql",
                json={"query": "{ customers { totalCount } }"},
                headers={"Authorization": f"Bearer {admin.token}"},
            )
            assert response.status_code == 200
            [error] = response.json()["errors"]
            assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
            assert error["extensions"]["limit"] == "executionTime"


async def test_suggestions_are_hidden_when_introspection_is_off(database_url, gql):
    shown = await gql("{ customerz }")
    assert "Did you mean" in shown["errors"][0]["message"]
    application = create_app(settings_with(limits__introspection=False), database_url_override=database_url)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            for query in ("{ customerz }", "query($r: Role) { __typename }", "{ __schema { queryType { name } } }"):
                body = (await c.post("/graphql", json={"query": query})).json()
                for error in body["errors"]:
                    assert "Did you mean" not in error["message"], body
                    assert "customer" not in error["message"].replace("customerz", ""), body
