"""Persisted documents: Apollo's automatic persisted queries stored in PostgreSQL, and the trusted-documents
mode where only documents registered with `customer-graph register-documents` run."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from server.app import create_app
from server.documents import register_folder
from tests.conftest import test_settings as settings_with
from tests.foundation.conftest import CUSTOMER_GRAPH, SETTING_PREFIXES


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(sha256: str, query: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256}}}
    if query is not None:
        body["query"] = query
    return body


async def test_automatic_persisted_queries_round_trip_and_are_shared(client, database_url):
    query = "query ApqRoundTrip { __typename }"
    first = await client.post("/graphql", json=apq(sha(query)))
    assert first.status_code == 200
    not_found = {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    assert first.json() == {"errors": [not_found]}
    registered = await client.post("/graphql", json=apq(sha(query), query))
    assert registered.json() == {"data": {"__typename": "Query"}}
    again = await client.post("/graphql", json=apq(sha(query)))
    assert again.json() == {"data": {"__typename": "Query"}}
    by_get = await client.get(
        "/graphql",
        params={"extensions": f'{{"persistedQuery": {{"version": 1, "sha256Hash": "{sha(query)}"}}}}'},
        headers={"accept": "application/json"},
    )
    assert by_get.json() == {"data": {"__typename": "Query"}}

    # another server process (a second app on the same database) knows it too
    other = create_app(settings_with(), database_url_override=database_url)
    async with LifespanManager(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.post("/graphql", json=apq(sha(query)))).json() == {"data": {"__typename": "Query"}}


async def test_a_hash_that_does_not_match_its_query_is_refused(client):
    response = await client.post("/graphql", json=apq(sha("{ me { id } }"), "{ __typename }"))
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "data" not in body
    bad = await client.post("/graphql", json=apq("not-a-hash"))
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    strict = await client.post("/graphql", json=apq("0" * 64), headers={"accept": "application/graphql-response+json"})
    assert strict.status_code == 400


TRUSTED = "query TrustedTypename { __typename }\n"


async def test_trusted_documents_mode_runs_only_registered_documents(app, database_url):
    folder = Path(tempfile.mkdtemp(prefix="cg-docs-"))
    (folder / "typename.graphql").write_text(TRUSTED)
    (folder / "nested").mkdir()
    (folder / "nested" / "broken.graphql").write_text("query Broken { nope }")
    report = await asyncio.to_thread(register_folder, database_url, folder)
    assert report.registered == [str(folder / "typename.graphql")]
    assert len(report.invalid) == 1 and "broken.graphql" in report.invalid[0]
    again = await asyncio.to_thread(register_folder, database_url, folder)
    assert again.unchanged == [str(folder / "typename.graphql")]

    application = create_app(settings_with(limits__trusted_documents=True), database_url_override=database_url)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.post("/graphql", json=apq(sha(TRUSTED)))).json() == {"data": {"__typename": "Query"}}
            assert (await c.post("/graphql", json={"query": TRUSTED})).json() == {"data": {"__typename": "Query"}}
            for body in ({"query": "{ __typename }"}, apq(sha("{ __typename }"), "{ __typename }")):
                refused = (await c.post("/graphql", json=body)).json()
                assert refused["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND", refused
            # nothing unregistered was stored: still refused by hash
            again = (await c.post("/graphql", json=apq(sha("{ __typename }")))).json()
            assert again["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
            # registered documents are the only operation names that become metric labels
            await c.post("/graphql", json={"query": "query Unregistered12345 { __typename }"})
            metrics = (await c.get("/metrics")).text
            assert 'operation="TrustedTypename"' in metrics
            assert "Unregistered12345" not in metrics


def test_the_register_documents_command(app, database_url):
    folder = Path(tempfile.mkdtemp(prefix="cg-docs-"))
    (folder / "a.graphql").write_text("query CommandDoc { __typename }")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    env = {**clean, "DATABASE_URL": database_url, "APP_ENV": "test"}
    run = subprocess.run(
        [*CUSTOMER_GRAPH, "register-documents", str(folder)], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "1 registered" in run.stdout
    missing = subprocess.run(
        [*CUSTOMER_GRAPH, "register-documents", str(folder / "nope")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert missing.returncode == 2 and "not a directory" in missing.stderr
