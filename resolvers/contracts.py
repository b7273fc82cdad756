"""Contracts: which contracts a viewer sees, uploads and deletion, and signed, expiring download URLs.

An upload is checked while it is read (size, SHA-256, type from the bytes), stored under a generated key, and only
then is the row inserted: the object first, then the row. If the insert fails the object is deleted again, so a row
never points at nothing and an object never outlives a failed upload. Deletion removes the object inside the
row's transaction: if storage is down the row stays (STORAGE_UNAVAILABLE) and nothing is half-deleted.

A download token is `<contract id>.<expiry, unix seconds>.<signature>`: the signature is an HMAC-SHA256
over the first two parts, keyed by a key derived from the server's signing secret for this one purpose
(so a download token can never pass as anything else). The token itself is the permission: whoever
holds it may download that one contract until it expires (API.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import col

from db import models
from db.enums import Role
from db.loaders import ListKey
from db.paging import Ordering, Page
from db.refs import entity_ref
from integrations.storage import ObjectMissing, Storage, StorageUnavailable, new_key
from resolvers import files, validators
from resolvers.context import RequestContext
from resolvers.customers import customer_for_new_child
from resolvers.errors import DomainError, ErrorCode, Validation, not_found
from resolvers.pagination import page_request
from resolvers.settings import ResolverSettings
from resolvers.unit_of_work import unit_of_work
from resolvers.viewer import require_role

log = logging.getLogger("customer_graph.contracts")
EDITORS = (Role.ADMIN, Role.SALES)
CONTRACTS_NEWEST_FIRST = Ordering("contracts", (col(models.Contract.id),), descending=True)
_PURPOSE = b"customer-graph/contract-download/v1"


@dataclass(frozen=True)
class ContractsOfCustomerKey(ListKey[models.Contract]):
    """`Customer.contracts`: every contract of the customer, newest first."""

    parent_column = col(models.Contract.customer_id)
    ordering = CONTRACTS_NEWEST_FIRST
    customer_id: int


async def customer_contracts(
    ctx: RequestContext, *, customer_id: int, first: int | None = None, after: str | None = None
) -> Page[models.Contract]:
    """`Customer.contracts`, newest first: one statement for every customer of the page."""
    key = ContractsOfCustomerKey(customer_id=customer_id)
    page = await ctx.loaders.page(key, page_request(CONTRACTS_NEWEST_FIRST, first=first, after=after))
    page.total = lambda: ctx.loaders.count(key)
    return page


async def visible_contract(ctx: RequestContext, *, contract_id: int) -> models.Contract | None:
    """Staff see every contract; a customer sees its own customer's."""
    contract = await ctx.loaders.by_id(models.Contract).load(contract_id)
    if contract is None or ctx.viewer is None or not ctx.viewer.can_see_customer(contract.customer_id):
        return None
    return contract


async def customer_of(ctx: RequestContext, *, contract: models.Contract) -> models.Customer:
    """The customer of a contract the viewer already sees (batched by the row loader)."""
    row = await ctx.loaders.by_id(models.Customer).load(contract.customer_id)
    assert row is not None  # customer_id is a NOT NULL foreign key
    return row


def _signing_key(settings: ResolverSettings) -> bytes:
    auth = settings.auth
    material = auth.jwt_secret if auth.jwt_algorithm == "HS256" else (auth.jwt_private_key or auth.jwt_secret)
    return hmac.new(material.encode(), _PURPOSE, hashlib.sha256).digest()


def _signature(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_download_token(settings: ResolverSettings, *, contract_id: int, expires_at: int) -> str:
    message = f"{contract_id}.{expires_at}"
    return f"{message}.{_signature(_signing_key(settings), message)}"


def verify_download_token(settings: ResolverSettings, token: str, *, now: float | None = None) -> int | None:
    """The contract id a token grants, or None when it is malformed, forged or expired."""
    parts = token.split(".") if isinstance(token, str) and len(token) <= 200 else []
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    message = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _signature(_signing_key(settings), message)):
        return None
    if int(parts[1]) < (time.time() if now is None else now):
        return None
    return int(parts[0])


def download_url(ctx: RequestContext, *, contract: models.Contract) -> str:
    """A V4 signed GCS URL when the store can sign, else an absolute `/files/{token}` URL on this server;
    either is valid for `STORAGE_URL_TTL_SECONDS`."""
    settings = ctx.settings
    store: Storage | None = ctx.services.storage
    if store is not None:
        signed = store.signed_url(
            contract.storage_key,
            filename=contract.filename,
            content_type=contract.content_type,
            expires_in=settings.storage.url_ttl_seconds,
        )
        if signed:
            return signed
    expires_at = int(time.time()) + settings.storage.url_ttl_seconds
    token = sign_download_token(settings, contract_id=contract.id, expires_at=expires_at)
    return f"{settings.app.public_url.rstrip('/')}/files/{token}"


# --- uploads and deletion -----------------------------------------------------------------------


def storage_unavailable(ctx: RequestContext, field: str = "file") -> DomainError:
    return DomainError.one(
        ErrorCode.STORAGE_UNAVAILABLE,
        "File storage is unavailable; retry shortly.",
        [field],
        retry_after=ctx.settings.storage.retry_after_seconds,
    )


@dataclass(frozen=True)
class Inspected:
    size: int
    sha256: str
    content_type: str


