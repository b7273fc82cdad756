"""The compiled read path answers exactly as the resolver path does.

Every document of the corpus (hand-written hot shapes and traps, plus generated ones) runs for each role on both
paths against the same database: the parsed responses — data and errors — must be equal. The compiled path must
really have answered the documents it claims (the hot shapes), and handed over the ones it cannot plan, so the
test cannot pass by never compiling anything. Cursors from one path page on the other.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.compiled.corpus import Doc, generated, hand_written
from tests.compiled.world import World, build_world

ROLES = ["ADMIN", "OPERATOR", "SALES", "CUSTOMER"]
GENERATED = 170

# Hand-written documents the compiled path must answer itself, and ones it must hand over.
PLANNED = {"a", "b", "page", "operator queue", "search", "search phone", "fragments", "someone else", "wrong type id"}
PLANNED |= {"messages", "messages page", "by email"}
PLANNED_FOR_CUSTOMER = PLANNED - {"operator queue"}
HANDED_OVER = {"backward", "first 51", "bad cursor", "foreign cursor", "bad variable", "notes", "contracts", "me"}
HANDED_OVER |= {"skip variable", "messages backward", "message authors"}


async def post(client: Any, doc: Doc, token: str) -> tuple[int, Any]:
    response = await client.post(
        "/graphql",
        json={"query": doc.query, "variables": doc.variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status_code, response.json()


async def both_paths(app: Any, client: Any, doc: Doc, token: str) -> tuple[Any, Any, bool]:
    """(compiled-path answer, resolver-path answer, whether the compiled path answered)."""
    runtime, settings = app.state.compiled, app.state.settings
    served = runtime.stats["planned"]
    try:
        settings.compiled.enabled = True
        compiled = await post(client, doc, token)
        planned = runtime.stats["planned"] > served
        settings.compiled.enabled = False
        resolved = await post(client, doc, token)
    finally:
        settings.compiled.enabled = True
    return compiled, resolved, planned


@pytest.fixture
async def world(app: Any) -> World:
    return await build_world(app)


@pytest.mark.parametrize("role", ROLES)
async def test_both_paths_answer_the_corpus_alike(app, client, world, role):
    # given the corpus: hand-written plus generated documents
    docs = hand_written(world) + generated(app.state.compiled.schema, world, GENERATED)
    assert len(docs) >= 200
    token = world.accounts[role].token

    # when each runs on both paths
    mismatches, planned, handed_over = [], set(), set()
    planned_count = 0
    for i, doc in enumerate(docs):
        compiled, resolved, was_planned = await both_paths(app, client, doc, token)
        if compiled != resolved:
            mismatches.append((i, doc.name, doc.query, doc.variables, compiled, resolved))
        planned_count += was_planned
        (planned if was_planned else handed_over).add(doc.name or f"#{i}")

    # then the answers are equal, the hot shapes were compiled, and what cannot be planned was handed over
    assert mismatches == [], mismatches[:3]
    expected = PLANNED if role != "CUSTOMER" else PLANNED_FOR_CUSTOMER
    assert expected <= planned, expected - planned
    assert not (HANDED_OVER & planned), HANDED_OVER & planned
    assert planned_count >= 60, planned_count
    if role == "CUSTOMER":
        assert "operator queue" in handed_over


LISTS = [
    ("customers", "{ customers(first: 2, after: $after) { %s } }"),
    ("customers", "{ customers(first: 2, after: $after, orderBy: {field: LAST_NAME}) { %s } }"),
    ("customers", "{ customers(first: 2, after: $after, orderBy: {field: LAST_NAME, direction: DESC}) { %s } }"),
    ("customers", "{ customers(first: 3, after: $after, orderBy: {field: CREATED_AT, direction: DESC}) { %s } }"),
    ("requests", "{ requests(first: 2, after: $after, filter: {includeArchived: true}) { %s } }"),
    ("operators", "{ operators(first: 1, after: $after) { %s } }"),
    ("customer.requests", "{ customer(id: $id) { requests(first: 2, after: $after) { %s } } }"),
    ("customer.chatSessions", "{ customer(id: $id) { chatSessions(first: 1, after: $after) { %s } } }"),
    ("chatSession.messages", "{ chatSession(id: $id) { messages(first: 1, after: $after) { %s } } }"),
]


def _connection(body: dict[str, Any], name: str) -> dict[str, Any]:
    data = body["data"]
    if "." in name:
        parent, child = name.split(".")
        return data[parent][child]  # type: ignore[no-any-return]
    return data[name]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name,template", LISTS)
async def test_cursors_from_one_path_page_on_the_other(app, client, world, name, template):
    # given a list read page by page, alternating the path that reads each page
    token = world.accounts["ADMIN"].token
    selection = "pageInfo { hasNextPage endCursor } edges { cursor node { id } }"
    query = (
        "query ($after: String, $id: ID!) " if "$id" in template else "query ($after: String) "
    ) + template % selection
    runtime, settings = app.state.compiled, app.state.settings
    seen: list[str] = []

    def variables(after: str | None) -> dict[str, Any]:
        if "$id" not in template:
            return {"after": after}
        return {"after": after, "id": world.ids["session_dora" if "chatSession(" in template else "alice"]}

    after = None
    pages = 0
    planned = runtime.stats["planned"]
    try:
        while True:
            settings.compiled.enabled = pages % 2 == 0
            _, body = await post(client, Doc(query, variables(after)), token)
            conn = _connection(body, name)
            seen += [e["node"]["id"] for e in conn["edges"]]
            pages += 1
            if not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
            assert after == conn["edges"][-1]["cursor"]
            assert pages < 20
    finally:
        settings.compiled.enabled = True

    # then every item came once, in the order one full read gives
    settings.compiled.enabled = False
    try:
        whole = query.replace("first: 1", "first: 50").replace("first: 2", "first: 50").replace("first: 3", "first: 50")
        _, body = await post(client, Doc(whole, variables(None)), token)
    finally:
        settings.compiled.enabled = True
    assert seen == [e["node"]["id"] for e in _connection(body, name)["edges"]]
    assert pages >= 2
    assert runtime.stats["planned"] - planned == (pages + 1) // 2  # the compiled path read every other page
