"""The hot path (server/hot_path.py): a compiled document sent again is answered without strawberry, byte for
byte as the full pipeline answers it — and every request it must not answer still gets the full pipeline's
answer: a changed viewer, a bad token, arguments or a cost over the limits, persisted or registered documents."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from asgi_lifespan import LifespanManager
from sqlalchemy import event, update

from db import models
from db.enums import Role
from integrations.auth.tokens import LEEWAY_SECONDS
from schema.ids import to_global_id
from server.app import create_app
from tests.conftest import test_settings as settings_with
from tests.factories import Account, make_customer, make_user
from tests.performance.test_compiled_budget import wire  # noqa: F401  (the fixture: every statement sent)

ONE = "query One($id: ID!) { customer(id: $id) { id firstName lastName requests { totalCount } } }"
PAGE = "{ customers(first: 5) { totalCount nodes { id lastName } } }"


async def post(client: httpx.AsyncClient, body: dict[str, Any], token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post("/graphql", json=body, headers=headers)


@asynccontextmanager
async def own_server(
    database_url: str, last_name: str, **settings: Any
) -> AsyncIterator[tuple[Any, Account, httpx.AsyncClient]]:
    """An app of its own with these settings, an admin, one customer, and a client."""
    application = create_app(settings_with(**settings), database_url_override=database_url)
    async with LifespanManager(application):
        admin = await make_user(application, Role.ADMIN)
        await make_customer(application, last_name=last_name)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield application, admin, client


def hot_count(app: Any) -> int:
    return int(app.state.compiled.stats["hot"])


async def test_the_second_request_is_answered_by_the_hot_path_byte_for_byte(app, client):
    # given an admin and a customer, and a document the full pipeline answers first
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app, first_name="Ada", last_name="Hot")
    body = {"query": ONE + " # byte for byte", "variables": {"id": to_global_id("Customer", customer.id)}}
    first = await post(client, body, admin.token)
    hot = hot_count(app)

    # when it is sent again, with and without the graphql-response media type
    second = await post(client, body, admin.token)
    third = await post(client, body, admin.token, accept="application/graphql-response+json")
    full = await post(client, body, admin.token, accept="application/graphql-response+json")

    # then the hot path answered both, with the full pipeline's bytes and media types
    assert hot_count(app) == hot + 3
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert third.headers["content-type"] == full.headers["content-type"] == "application/graphql-response+json"
    assert third.content == first.content
    answer = second.json()
    assert answer["data"]["customer"]["lastName"] == "Hot"
    assert answer["extensions"]["cost"] > 0  # an ADMIN sees the query's cost, as on the full pipeline
    assert "x-request-id" in second.headers


async def test_the_hot_path_keeps_a_customers_row_scope(app, client):
    # given two customers, one of them signed in
    mine = await make_customer(app, last_name="Mine")
    other = await make_customer(app, last_name="Other")
    me = await make_user(app, Role.CUSTOMER, customer=mine)
    query = ONE + " # row scope"
    await post(client, {"query": query, "variables": {"id": to_global_id("Customer", mine.id)}}, me.token)
    hot = hot_count(app)

    # when the customer asks for itself and for the other customer on the hot path
    own = await post(client, {"query": query, "variables": {"id": to_global_id("Customer", mine.id)}}, me.token)
    foreign = await post(client, {"query": query, "variables": {"id": to_global_id("Customer", other.id)}}, me.token)
    page = await post(client, {"query": PAGE + " # row scope"}, me.token)
    page_again = await post(client, {"query": PAGE + " # row scope"}, me.token)

    # then it sees itself only, and no cost (that is for ADMINs)
    assert hot_count(app) == hot + 3
    assert own.json() == {
        "data": {
            "customer": {
                "id": to_global_id("Customer", mine.id),
                "firstName": mine.first_name,
                "lastName": "Mine",
                "requests": {"totalCount": 0},
            }
        }
    }
    assert foreign.json() == {"data": {"customer": None}}
    assert page_again.content == page.content
    assert page_again.json()["data"]["customers"]["totalCount"] == 1


async def test_a_deactivated_user_or_a_changed_role_is_seen_at_once(app, client):
    # given a document made hot by an admin
    admin = await make_user(app, Role.ADMIN)
    body = {"query": PAGE + " # viewer changes"}
    await post(client, body, admin.token)
    assert (await post(client, body, admin.token)).json()["extensions"]["cost"] > 0

    # when the admin becomes SALES, then is deactivated
    async with app.state.sessionmaker() as session:
        await session.execute(update(models.User).where(models.User.id == admin.user.id).values(role="SALES"))
        await session.commit()
    as_sales = (await post(client, body, admin.token)).json()
    async with app.state.sessionmaker() as session:
        await session.execute(update(models.User).where(models.User.id == admin.user.id).values(is_active=False))
        await session.commit()
    deactivated = (await post(client, body, admin.token)).json()

    # then the role read with the statement decides (no cost for SALES), and a deactivated user is refused
    assert "extensions" not in as_sales and "customers" in as_sales["data"]
    assert deactivated["data"] is None
    assert deactivated["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_requests_the_hot_path_must_not_answer_get_the_full_pipelines_answer(app, client):
    # given a hot document
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app)
    query = ONE + " # refusals"
    good = {"query": query, "variables": {"id": to_global_id("Customer", customer.id)}}
    await post(client, good, admin.token)
    hot = hot_count(app)

    # when it comes with a bad token, no token, or a persisted-query extension
    forged = await post(client, good, admin.token[:-2] + "xx")
    anonymous = await post(client, good, None)
    persisted = await post(client, {**good, "extensions": {"persistedQuery": {"version": 1}}}, admin.token)

    # then none was answered by the hot path, and each got the full pipeline's error
    assert hot_count(app) == hot
    assert forged.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert persisted.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_odd_arguments_get_the_resolver_paths_answer(app, client):
    # given a hot document
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app)
    query = ONE + " # odd arguments"
    await post(client, {"query": query, "variables": {"id": to_global_id("Customer", customer.id)}}, admin.token)
    odd: list[Any] = [7, "bm9wZQ", to_global_id("Request", customer.id), "", None, {"id": 1}, "Q3VzdG9tZXI6" * 30]

    # when odd ids come, on the hot path and then with the compiled path switched off
    hot = [(await post(client, {"query": query, "variables": {"id": v}}, admin.token)).json() for v in odd]
    app.state.settings.compiled.enabled = False
    try:
        resolved = [(await post(client, {"query": query, "variables": {"id": v}}, admin.token)).json() for v in odd]
    finally:
        app.state.settings.compiled.enabled = True

    # then the answers are the resolver path's, errors and the admin's cost included
    assert hot == resolved


async def test_a_cost_over_the_limit_from_variables_is_refused_as_before(app, client):
    # given a document whose page sizes come from variables, made hot with small pages
    admin = await make_user(app, Role.ADMIN)
    await make_customer(app)
    query = (
        "query Deep($n: Int) { requests(first: $n) { nodes { id customer { chatSessions(first: $n) { nodes { id "
        "messages(first: $n) { nodes { id } } } } } } } }"
    )
    small = await post(client, {"query": query, "variables": {"n": 2}}, admin.token)
    assert "errors" not in small.json(), small.json()
    again = await post(client, {"query": query, "variables": {"n": 2}}, admin.token)
    hot = hot_count(app)

    # when the same document asks for the largest pages
    large = await post(client, {"query": query, "variables": {"n": 50}}, admin.token)

    # then the second small one was hot, the large one is refused by the query limits as on the full pipeline
    assert again.content == small.content
    assert hot_count(app) == hot
    assert large.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_a_server_limited_to_registered_documents_never_answers_raw_text_hot(app, client):
    # given a document made hot while raw documents were allowed
    admin = await make_user(app, Role.ADMIN)
    body = {"query": PAGE + " # registered only"}
    await post(client, body, admin.token)
    persisted = app.state.persisted_queries
    hot = hot_count(app)

    # when the server runs registered documents only
    persisted.trusted_only = True
    try:
        refused = await post(client, body, admin.token)
    finally:
        persisted.trusted_only = False

    # then the raw text is refused, as the full pipeline refuses it
    assert hot_count(app) == hot
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_switched_off_the_hot_path_is_off_too(app, client):
    # given a hot document
    admin = await make_user(app, Role.ADMIN)
    body = {"query": PAGE + " # switched off"}
    await post(client, body, admin.token)
    hot = hot_count(app)

    # when the compiled path is switched off
    app.state.settings.compiled.enabled = False
    try:
        off = await post(client, body, admin.token)
    finally:
        app.state.settings.compiled.enabled = True

    # then the resolver path answered
    assert hot_count(app) == hot
    assert "customers" in off.json()["data"]


async def test_a_hot_request_is_logged_like_the_full_pipeline(app, client, caplog):
    # given a hot document with an operation name
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app, last_name="Logged")
    body = {"query": ONE + " # logged", "variables": {"id": to_global_id("Customer", customer.id)}}
    await post(client, body, admin.token)
    hot = hot_count(app)

    # when the hot path answers it
    with caplog.at_level(logging.INFO, logger="customer_graph.http"):
        await post(client, body, admin.token)

    # then its request log line names the viewer and the operation, as the full pipeline's does
    assert hot_count(app) == hot + 1
    lines = [r for r in caplog.records if r.name == "customer_graph.http" and r.getMessage() == "request"]
    assert len(lines) == 1
    line = lines[0]
    assert (line.viewer_id, line.operation, line.outcome, line.status) == (admin.id, "One", "ok", 200)


async def test_a_viewer_as_last_seen_costs_one_statement(app, client, wire):  # noqa: F811  (the fixture)
    # given a hot document an admin has read once on the hot path (its row is known since)
    admin = await make_user(app, Role.ADMIN)
    await make_customer(app, last_name="Once")
    body = {"query": PAGE + " # one statement"}
    first = await post(client, body, admin.token)
    await post(client, body, admin.token)

    # when it is read again
    wire.statements.clear()
    again = await post(client, body, admin.token)

    # then one statement read the viewer's row and the document together, outside any transaction
    sent = [s for _conn, s in wire.statements if s.rstrip(";").upper() not in ("BEGIN", "ROLLBACK", "COMMIT", "")]
    assert len(sent) == 1, sent
    assert sent[0].startswith("SELECT u.role::text") and "FROM users u WHERE u.id" in sent[0]
    assert again.content == first.content


async def test_an_expired_token_is_refused_as_on_the_full_pipeline(app, client):
    # given a hot document, and an admin's token that lives one second, used (verified, remembered) on it
    admin = await make_user(app, Role.ADMIN)
    tokens = app.state.services.tokens
    lifetime = tokens.ttl_seconds
    tokens.ttl_seconds = 1
    try:
        short = tokens.issue(subject=str(admin.user.id), role="ADMIN")
    finally:
        tokens.ttl_seconds = lifetime
    body = {"query": PAGE + " # expiry"}
    await post(client, body, admin.token)
    assert "customers" in (await post(client, body, short.token)).json()["data"]
    hot = hot_count(app)

    # when it is used again after its expiry and the verifier's leeway
    await asyncio.sleep(1 + LEEWAY_SECONDS + 1)
    answer = await post(client, body, short.token)

    # then it is refused, as the full pipeline refuses it
    assert hot_count(app) == hot
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_compiled_statements_take_their_own_pool_not_the_engines(app, client):
    # given a hot document
    admin = await make_user(app, Role.ADMIN)
    body = {"query": PAGE + " # own pool"}
    await post(client, body, admin.token)
    checkouts: list[object] = []

    def on_checkout(*_: object) -> None:
        checkouts.append(1)

    engine = app.state.engine.sync_engine
    event.listen(engine, "checkout", on_checkout)
    try:
        # when it is read again
        again = await post(client, body, admin.token)
    finally:
        event.remove(engine, "checkout", on_checkout)
    # then the statement went on the read pool: no connection from SQLAlchemy's pool
    assert "customers" in again.json()["data"]
    assert checkouts == []
    assert app.state.compiled.pool is not None and app.state.compiled.pool.get_size() >= 1


async def test_without_a_read_pool_the_compiled_path_borrows_from_the_engine(
    app, database_url
):  # app: tables emptied after
    # given a server with no read pool
    async with own_server(database_url, "Borrowed", database__read_pool_size=0) as (application, admin, client):
        # when a document is read twice (the second time on the hot path)
        body = {"query": PAGE + " # no read pool"}
        first = await post(client, body, admin.token)
        second = await post(client, body, admin.token)
        # then both were answered by compiled statements, on the engine's pool
        assert application.state.compiled.pool is None
        assert application.state.compiled.stats["hot"] == 1
        assert second.content == first.content
        assert first.json()["data"]["customers"]["nodes"][0]["lastName"] == "Borrowed"


async def test_the_hot_lane_keeps_the_request_id_cors_and_body_limit(app, database_url):  # app: tables emptied after
    # given a server that allows one browser origin, and a hot document
    origin = {"app__cors_origins": ["https://app.example"], "limits__max_body_bytes": 4096}
    async with own_server(database_url, "Lane", **origin) as (application, admin, client):
        body = {"query": PAGE + " # lane"}
        first = await post(client, body, admin.token)
        stats = application.state.compiled.stats
        served, lane = stats["hot"], stats["hot lane"]

        # when it is sent again with a request id, from the browser origin, and with a body over the limit
        named = await post(client, body, admin.token, **{"x-request-id": "lane-42"})
        browser = await post(client, body, admin.token, origin="https://app.example")
        padded = {**body, "variables": {"pad": "x" * 5000}}
        too_large = await post(client, padded, admin.token)

        # then the hot path answered the first two, with the client's id and the CORS headers (the one from a
        # browser after the middleware stack, which adds them), and the body limit refused the third as always
        assert (stats["hot"], stats["hot lane"]) == (served + 2, lane + 1)
        assert named.content == browser.content == first.content
        assert named.headers["x-request-id"] == "lane-42"
        assert browser.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-origin" not in named.headers
        assert too_large.status_code == 413
        assert too_large.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_body_in_several_chunks_is_read_whole_by_the_hot_lane(app, client):
    # given a hot document
    admin = await make_user(app, Role.ADMIN)
    await make_customer(app, last_name="Chunks")
    body = {"query": PAGE + " # chunks"}
    first = await post(client, body, admin.token)
    hot, lane = hot_count(app), app.state.compiled.stats["hot lane"]
    raw = orjson.dumps(body)

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 7):
            yield raw[start : start + 7]

    headers = {"authorization": f"Bearer {admin.token}", "content-type": "application/json"}
    # when it comes again in pieces of seven bytes, with and without a Content-Length
    sized = await client.post("/graphql", content=pieces(), headers={**headers, "content-length": str(len(raw))})
    streamed = await client.post("/graphql", content=pieces(), headers=headers)

    # then the hot path answers both whole: the sized one in the lane before the middleware stack, the other after
    assert sized.content == streamed.content == first.content
    assert hot_count(app) == hot + 2
    assert app.state.compiled.stats["hot lane"] == lane + 1
