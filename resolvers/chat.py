"""Chat sessions and messages: start, post, close, and the reads (own sessions only for customers).

Who (API.md): ADMIN and OPERATOR read and post everywhere; SALES read only (any change → FORBIDDEN);
a CUSTOMER reads and posts in its own customer's sessions, others behave as absent.

A post bumps `message_count` / `last_message_at` with `UPDATE … WHERE status = 'OPEN' RETURNING` in the
transaction that inserts the message; a close is the same conditional UPDATE. Each takes the session's row
lock until commit, so a post and a close of one session are serialised: a closed session never gains a
message, and the count always equals the number of stored messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from db import models
from db.enums import ChatSessionStatus, MessageSender, Role
from db.loaders import ListKey
from db.paging import Ordering, Page
from db.refs import entity_ref
from resolvers import audit, events, validators
from resolvers.context import RequestContext
from resolvers.customers import customer_for_new_child
from resolvers.errors import DomainError, ErrorCode, Validation
from resolvers.pagination import page_request
from resolvers.unit_of_work import unit_of_work
from resolvers.viewer import Viewer, require_role, require_viewer

TITLE_MAX = validators.TITLE_MAX
BODY_MAX = validators.BODY_MAX

# Sessions: newest first. Messages: oldest first (a conversation reads top to bottom).
SESSIONS_NEWEST_FIRST = Ordering("chat_sessions", (col(models.ChatSession.id),), descending=True)
MESSAGES_OLDEST_FIRST = Ordering("chat_messages", (col(models.ChatMessage.id),))

CHAT_WRITERS = (Role.ADMIN, Role.OPERATOR, Role.CUSTOMER)


@dataclass(frozen=True)
class SessionsOfCustomerKey(ListKey[models.ChatSession]):
    """`Customer.chatSessions`, newest first, optionally of one status."""

    parent_column = col(models.ChatSession.customer_id)
    ordering = SESSIONS_NEWEST_FIRST
    customer_id: int
    status: ChatSessionStatus | None

    def where(self) -> list[ColumnElement[bool]]:
        return [] if self.status is None else [col(models.ChatSession.status) == ChatSessionStatus(self.status).value]


@dataclass(frozen=True)
class MessagesOfSessionKey(ListKey[models.ChatMessage]):
    """`ChatSession.messages`, oldest first."""

    parent_column = col(models.ChatMessage.session_id)
    ordering = MESSAGES_OLDEST_FIRST
    session_id: int


def _visible(viewer: Viewer | None, chat: models.ChatSession | None) -> models.ChatSession | None:
    if chat is None or viewer is None or not viewer.can_see_customer(chat.customer_id):
        return None
    return chat


# --- reads -------------------------------------------------------------------------------------------


async def visible_session(ctx: RequestContext, *, session_id: int) -> models.ChatSession | None:
    """The session when the viewer may see it (staff: all; a customer: its own), else None."""
    if ctx.viewer is None:
        return None
    if ctx.viewer.is_customer and ctx.viewer.customer_id is None:
        return None
    return _visible(ctx.viewer, await ctx.loaders.by_id(models.ChatSession).load(session_id))


async def chat_session(ctx: RequestContext, *, pk: int | None) -> models.ChatSession | None:
    require_viewer(ctx.viewer)
    return None if pk is None else await visible_session(ctx, session_id=pk)


async def visible_message(ctx: RequestContext, *, message_id: int) -> models.ChatMessage | None:
    """A message is visible exactly when its session is."""
    message = await ctx.loaders.by_id(models.ChatMessage).load(message_id)
    if message is None or await visible_session(ctx, session_id=message.session_id) is None:
        return None
    return message


async def session_of(ctx: RequestContext, *, message: models.ChatMessage) -> models.ChatSession:
    """The session of a message the viewer already sees (batched by the row loader)."""
    chat = await ctx.loaders.by_id(models.ChatSession).load(message.session_id)
    assert chat is not None  # messages cascade with their session
    return chat


async def customer_of(ctx: RequestContext, *, chat: models.ChatSession) -> models.Customer:
    """The customer of a session the viewer already sees (batched by the row loader)."""
    row = await ctx.loaders.by_id(models.Customer).load(chat.customer_id)
    assert row is not None  # customer_id is a NOT NULL foreign key
    return row


async def customer_sessions(
    ctx: RequestContext,
    *,
    customer_id: int,
    status: ChatSessionStatus | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[models.ChatSession]:
    """`Customer.chatSessions`: one statement for every customer of the page, totalCount batched too."""
    key = SessionsOfCustomerKey(customer_id=customer_id, status=status)
    page = await ctx.loaders.page(key, page_request(SESSIONS_NEWEST_FIRST, first=first, after=after))
    by_id = ctx.loaders.by_id(models.ChatSession)
    for row in page.rows:  # `message.session` below this page then needs no statement
        by_id.prime(row.id, row)
    page.total = lambda: ctx.loaders.count(key)
    return page


async def session_messages(
    ctx: RequestContext,
    *,
    chat: models.ChatSession,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Page[models.ChatMessage]:
    """`ChatSession.messages`, oldest first, paged both ways; totalCount is the session's `message_count`."""
    request = page_request(MESSAGES_OLDEST_FIRST, first=first, after=after, last=last, before=before)
    assert chat.id is not None
    page = await ctx.loaders.page(MessagesOfSessionKey(session_id=chat.id), request)
    count = chat.message_count

    async def total() -> int:
        return count

    page.total = total
    return page


