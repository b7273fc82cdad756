"""Uploaded contracts, read side: the `Contract` type and `Customer.contracts`. (Uploads, deletion and the
`/files/{token}` download route come with the uploads issue.)"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import models
from resolvers import contracts as contracts_resolvers
from resolvers import users as users_resolvers
from resolvers.ids import to_global_id
from schema.base import Info, Node
from schema.node import register_node
from schema.pagination import Connection
from schema.users import User

if TYPE_CHECKING:
    from schema.customers import Customer


@strawberry.type(description="A contract document stored for a customer.")
class Contract(Node):
    title: str | None = strawberry.field(description="A title given at upload.")
    filename: str = strawberry.field(description="The file's name as uploaded (display only; never a storage path).")
    content_type: str = strawberry.field(description="Media type decided from the file's bytes.")
    size: int = strawberry.field(description="Size in bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the content, hex.")
    created_at: datetime = strawberry.field(description="When it was uploaded.")
    _row: strawberry.Private[models.Contract]

    @classmethod
    def from_row(cls, row: models.Contract) -> Contract:
        return cls(
            id=strawberry.ID(to_global_id("Contract", row.id)),  # type: ignore[arg-type]
            title=row.title,
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            sha256=row.sha256,
            created_at=row.created_at,
            _row=row,
        )

    @strawberry.field(description="The customer the contract belongs to.")
    async def customer(self, info: Info) -> Annotated[Customer, strawberry.lazy("schema.customers")]:
        from schema.customers import Customer

        row = await info.context.loaders.by_id(models.Customer).load(self._row.customer_id)
        return Customer.from_row(row)

    @strawberry.field(description="Who uploaded it; null when that user is gone or not visible to the viewer.")
    async def uploaded_by(self, info: Info) -> User | None:
        if self._row.uploaded_by_id is None:
            return None
        row = await users_resolvers.visible_user(info.context, user_id=self._row.uploaded_by_id)
        return User.from_row(row) if row else None

    @strawberry.field(
        description="A signed URL that downloads the file without a bearer token; it expires after "
        "STORAGE_URL_TTL_SECONDS (default 15 minutes). Ask again for a fresh one."
    )
    def download_url(self, info: Info) -> str:
        return contracts_resolvers.download_url(info.context, contract=self._row)


@strawberry.type(description="A page of contracts.")
class ContractConnection(Connection[Contract]):
    pass


async def customer_contracts(
    root: Customer,
    info: Info,
    first: Annotated[int | None, strawberry.argument(description="Page size: 0-50 (default 20).")] = None,
    after: Annotated[str | None, strawberry.argument(description="Cursor: items after this one.")] = None,
) -> ContractConnection:
    """`Customer.contracts`, newest first (wired in schema/customers.py)."""
    page = await contracts_resolvers.customer_contracts(
        info.context,
        customer_id=root._row.id,  # type: ignore[arg-type]
        first=first,
        after=after,
    )
    return ContractConnection.from_page(page, Contract.from_row)  # type: ignore[no-any-return]


@register_node("Contract")
async def load_contract_node(ctx, pk: int) -> Contract | None:  # type: ignore[no-untyped-def]
    row = await contracts_resolvers.visible_contract(ctx, contract_id=pk)
    return Contract.from_row(row) if row else None
