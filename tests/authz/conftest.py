"""The matrix runs the AI operations against a working provider: the real openai client pointed at the local
chat-completions server of tests/ai, so allowed roles get a summary and the others their denial."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.ai.provider import ChatCompletionsServer, running_server, service_for


@pytest.fixture(scope="session")
def authz_provider() -> Iterator[ChatCompletionsServer]:
    yield from running_server()


@pytest.fixture(autouse=True)
async def _ai_configured(
    request: pytest.FixtureRequest, authz_provider: ChatCompletionsServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    if "app" not in request.fixturenames:
        yield
        return
    app: Any = request.getfixturevalue("app")
    authz_provider.reset()
    async with service_for(authz_provider) as service:
        monkeypatch.setattr(app.state.services, "ai", service)
        yield