# --- mutations ---------------------------------------------------------------------------------------


async def start_chat_session(ctx: RequestContext, *, customer_id: int | None, title: str) -> models.ChatSession:
    viewer = require_role(ctx.viewer, *CHAT_WRITERS)
    v = Validation()
    clean_title = validators.text(v, "title", title, label="The title", maximum=TITLE_MAX)
    async with unit_of_work(ctx) as uow:
        customer = await customer_for_new_child(
            uow.session, viewer=viewer, customer_id=customer_id, errors=v, what="chat sessions"
        )
        v.raise_if_any()
        assert customer is not None and customer.id is not None and clean_title is not None
        chat = models.ChatSession(customer_id=customer.id, started_by_id=viewer.user_id, title=clean_title)
        uow.session.add(chat)
        await uow.session.flush()
        uow.audit(
            action="chat_session.started",
            entity="ChatSession",
            entity_id=chat.id,
            details={"customerId": entity_ref("Customer", customer.id), "status": chat.status},
        )
        uow.prime(models.ChatSession, chat)
        uow.children_changed(col(models.ChatSession.customer_id), chat.customer_id)
    return chat


async def _lock_open_session(
    session: AsyncSession, viewer: Viewer, pk: int, values: dict[str, Any]
) -> models.ChatSession | None:
    """UPDATE the session if it is OPEN and visible, taking its row lock until commit; the updated row or None."""
    conditions = [col(models.ChatSession.id) == pk, col(models.ChatSession.status) == ChatSessionStatus.OPEN.value]
    if not viewer.is_staff:
        conditions.append(col(models.ChatSession.customer_id) == viewer.customer_id)
    stmt = update(models.ChatSession).where(*conditions).values(**values).returning(models.ChatSession)
    result = await session.scalars(stmt, execution_options={"synchronize_session": False})
    return result.one_or_none()


async def _why_not_open(session: Any, viewer: Viewer, pk: int | None, field: str, v: Validation) -> None:
    """After a conditional UPDATE matched nothing: NOT_FOUND, or INVALID_TRANSITION (as the only error)."""
    chat = await session.get(models.ChatSession, pk, populate_existing=True) if pk is not None else None
    visible = _visible(viewer, chat)
    if visible is None:
        v.add(field, "Chat session not found.", ErrorCode.NOT_FOUND)
    elif visible.status == ChatSessionStatus.CLOSED.value:
        raise DomainError.one(ErrorCode.INVALID_TRANSITION, "The chat session is closed.", [field])
    v.raise_if_any()


