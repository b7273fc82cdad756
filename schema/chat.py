"""Chat sessions and messages: types, `chatSession`, start / post / close, and `Customer.chatSessions`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import models
from resolvers import chat as chat_resolvers
from resolvers import users as users_resolvers
from resolvers.context import RequestContext
from schema.base import Info, Node, UserError, to_payload
from schema.enums import ChatSessionStatus, MessageSender
from schema.ids import decode_id, to_global_id
from schema.pagination import Connection
from schema.refs import CustomerRef, customer_from_row
from schema.users import User

if TYPE_CHECKING:
    from schema.customers import Customer

PageSize = Annotated[int | None, strawberry.argument(description="Page size from the start: 0-50 (default 20).")]
After = Annotated[str | None, strawberry.argument(description="Cursor: items after this one.")]
PageSizeBack = Annotated[int | None, strawberry.argument(description="Page size from the end: 0-50.")]
Before = Annotated[str | None, strawberry.argument(description="Cursor: items before this one.")]


@strawberry.type(description="A conversation between a customer and staff.")
class ChatSession(Node):
    title: str = strawberry.field(description="What the chat is about (1-200 characters).")
    status: ChatSessionStatus = strawberry.field(description="OPEN takes new messages; CLOSED does not.")
    started_at: datetime = strawberry.field(description="When the session was started.")
    closed_at: datetime | None = strawberry.field(description="When the session was closed; null while open.")
    message_count: int = strawberry.field(description="How many messages the session holds.")
    last_message_at: datetime | None = strawberry.field(description="When the latest message was posted.")
    _row: strawberry.Private[models.ChatSession]

    @classmethod
    def from_row(cls, row: models.ChatSession) -> ChatSession:
        return cls(
            id=strawberry.ID(to_global_id("ChatSession", row.id)),
            title=row.title,
            status=ChatSessionStatus(row.status),
            started_at=row.started_at,
            closed_at=row.closed_at,
            message_count=row.message_count,
            last_message_at=row.last_message_at,
            _row=row,
        )

    @strawberry.field(description="The customer the chat belongs to.")
    async def customer(self, info: Info) -> CustomerRef:
        return customer_from_row(await chat_resolvers.customer_of(info.context, chat=self._row))

    @strawberry.field(description="Who started the chat; null when that user is not visible to the viewer.")
    async def started_by(self, info: Info) -> User | None:
        if self._row.started_by_id is None:
            return None
        row = await users_resolvers.visible_user(info.context, user_id=self._row.started_by_id)
        return User.from_row(row) if row else None

    @strawberry.field(description="The messages, oldest first; page forwards (first/after) or backwards (last/before).")
    async def messages(
        self, info: Info, first: PageSize = None, after: After = None, last: PageSizeBack = None, before: Before = None
    ) -> ChatMessageConnection:
        page = await chat_resolvers.session_messages(
            info.context, chat=self._row, first=first, after=after, last=last, before=before
        )
        return ChatMessageConnection.from_page(page, ChatMessage.from_row)


@strawberry.type(description="One message of a chat session.")
class ChatMessage(Node):
    sender: MessageSender = strawberry.field(
        description="Whether a customer, staff, the assistant or the system wrote it."
    )
    body: str = strawberry.field(description="The text (1-10,000 characters).")
    created_at: datetime = strawberry.field(description="When it was posted.")
    _row: strawberry.Private[models.ChatMessage]

    @classmethod
    def from_row(cls, row: models.ChatMessage) -> ChatMessage:
        return cls(
            id=strawberry.ID(to_global_id("ChatMessage", row.id)),
            sender=MessageSender(row.sender),
            body=row.body,
            created_at=row.created_at,
            _row=row,
        )

    @strawberry.field(description="The session the message belongs to.")
    async def session(self, info: Info) -> ChatSession:
        return ChatSession.from_row(await chat_resolvers.session_of(info.context, message=self._row))

    @strawberry.field(
        description="Who wrote it. Null for assistant/system messages, deleted users, and users the viewer may not "
        "see: a customer sees only its own user, so staff authors read as null for customers."
    )
    async def author(self, info: Info) -> User | None:
        if self._row.author_id is None:
            return None
        row = await users_resolvers.visible_user(info.context, user_id=self._row.author_id)
        return User.from_row(row) if row else None


@strawberry.type(description="A page of chat sessions.")
class ChatSessionConnection(Connection[ChatSession]):
    pass


@strawberry.type(description="A page of chat messages.")
class ChatMessageConnection(Connection[ChatMessage]):
    pass


async def customer_chat_sessions(
    root: Customer,
    info: Info,
    status: Annotated[
        ChatSessionStatus | None, strawberry.argument(description="Only sessions in this status.")
    ] = None,
    first: PageSize = None,
    after: After = None,
) -> ChatSessionConnection:
    """`Customer.chatSessions` (wired in schema/customers.py)."""
    page = await chat_resolvers.customer_sessions(
        info.context,
        customer_id=root._row.id,
        status=status,
        first=first,
        after=after,
    )
    return ChatSessionConnection.from_page(page, ChatSession.from_row)


async def load_chat_session_node(ctx: RequestContext, pk: int) -> ChatSession | None:
    row = await chat_resolvers.visible_session(ctx, session_id=pk)
    return ChatSession.from_row(row) if row else None


async def load_chat_message_node(ctx: RequestContext, pk: int) -> ChatMessage | None:
    row = await chat_resolvers.visible_message(ctx, message_id=pk)
    return ChatMessage.from_row(row) if row else None


@strawberry.input(description="Start a chat session for a customer.")
class StartChatSessionInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer (a customer may only name itself).")
    title: str = strawberry.field(description="What the chat is about: 1-200 characters after trimming.")


@strawberry.input(description="Post a message to an open chat session.")
class PostChatMessageInput:
    session_id: strawberry.ID = strawberry.field(description="The chat session.")
    body: str = strawberry.field(description="The text: 1-10,000 characters after trimming.")


@strawberry.type(description="The result of starting or closing a chat session.")
class ChatSessionPayload:
    chat_session: ChatSession | None = strawberry.field(description="The session; null when `errors` is not empty.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="The result of posting a chat message.")
class ChatMessagePayload:
    chat_message: ChatMessage | None = strawberry.field(description="The message; null when `errors` is not empty.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type
class Query:
    @strawberry.field(description="A chat session by ID; null when absent or not visible.")
    async def chat_session(self, info: Info, id: strawberry.ID) -> ChatSession | None:
        row = await chat_resolvers.chat_session(info.context, pk=decode_id(id, "ChatSession"))
        return ChatSession.from_row(row) if row else None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Start a chat session (ADMIN, OPERATOR; a customer for itself).")
    async def start_chat_session(self, info: Info, input: StartChatSessionInput) -> ChatSessionPayload:
        work = chat_resolvers.start_chat_session(
            info.context, customer_id=decode_id(input.customer_id, "Customer"), title=input.title
        )
        return await to_payload(ChatSessionPayload, "chat_session", ChatSession.from_row, work)

    @strawberry.mutation(
        description="Post a message (ADMIN, OPERATOR; a customer in its own sessions). Closed: INVALID_TRANSITION."
    )
    async def post_chat_message(self, info: Info, input: PostChatMessageInput) -> ChatMessagePayload:
        work = chat_resolvers.post_chat_message(
            info.context, session_id=decode_id(input.session_id, "ChatSession"), body=input.body
        )
        return await to_payload(ChatMessagePayload, "chat_message", ChatMessage.from_row, work)

    @strawberry.mutation(description="Close a chat session; closing a closed one is INVALID_TRANSITION.")
    async def close_chat_session(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The chat session.")]
    ) -> ChatSessionPayload:
        work = chat_resolvers.close_chat_session(info.context, pk=decode_id(id, "ChatSession"))
        return await to_payload(ChatSessionPayload, "chat_session", ChatSession.from_row, work)
