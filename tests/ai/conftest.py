from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.ai.provider import ChatCompletionsServer, running_server, service_for


@pytest.fixture(scope="session")
def provider_server() -> Iterator[ChatCompletionsServer]:
    yield from running_server()


@pytest.fixture
def provider(provider_server: ChatCompletionsServer) -> ChatCompletionsServer:
    provider_server.reset()
    return provider_server


@pytest.fixture
async def ai(app: Any, provider: ChatCompletionsServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """The app's AI service: the real OpenAI client pointed at the local server. `await ai(**settings)` rebuilds it."""
    opened: list[Any] = []

    async def configure(**overrides: Any) -> Any:
        context = service_for(provider, **overrides)
        service = await context.__aenter__()
        opened.append(context)
        monkeypatch.setattr(app.state.services, "ai", service)
        return service

    await configure()
    yield configure
    for context in opened:
        await context.__aexit__(None, None, None)
