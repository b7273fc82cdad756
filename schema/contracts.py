"""Uploaded contracts: the `Contract` type, `Customer.contracts`, and the `uploadContract` / `deleteContract`
mutations (the GraphQL multipart request spec; the download route is server/files.py)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.file_uploads import Upload

from db import models
from resolvers import contracts as contracts_resolvers
from resolvers import users as users_resolvers
from resolvers.context import RequestContext
from schema.base import Info, Node, UserError, to_payload
from schema.ids import decode_id, to_global_id
from schema.pagination import Connection
from schema.refs import CustomerRef, customer_from_row
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
            id=strawberry.ID(to_global_id("Contract", row.id)),
            title=row.title,
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            sha256=row.sha256,
            created_at=row.created_at,
            _row=row,
        )

    @strawberry.field(description="The customer the contract belongs to.")
    async def customer(self, info: Info) -> CustomerRef:
        return customer_from_row(await contracts_resolvers.customer_of(info.context, contract=self._row))

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
        customer_id=root._row.id,
        first=first,
        after=after,
    )
    return ContractConnection.from_page(page, Contract.from_row)


async def load_contract_node(ctx: RequestContext, pk: int) -> Contract | None:
    row = await contracts_resolvers.visible_contract(ctx, contract_id=pk)
    return Contract.from_row(row) if row else None


@strawberry.input(description="A contract file for a customer.")
class UploadContractInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer the contract belongs to.")
    file: Upload = strawberry.field(
        description="The file, sent as a multipart request (GraphQL multipart request spec): PDF, PNG, JPEG or WebP, "
        "decided from its bytes; at most STORAGE_MAX_FILE_BYTES (default 10 MB)."
    )
    title: str | None = strawberry.field(default=None, description="A title (up to 200 characters).")


@strawberry.type(description="The result of a contract mutation.")
class ContractPayload:
    contract: Contract | None = strawberry.field(description="The contract; null on errors.")
    errors: list[UserError] = strawberry.field(description="Why it did not happen; empty on success.")


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Upload a contract file for a customer (ADMIN, SALES). Multipart requests need an "
        "`Apollo-Require-Preflight`, `GraphQL-Preflight` or `X-Requested-With` header."
    )
    async def upload_contract(self, info: Info, input: UploadContractInput) -> ContractPayload:
        work = contracts_resolvers.upload_contract(
            info.context, customer_id=decode_id(input.customer_id, "Customer"), upload=input.file, title=input.title
        )
        return await to_payload(ContractPayload, "contract", Contract.from_row, work)

    @strawberry.mutation(description="Delete a contract and its stored file (ADMIN, SALES).")
    async def delete_contract(self, info: Info, id: strawberry.ID) -> ContractPayload:
        work = contracts_resolvers.delete_contract(info.context, pk=decode_id(id, "Contract"))
        return await to_payload(ContractPayload, "contract", Contract.from_row, work)
