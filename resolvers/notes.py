"""Internal notes on customers: staff (ADMIN, OPERATOR, SALES) read and add them; customers never see them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col

from db import models
from db.enums import STAFF_ROLES
from db.loaders import ListKey
from db.paging import Ordering, Page
from db.refs import entity_ref
from resolvers import validators
from resolvers.context import RequestContext
from resolvers.customers import customer_for_new_child
from resolvers.errors import Validation
from resolvers.pagination import page_request
from resolvers.unit_of_work import unit_of_work
from resolvers.viewer import require_role, require_staff

BODY_MAX = validators.BODY_MAX

NOTES_NEWEST_FIRST = Ordering("notes", (col(models.Note.id),), descending=True)


@dataclass(frozen=True)
class NotesOfCustomerKey(ListKey[models.Note]):
    """`Customer.notes`: every note of the customer, newest first."""

    parent_column = col(models.Note.customer_id)
    ordering = NOTES_NEWEST_FIRST
    customer_id: int


async def customer_notes(
    ctx: RequestContext, *, customer_id: int, first: int | None = None, after: str | None = None
) -> Page[models.Note]:
    """`Customer.notes`: staff only (a customer viewer gets FORBIDDEN); one statement for every customer."""
    require_staff(ctx.viewer)
    key = NotesOfCustomerKey(customer_id=customer_id)
    page = await ctx.loaders.page(key, page_request(NOTES_NEWEST_FIRST, first=first, after=after))
    page.total = lambda: ctx.loaders.count(key)
    return page


async def visible_note(ctx: RequestContext, *, note_id: int) -> models.Note | None:
    """Staff see every note; for anyone else a note does not exist."""
    if ctx.viewer is None or not ctx.viewer.is_staff:
        return None
    return await ctx.loaders.by_id(models.Note).load(note_id)


async def customer_of(ctx: RequestContext, *, note: models.Note) -> models.Customer:
    """The customer a note the viewer already sees is about (batched by the row loader)."""
    row = await ctx.loaders.by_id(models.Customer).load(note.customer_id)
    assert row is not None  # customer_id is a NOT NULL foreign key
    return row


async def add_customer_note(ctx: RequestContext, *, customer_id: int | None, body: str) -> models.Note:
    viewer = require_role(ctx.viewer, *STAFF_ROLES)
    v = Validation()
    clean_body = validators.text(v, "body", body, label="The note", maximum=BODY_MAX)
    async with unit_of_work(ctx) as uow:
        customer = await customer_for_new_child(
            uow.session, viewer=viewer, customer_id=customer_id, errors=v, what="notes"
        )
        v.raise_if_any()
        assert customer is not None and customer.id is not None and clean_body is not None
        note = models.Note(customer_id=customer.id, author_id=viewer.user_id, body=clean_body)
        uow.session.add(note)
        await uow.session.flush()
        uow.audit(
            action="note.added",
            entity="Note",
            entity_id=note.id,
            # The body is personal free text: the trail keeps where and how long, not what.
            details={"customerId": entity_ref("Customer", customer.id), "length": len(clean_body)},
        )
        uow.prime(models.Note, note)
        uow.children_changed(col(models.Note.customer_id), customer.id)
    return note
