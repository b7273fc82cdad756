"""AI features for staff: summarise a chat session, suggest a reply to a support request (integrations/ai).

Staff only (ADMIN, OPERATOR, SALES); a CUSTOMER gets a top-level FORBIDDEN. An object the viewer cannot see is
NOT_FOUND. No service configured is AI_NOT_CONFIGURED; the provider's failures are AI_AUTH_FAILED or
AI_UNAVAILABLE (with `retryAfter`), never its raw text. The texts are read in one short session, the provider is
called outside any transaction, and each call is audited afterwards in its own unit of work (`ai.summarized` /
`ai.suggested`: who, which object, model, token usage, outcome) — never the prompt or the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from db import models
from db.enums import AuditStatus, MessageSender
from integrations.ai import AIAuthFailed, AIService, AIUnavailable, Completion, Line
from resolvers.chat import visible_session
from resolvers.context import RequestContext
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.requests import visible_request
from resolvers.unit_of_work import unit_of_work
from resolvers.viewer import require_staff

MAX_MESSAGES = 200  # newest messages read for a summary (the service trims further to its character budget)
MAX_HISTORY = 10  # the customer's other requests read for a suggested reply, newest first

SPEAKERS = {
    MessageSender.CUSTOMER.value: "Customer",
    MessageSender.OPERATOR.value: "Operator",
    MessageSender.ASSISTANT.value: "Assistant",
    MessageSender.SYSTEM.value: "System",
}


@dataclass(frozen=True)
class AiText:
    text: str
    model: str


def _service(ctx: RequestContext) -> AIService:
    service: AIService | None = ctx.services.ai
    if service is None:
        raise DomainError.one(ErrorCode.AI_NOT_CONFIGURED, "AI features are not configured on this server.")
    return service


async def _names(session: Any, customer_id: int, user_ids: set[int]) -> list[str | None]:
    """Names to mask: the customer's, its accounts', and those of the users named in the texts."""
    customer = await session.get(models.Customer, customer_id)
    names: list[str | None] = [customer.first_name, customer.last_name] if customer else []
    u = models.User
    stmt = select(col(u.first_name), col(u.last_name)).where(
        (col(u.customer_id) == customer_id) | col(u.id).in_(user_ids or {0})
    )
    for first, last in (await session.execute(stmt)).all():
        names += [first, last]
    return names


async def _call(
    ctx: RequestContext, *, action: str, entity: str, entity_id: int, service: AIService, call: Any
) -> AiText:
    """Run the provider call, audit its outcome, and turn a failure into the payload's error."""
    problem: DomainError | None = None
    completion: Completion | None = None
    try:
        completion = await call
    except AIAuthFailed as error:
        problem = DomainError.one(ErrorCode.AI_AUTH_FAILED, str(error))
    except AIUnavailable as error:
        problem = DomainError.one(ErrorCode.AI_UNAVAILABLE, str(error), retry_after=error.retry_after)
    async with unit_of_work(ctx) as uow:
        details: dict[str, Any] = {"model": completion.model if completion else service.model}
        if completion is not None:
            details["usage"] = completion.usage()
        else:
            assert problem is not None
            details["error"] = problem.problems[0].code.value
        uow.audit(
            action=action,
            entity=entity,
            entity_id=entity_id,
            details=details,
            status=AuditStatus.SUCCESS if completion is not None else AuditStatus.FAILURE,
        )
    if problem is not None:
        raise problem
    assert completion is not None
    return AiText(text=completion.text, model=completion.model)


async def summarize_chat_session(ctx: RequestContext, *, session_id: int | None) -> AiText:
    require_staff(ctx.viewer)
    pk = session_id
    chat = await visible_session(ctx, session_id=pk) if pk is not None else None
    if chat is None:
        raise not_found("Chat session", ["sessionId"])
    service = _service(ctx)
    m = models.ChatMessage
    stmt = select(m).where(col(m.session_id) == chat.id).order_by(col(m.id).desc()).limit(MAX_MESSAGES)
    async with ctx.sessionmaker() as session:
        rows = list(reversed((await session.scalars(stmt)).all()))
        authors = {r.author_id for r in rows if r.author_id is not None}
        names = await _names(session, chat.customer_id, authors)
    lines = [Line(SPEAKERS.get(r.sender, "Someone"), r.body) for r in rows]
    assert chat.id is not None
    return await _call(
        ctx,
        action="ai.summarized",
        entity="ChatSession",
        entity_id=chat.id,
        service=service,
        call=service.summarize(title=chat.title, messages=lines, names=names),
    )


def _request_line(row: models.SupportRequest) -> Line:
    text = row.body
    if row.resolution_comment:
        text += f" (resolution: {row.resolution_comment})"
    return Line(f"Request, {row.status}", text)


async def suggest_request_reply(ctx: RequestContext, *, request_id: int | None) -> AiText:
    require_staff(ctx.viewer)
    pk = request_id
    request = await visible_request(ctx, pk=pk) if pk is not None else None
    if request is None:
        raise not_found("Request", ["requestId"])
    service = _service(ctx)
    r = models.SupportRequest
    stmt = (
        select(r)
        .where(col(r.customer_id) == request.customer_id, col(r.id) != request.id, col(r.archived_at).is_(None))
        .order_by(col(r.id).desc())
        .limit(MAX_HISTORY)
    )
    async with ctx.sessionmaker() as session:
        history = list(reversed((await session.scalars(stmt)).all()))
        handlers = {row.processed_by_id for row in [request, *history] if row.processed_by_id is not None}
        names = await _names(session, request.customer_id, handlers)
    assert request.id is not None
    return await _call(
        ctx,
        action="ai.suggested",
        entity="Request",
        entity_id=request.id,
        service=service,
        call=service.suggest_reply(
            request=_request_line(request), history=[_request_line(row) for row in history], names=names
        ),
    )