async def inspect_upload(upload: Any, *, max_bytes: int) -> Inspected:
    """Read the upload once: size, SHA-256 and the type from its first bytes. Stops reading past `max_bytes`."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    await upload.seek(0)
    while chunk := await upload.read(256 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise DomainError.one(ErrorCode.FILE_TOO_LARGE, f"The file is larger than {max_bytes} bytes.", ["file"])
        if len(head) < files.SNIFF_BYTES:
            head += chunk[: files.SNIFF_BYTES - len(head)]
        digest.update(chunk)
    content_type = files.sniff(head)
    if size == 0 or content_type is None:
        raise DomainError.one(
            ErrorCode.UNSUPPORTED_FILE_TYPE, "Only PDF, PNG, JPEG and WebP files are accepted.", ["file"]
        )
    await upload.seek(0)
    return Inspected(size=size, sha256=digest.hexdigest(), content_type=content_type)


async def discard_object(store: Storage, key: str) -> None:
    """Best effort: remove an object whose row never came to be (or was rolled back)."""
    try:
        await store.delete(key)
    except Exception as error:  # the object is unreferenced either way; say so without personal data
        log.warning("could not remove an unreferenced stored object", extra={"key": key, "error": type(error).__name__})


async def upload_contract(
    ctx: RequestContext, *, customer_id: int | None, upload: Any, title: str | None
) -> models.Contract:
    """Store the file, then insert its row and audit record in one transaction."""
    viewer = require_role(ctx.viewer, *EDITORS)
    store: Storage = ctx.services.storage
    v = Validation()
    clean_title = validators.optional_text(v, "title", title, label="The title", maximum=validators.TITLE_MAX)
    if upload is None or not hasattr(upload, "read"):
        v.add("file", "A file is required.")
    async with ctx.sessionmaker() as session:
        await customer_for_new_child(session, viewer=viewer, customer_id=customer_id, errors=v, what="contracts")
    v.raise_if_any()
    facts = await inspect_upload(upload, max_bytes=ctx.settings.storage.max_file_bytes)
    filename = files.display_name(getattr(upload, "filename", None), facts.content_type)
    key = new_key()
    try:
        await store.put(key, upload.file, size=facts.size, content_type=facts.content_type)
    except StorageUnavailable:
        await discard_object(store, key)  # a time-out may still have stored it
        raise storage_unavailable(ctx)
    try:
        async with unit_of_work(ctx) as uow:
            locked = select(models.Customer).where(col(models.Customer.id) == customer_id).with_for_update(read=True)
            customer = (await uow.session.scalars(locked)).first()
            if customer is None or customer.erased_at is not None:  # erased meanwhile
                raise DomainError.one(
                    ErrorCode.VALIDATION, "The customer was erased; no new contracts.", ["customerId"]
                )
            row = models.Contract(
                customer_id=customer.id,
                title=clean_title,
                filename=filename,
                content_type=facts.content_type,
                size=facts.size,
                sha256=facts.sha256,
                storage_key=key,
                uploaded_by_id=viewer.user_id,
            )
            uow.session.add(row)
            await uow.session.flush()
            uow.audit(
                action="contract.uploaded",
                entity="Contract",
                entity_id=row.id,
                # never the file, its name or its title: those can be personal
                details={
                    "customerId": entity_ref("Customer", customer.id),
                    "contentType": facts.content_type,
                    "size": facts.size,
                    "sha256": facts.sha256,
                },
            )
            uow.prime(models.Contract, row)
            uow.children_changed(col(models.Contract.customer_id), row.customer_id)
    except BaseException:
        await discard_object(store, key)
        raise
    return row


async def delete_contract(ctx: RequestContext, *, pk: int | None) -> models.Contract:
    """Remove the row and its object together; returns the contract as it was."""
    viewer = require_role(ctx.viewer, *EDITORS)
    store: Storage = ctx.services.storage
    async with unit_of_work(ctx) as uow:
        row = None
        if pk is not None:
            locked = select(models.Contract).where(col(models.Contract.id) == pk).with_for_update()
            row = (await uow.session.scalars(locked)).first()
        if row is None or not viewer.can_see_customer(row.customer_id):
            raise not_found("Contract", ["id"])
        await uow.session.execute(delete(models.Contract).where(col(models.Contract.id) == row.id))
        uow.audit(
            action="contract.deleted",
            entity="Contract",
            entity_id=row.id,
            details={"customerId": entity_ref("Customer", row.customer_id), "sha256": row.sha256},
        )
        await uow.session.flush()
        try:
            await store.delete(row.storage_key)  # inside the transaction: storage down rolls the row back
        except StorageUnavailable:
            raise storage_unavailable(ctx, "id")
        uow.forget(models.Contract, row.id)
        uow.children_changed(col(models.Contract.customer_id), row.customer_id)
    return row


# --- downloads (the /files/{token} route) --------------------------------------------------------


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str
    size: int
    chunks: AsyncIterator[bytes]


class DownloadRefused(Exception):
    """403: the token is malformed, forged or expired."""


class DownloadGone(Exception):
    """404: the contract (or its object) no longer exists."""


async def open_download(settings: ResolverSettings, sessionmaker: Any, store: Storage, token: str) -> Download:
    """What `/files/{token}` streams: the token is the permission (no bearer token needed)."""
    contract_id = verify_download_token(settings, token)
    if contract_id is None:
        raise DownloadRefused()
    async with sessionmaker() as session:
        row = await session.get(models.Contract, contract_id)
    if row is None:
        raise DownloadGone()
    chunks = store.stream(row.storage_key)
    try:
        first = await chunks.__anext__()
    except ObjectMissing:
        raise DownloadGone()
    except StopAsyncIteration:
        first = b""

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return Download(filename=row.filename, content_type=row.content_type, size=row.size, chunks=body())
