"""The `graphql-ws` npm client (`createClient`, as browser and Node apps use it) subscribes and receives events.

Its package and lock file live in tests/clients/subscriptions/; `make test` installs them with `npm ci`."""

from __future__ import annotations

import asyncio
import json
import shutil
from asyncio.subprocess import PIPE
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user
from tests.subscriptions.live import ServerProcess, mutate

CLIENT = Path(__file__).resolve().parents[1] / "clients" / "subscriptions"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed: the graphql-ws client test is skipped")

CREATE_REQUEST = """
mutation Create($c: ID!, $body: String!) { createRequest(input: {customerId: $c, body: $body}) {
  request { id } errors { code } } }
"""


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[ServerProcess]:
    if not (CLIENT / "node_modules" / "graphql-ws").is_dir():
        pytest.fail(f"the Node client is not installed: run `make node-clients` (npm ci in {CLIENT})")
    process = ServerProcess(database_url).start()
    try:
        yield process
    finally:
        process.stop()


async def _node(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        NODE or "node", "subscribe.mjs", *args, cwd=CLIENT, stdout=PIPE, stderr=PIPE
    )


async def _wait_for_line(process: asyncio.subprocess.Process, wanted: str, seconds: float) -> None:
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(seconds):
        while line := (await process.stdout.readline()).decode():
            lines.append(line.strip())
            if line.strip() == wanted:
                return
    err = (await process.stderr.read()).decode() if process.stderr else ""
    raise AssertionError(f"no {wanted!r} from the Node client: {lines} {err}")


async def test_the_graphql_ws_client_receives_request_updated(app, server):
    admin = await make_user(app, Role.ADMIN)
    customer_id = to_global_id("Customer", (await make_customer(app)).id)  # type: ignore[arg-type]
    client = await _node(f"ws://{server.base}/graphql", admin.token, "2", "20")
    try:
        await _wait_for_line(client, "SUBSCRIBED", 20)
        created = await mutate(server.base, admin.token, CREATE_REQUEST, {"c": customer_id, "body": "from Python"})
        await mutate(server.base, admin.token, CREATE_REQUEST, {"c": customer_id, "body": "and again"})
        out, err = await asyncio.wait_for(client.communicate(), 20)
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()
    assert client.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    events = [json.loads(line)["data"]["requestUpdated"] for line in lines if line.startswith("{")]
    assert [e["body"] for e in events] == ["from Python", "and again"]
    assert events[0]["id"] == created["data"]["createRequest"]["request"]["id"]
    assert {e["customer"]["id"] for e in events} == {customer_id}
    assert {e["status"] for e in events} == {"PENDING"}


async def test_the_graphql_ws_client_is_refused_with_a_bad_token(server):
    client = await _node(f"ws://{server.base}/graphql", "not-a-token", "1", "10")
    _out, err = await asyncio.wait_for(client.communicate(), 30)
    assert client.returncode == 1
    assert "4403" in err.decode()