async def _customer_erased(session: AsyncSession, pk: int) -> bool:
    """Whether the customer of chat session `pk` is erased, read `FOR SHARE` and locked until commit, as for every
    new child of a customer (resolvers/customers.py `customer_for_new_child`). Taken before the session's row
    lock, in the order an erasure takes them (customer, then its sessions), so the two cannot deadlock."""
    C, S = models.Customer, models.ChatSession
    owner = select(col(S.customer_id)).where(col(S.id) == pk).scalar_subquery()
    found = (
        await session.execute(select(col(C.erased_at)).where(col(C.id) == owner).with_for_update(read=True))
    ).first()
    return found is not None and found[0] is not None


async def post_chat_message(ctx: RequestContext, *, session_id: int | None, body: str) -> models.ChatMessage:
    viewer = require_role(ctx.viewer, *CHAT_WRITERS)
    v = Validation()
    clean_body = validators.text(v, "body", body, label="The message", maximum=BODY_MAX)
    pk = session_id
    async with unit_of_work(ctx) as uow:
        session = uow.session
        chat = None
        erased = False
        if pk is not None and not v.problems:
            erased = await _customer_erased(session, pk)
            chat = await _lock_open_session(
                session,
                viewer,
                pk,
                {
                    "message_count": col(models.ChatSession.message_count) + 1,
                    # clock_timestamp(), not now(): taken after the row lock, so it never goes backwards.
                    "last_message_at": func.clock_timestamp(),
                },
            )
        if chat is None:
            await _why_not_open(session, viewer, pk, "sessionId", v)
            raise DomainError.one(ErrorCode.CONFLICT, "The chat session changed meanwhile; retry.", ["sessionId"])
        if erased:  # told only to a viewer who may see the session (the update above is rolled back)
            raise DomainError.one(ErrorCode.VALIDATION, "The customer was erased; no new messages.", ["sessionId"])
        assert chat.id is not None and chat.last_message_at is not None and clean_body is not None
        message = models.ChatMessage(
            session_id=chat.id,
            sender=(MessageSender.OPERATOR if viewer.is_staff else MessageSender.CUSTOMER).value,
            author_id=viewer.user_id,
            body=clean_body,
            created_at=chat.last_message_at,
        )
        session.add(message)
        await session.flush()
        uow.audit(
            action="chat_message.posted",
            entity="ChatMessage",
            entity_id=message.id,
            details={
                "sessionId": entity_ref("ChatSession", chat.id),
                "sender": message.sender,
                "messageCount": chat.message_count,
            },
        )
        uow.prime(models.ChatSession, chat)
        uow.prime(models.ChatMessage, message)
        uow.children_changed(col(models.ChatMessage.session_id), chat.id)
        uow.children_changed(col(models.ChatSession.customer_id), chat.customer_id)  # its count and last time
        await events.chat_message_added(uow, message, customer_id=chat.customer_id)
    return message


async def close_chat_session(ctx: RequestContext, *, pk: int | None) -> models.ChatSession:
    viewer = require_role(ctx.viewer, *CHAT_WRITERS)
    v = Validation()
    async with unit_of_work(ctx) as uow:
        chat = None
        if pk is not None:
            chat = await _lock_open_session(
                uow.session,
                viewer,
                pk,
                {"status": ChatSessionStatus.CLOSED.value, "closed_at": func.clock_timestamp()},
            )
        if chat is None:
            await _why_not_open(uow.session, viewer, pk, "id", v)
            raise DomainError.one(ErrorCode.CONFLICT, "The chat session changed meanwhile; retry.", ["id"])
        assert chat.id is not None
        uow.audit(
            action="chat_session.closed",
            entity="ChatSession",
            entity_id=chat.id,
            details=audit.changes({"status": ChatSessionStatus.OPEN.value}, {"status": chat.status}, ["status"]),
        )
        uow.prime(models.ChatSession, chat)
        uow.children_changed(col(models.ChatSession.customer_id), chat.customer_id)
    return chat
