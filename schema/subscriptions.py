"""Live events over graphql-transport-ws: `requestUpdated`, `chatMessageAdded`, `customerCreated`.

Each event is re-read for the subscribing viewer (resolvers/subscriptions.py): a viewer receives exactly what a query
would show it at that moment.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from resolvers import subscriptions
from schema.base import Info
from schema.chat import ChatMessage
from schema.customers import Customer
from schema.ids import decode_id, filter_id
from schema.requests import Request


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="A request was created, assigned, changed status or archived. Staff: of every customer, or of "
        "`customerId` only; a CUSTOMER: its own customer's requests only (another customer's ID is an error)."
    )
    async def request_updated(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this customer's requests.")
        ] = None,
    ) -> AsyncGenerator[Request, None]:
        async for row in subscriptions.request_updates(info.context, customer_id=filter_id(customer_id, "Customer")):
            yield Request.from_row(row)

    @strawberry.subscription(
        description="A message was posted to this chat session. A session the viewer may not see is an error."
    )
    async def chat_message_added(
        self, info: Info, session_id: Annotated[strawberry.ID, strawberry.argument(description="The chat session.")]
    ) -> AsyncGenerator[ChatMessage, None]:
        async for row in subscriptions.chat_messages(info.context, session_id=decode_id(session_id, "ChatSession")):
            yield ChatMessage.from_row(row)

    @strawberry.subscription(description="A customer record was created (by staff or by a signup). Staff only.")
    async def customer_created(self, info: Info) -> AsyncGenerator[Customer, None]:
        async for row in subscriptions.customers_created(info.context):
            yield Customer.from_row(row)
