"""`/health` stays fast while the heaviest queries the limits allow are running (live uvicorn server)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from db.enums import Role
from server.seed import seed_bulk
from tests.conftest import serve_in_thread
from tests.factories import make_user

# cost 1 + 50 x (1 + (1 + 5) + (1 + 2 x (1 + 1 + 10))) + 11 scalars = 1,612: under the limit, a big answer
HEAVY = """
query Heavy {
  customers(first: 50) { nodes { id firstName lastName email
    requests(first: 5) { nodes { id body status } }
    chatSessions(first: 2) { nodes { title messages(first: 10) { nodes { id body createdAt } } } } } }
}
"""


@pytest.fixture(scope="module")
def live_base(database_url: str) -> Iterator[str]:
    # the resolver path, where a heavy document holds the worker longest (the compiled path answers it in one statement)
    with serve_in_thread(database_url, compiled__enabled=False) as base:
        yield base


async def test_health_answers_quickly_during_heavy_queries(app: Any, database_url: str, live_base: str) -> None:
    await asyncio.to_thread(seed_bulk, database_url, customers=50, progress=lambda _line: None)
    admin = await make_user(app, Role.ADMIN)
    headers = {"Authorization": f"Bearer {admin.token}"}
    health: list[float] = []
    heavy: list[float] = []
    async with httpx.AsyncClient(base_url=live_base, timeout=60) as client:
        first = await client.post("/graphql", json={"query": HEAVY}, headers=headers)
        body = first.json()
        assert "errors" not in body, body
        assert len(body["data"]["customers"]["nodes"]) == 50
        assert body["extensions"]["cost"] == 1612

        async def run_heavy() -> None:
            for _ in range(4):
                started = time.perf_counter()
                response = await client.post("/graphql", json={"query": HEAVY}, headers=headers)
                assert response.status_code == 200
                heavy.append(time.perf_counter() - started)

        async def poll_health(until: asyncio.Task[Any]) -> None:
            while not until.done():
                started = time.perf_counter()
                response = await client.get("/health")
                assert response.status_code == 200
                health.append(time.perf_counter() - started)
                await asyncio.sleep(0.05)

        load = asyncio.ensure_future(asyncio.gather(*(run_heavy() for _ in range(4))))
        await poll_health(load)
        await load
    assert len(health) >= 5
    print(
        f"/health during 16 heavy queries (median {statistics.median(heavy):.2f}s each): "
        f"median {statistics.median(health) * 1000:.0f} ms, max {max(health) * 1000:.0f} ms over {len(health)} probes"
    )
    assert statistics.median(health) < 0.5
    assert max(health) < 3.0
