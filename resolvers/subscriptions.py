"""Live events, the subscribing side: what each subscription delivers to its viewer.

A subscriber re-reads the row of every event through the same authorization as a query (`visible_request`,
`visible_message`, …) with a FRESH loader bundle, so it never sees a row its viewer may not see, nor a cached,
stale one. The event's own row is read from the database once per event and process (`Event.shared`) and
primed into each subscriber's fresh bundle: the authorization is still each viewer's own, and nested fields
load through that subscriber's bundle. Payloads (resolvers/events.py) carry ids only; the customer id in them
lets a subscriber skip events of other customers without a query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from db import models
from db.events import Event, SubscriberTooSlow
from db.loaders import Loaders
from resolvers.chat import visible_message, visible_session
from resolvers.context import RequestContext
from resolvers.customers import get_customer
from resolvers.errors import BadUserInput, Forbidden, ServiceUnavailable
from resolvers.events import CHAT_MESSAGE_ADDED, CUSTOMER_CREATED, REQUEST_UPDATED
from resolvers.requests import visible_request
from resolvers.viewer import require_staff, require_viewer

# --- subscribing ---------------------------------------------------------------------------------


def _fresh(ctx: RequestContext) -> None:
    """Every event is read anew: rows cached for an earlier event would be stale."""
    ctx.loaders = Loaders(ctx.sessionmaker)


async def _events(ctx: RequestContext, channel: str) -> AsyncIterator[Event]:
    """The channel's payloads for as long as the subscription lasts."""
    hub = ctx.services.events
    if hub is None:  # the app's lifespan starts it before any websocket is served
        raise RuntimeError("the event hub is not running")
    async with hub.subscribe(channel) as stream:
        try:
            async for event in stream:
                yield event
        except SubscriberTooSlow:
            raise ServiceUnavailable("Too many events were waiting for this subscription; subscribe again.")


async def _row(ctx: RequestContext, event: Event, model: Any, pk: int) -> None:
    """Puts the event's row into the subscriber's fresh loaders, read once per event for the whole process."""

    async def read() -> Any:
        async with ctx.sessionmaker() as session:
            return await session.get(model, pk)

    row = await event.shared((model.__name__, pk), read)
    if row is not None:
        ctx.loaders.prime(model, row)


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def request_updates(ctx: RequestContext, *, customer_id: int | None) -> AsyncIterator[models.SupportRequest]:
    """Requests created or changed, of one customer or (staff) all; a CUSTOMER only ever its own.
    `customer_id` None: no filter; an id no visible customer has is an error."""
    viewer = require_viewer(ctx.viewer)
    only: int | None = None
    if customer_id is not None:
        customer = await get_customer(ctx, pk=customer_id)
        if customer is None:  # absent and not visible read alike
            raise BadUserInput("No customer with this ID.")
        only = customer.id
    elif not viewer.is_staff:
        if viewer.customer_id is None:
            raise Forbidden()
        only = viewer.customer_id
    async for event in _events(ctx, REQUEST_UPDATED):
        pk, owner = _as_int(event.get("id")), _as_int(event.get("customer_id"))
        if pk is None or (only is not None and owner != only):
            continue
        _fresh(ctx)
        await _row(ctx, event, models.SupportRequest, pk)
        row = await visible_request(ctx, pk=pk)
        if row is not None and (only is None or row.customer_id == only):
            yield row


async def chat_messages(ctx: RequestContext, *, session_id: int | None) -> AsyncIterator[models.ChatMessage]:
    """Messages posted to one chat session the viewer may see; any other session (or None) is an error."""
    require_viewer(ctx.viewer)
    pk = session_id
    if pk is None or await visible_session(ctx, session_id=pk) is None:
        raise BadUserInput("No chat session with this ID.")
    async for event in _events(ctx, CHAT_MESSAGE_ADDED):
        message_pk = _as_int(event.get("id"))
        if message_pk is None or _as_int(event.get("session_id")) != pk:
            continue
        _fresh(ctx)
        await _row(ctx, event, models.ChatMessage, message_pk)
        await _row(ctx, event, models.ChatSession, pk)
        message = await visible_message(ctx, message_id=message_pk)
        if message is not None and message.session_id == pk:
            yield message


async def customers_created(ctx: RequestContext) -> AsyncIterator[models.Customer]:
    """New customers, for staff."""
    require_staff(ctx.viewer)
    async for event in _events(ctx, CUSTOMER_CREATED):
        pk = _as_int(event.get("id"))
        if pk is None:
            continue
        _fresh(ctx)
        await _row(ctx, event, models.Customer, pk)
        row = await ctx.loaders.by_id(models.Customer).load(pk)
        if row is not None:
            yield row
