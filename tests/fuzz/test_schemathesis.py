"""schemathesis over the GraphQL schema: generated queries and mutations (valid against the schema, with
generated arguments) sent to a live uvicorn server as an ADMIN. None may answer 5xx or INTERNAL_SERVER_ERROR.

Bounded: `FUZZ_EXAMPLES` examples per root field (default 6), derandomized so a failure reproduces."""

from __future__ import annotations

import os
from datetime import UTC
from typing import Any

import graphql
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from db.enums import Role
from tests.factories import make_user

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))

# Our custom scalars, as literals a client could write. An Upload cannot travel in a JSON body: any literal
# there must be refused as bad input, never fail inside.
schemathesis.graphql.scalar(
    "DateTime",
    st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(lambda d: nodes.String(d.isoformat())), st.text().map(nodes.String)
    ),
)
schemathesis.graphql.scalar(
    "JSON",
    st.one_of(
        st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3).map(
            lambda d: nodes.Object(
                [graphql.ObjectFieldNode(name=graphql.NameNode(value="k"), value=nodes.String(str(d)))]
            )
        ),
        st.text(max_size=30).map(nodes.String),
        st.integers().map(nodes.Int),
    ),
)
schemathesis.graphql.scalar("Upload", st.one_of(st.just(nodes.Null), st.text(max_size=10).map(nodes.String)))


@pytest.fixture
def live_url(live_server: str) -> str:
    return f"{live_server}/graphql"


@pytest.fixture
async def admin_token(app: Any) -> str:
    return (await make_user(app, Role.ADMIN)).token


def test_generated_operations_never_fail_as_server_errors(live_url: str, admin_token: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    schema = schemathesis.graphql.from_url(live_url, headers=headers, timeout=30)
    problems: list[str] = []
    operations = 0
    sent = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def send(case: Any) -> None:
            nonlocal sent
            response = case.call(headers=headers, timeout=30)
            sent += 1
            if response.status_code >= 500:
                problems.append(f"{case.operation.label}: HTTP {response.status_code} {response.text[:300]}")
                return
            body = response.json()
            codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
            if "INTERNAL_SERVER_ERROR" in codes:
                problems.append(f"{case.operation.label}: INTERNAL_SERVER_ERROR for {case.body}")

        send()

    assert problems == [], problems[:5]
    assert operations >= 30 and sent >= operations
    print(f"schemathesis: {operations} root fields, {sent} requests, no server error")
