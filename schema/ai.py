"""AI features: `summarizeChatSession` and `suggestRequestReply` (staff only), answered as `AiTextPayload`."""

from __future__ import annotations

from collections.abc import Awaitable

import strawberry

from resolvers import ai as ai_resolvers
from resolvers.errors import DomainError
from schema.base import Info, UserError, user_errors
from schema.ids import decode_id


@strawberry.type(description="Text written by the AI service, or why there is none.")
class AiTextPayload:
    text: str | None = strawberry.field(description="The text; null when `errors` is not empty.")
    model: str | None = strawberry.field(description="The model that wrote it; null when `errors` is not empty.")
    errors: list[UserError] = strawberry.field(
        description="Why it failed: AI_NOT_CONFIGURED, AI_AUTH_FAILED, AI_UNAVAILABLE (with `retryAfter`), NOT_FOUND."
    )


async def _payload(work: Awaitable[ai_resolvers.AiText]) -> AiTextPayload:
    try:
        result = await work
    except DomainError as error:
        return AiTextPayload(text=None, model=None, errors=user_errors(error))
    return AiTextPayload(text=result.text, model=result.model, errors=[])


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Summarise a chat session with the AI service (staff). Personal data is masked before it is sent."
    )
    async def summarize_chat_session(self, info: Info, session_id: strawberry.ID) -> AiTextPayload:
        return await _payload(
            ai_resolvers.summarize_chat_session(info.context, session_id=decode_id(session_id, "ChatSession"))
        )

    @strawberry.mutation(
        description="Draft a reply to a support request with the AI service (staff), from the request and the "
        "customer's recent requests. Personal data is masked before it is sent."
    )
    async def suggest_request_reply(self, info: Info, request_id: strawberry.ID) -> AiTextPayload:
        return await _payload(
            ai_resolvers.suggest_request_reply(info.context, request_id=decode_id(request_id, "Request"))
        )
