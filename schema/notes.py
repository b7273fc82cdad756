"""Internal notes on customers: the `Note` type, `addCustomerNote` and `Customer.notes` (staff only)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import models
from resolvers import notes as notes_resolvers
from resolvers import users as users_resolvers
from resolvers.context import RequestContext
from schema.base import Info, Node, UserError, to_payload
from schema.ids import decode_id, to_global_id
from schema.pagination import Connection
from schema.refs import CustomerRef, customer_from_row
from schema.users import User

if TYPE_CHECKING:
    from schema.customers import Customer


@strawberry.type(description="An internal note on a customer, visible to staff only.")
class Note(Node):
    body: str = strawberry.field(description="The note (1-10,000 characters).")
    created_at: datetime = strawberry.field(description="When it was added.")
    _row: strawberry.Private[models.Note]

    @classmethod
    def from_row(cls, row: models.Note) -> Note:
        return cls(
            id=strawberry.ID(to_global_id("Note", row.id)),
            body=row.body,
            created_at=row.created_at,
            _row=row,
        )

    @strawberry.field(description="The customer the note is about.")
    async def customer(self, info: Info) -> CustomerRef:
        return customer_from_row(await notes_resolvers.customer_of(info.context, note=self._row))

    @strawberry.field(description="The staff user who wrote it; null once that user is deleted.")
    async def author(self, info: Info) -> User | None:
        if self._row.author_id is None:
            return None
        row = await users_resolvers.visible_user(info.context, user_id=self._row.author_id)
        return User.from_row(row) if row else None


@strawberry.type(description="A page of notes.")
class NoteConnection(Connection[Note]):
    pass


async def customer_notes(
    root: Customer,
    info: Info,
    first: Annotated[int | None, strawberry.argument(description="Page size: 0-50 (default 20).")] = None,
    after: Annotated[str | None, strawberry.argument(description="Cursor: items after this one.")] = None,
) -> NoteConnection | None:
    """`Customer.notes` (wired in schema/customers.py): FORBIDDEN, and so null, for customer viewers."""
    page = await notes_resolvers.customer_notes(
        info.context,
        customer_id=root._row.id,
        first=first,
        after=after,
    )
    return NoteConnection.from_page(page, Note.from_row)


async def load_note_node(ctx: RequestContext, pk: int) -> Note | None:
    row = await notes_resolvers.visible_note(ctx, note_id=pk)
    return Note.from_row(row) if row else None


@strawberry.input(description="Add an internal note to a customer.")
class AddCustomerNoteInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    body: str = strawberry.field(description="The note: 1-10,000 characters after trimming.")


@strawberry.type(description="The result of adding a note.")
class NotePayload:
    note: Note | None = strawberry.field(description="The note; null when `errors` is not empty.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Add an internal note to a customer (staff: ADMIN, OPERATOR, SALES).")
    async def add_customer_note(self, info: Info, input: AddCustomerNoteInput) -> NotePayload:
        work = notes_resolvers.add_customer_note(
            info.context, customer_id=decode_id(input.customer_id, "Customer"), body=input.body
        )
        return await to_payload(NotePayload, "note", Note.from_row, work)
