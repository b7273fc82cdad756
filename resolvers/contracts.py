"""Contracts, read side: which contracts a viewer sees, and their signed, expiring download URLs.

Uploads, deletion and the `/files/{token}` route come with the uploads issue; the route checks a token
with `verify_download_token` below, so signing and checking live in one place.

A download token is `<contract id>.<expiry, unix seconds>.<signature>`: the signature is an HMAC-SHA256
over the first two parts, keyed by a key derived from the server's signing secret for this one purpose
(so a download token can never pass as anything else). The token itself is the permission: whoever
holds it may download that one contract until it expires (API.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import TYPE_CHECKING

from sqlmodel import col

from db import models
from db.paging import Ordering, Page
from resolvers.context import RequestContext
from resolvers.pagination import page_request

if TYPE_CHECKING:
    from server.settings import Settings

CONTRACTS_NEWEST_FIRST = Ordering("contracts", (col(models.Contract.id),), descending=True)
_PURPOSE = b"customer-graph/contract-download/v1"


async def customer_contracts(
    ctx: RequestContext, *, customer_id: int, first: int | None = None, after: str | None = None
) -> Page[models.Contract]:
    """`Customer.contracts`, newest first: one statement for every customer of the page."""
    request = page_request(CONTRACTS_NEWEST_FIRST, first=first, after=after)
    parent = col(models.Contract.customer_id)
    page: Page[models.Contract] = await ctx.loaders.child_page(
        name="customer.contracts",
        model=models.Contract,
        parent_column=parent,
        ordering=CONTRACTS_NEWEST_FIRST,
        request=request,
    ).load(customer_id)
    counter = ctx.loaders.child_count(name="customer.contracts", parent_column=parent)
    page.total = lambda: counter.load(customer_id)
    return page


async def visible_contract(ctx: RequestContext, *, contract_id: int) -> models.Contract | None:
    """Staff see every contract; a customer sees its own customer's."""
    contract = await ctx.loaders.by_id(models.Contract).load(contract_id)
    if contract is None or ctx.viewer is None or not ctx.viewer.can_see_customer(contract.customer_id):
        return None
    return contract  # type: ignore[no-any-return]


def _signing_key(settings: Settings) -> bytes:
    auth = settings.auth
    material = auth.jwt_secret if auth.jwt_algorithm == "HS256" else (auth.jwt_private_key or auth.jwt_secret)
    return hmac.new(material.encode(), _PURPOSE, hashlib.sha256).digest()


def _signature(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_download_token(settings: Settings, *, contract_id: int, expires_at: int) -> str:
    message = f"{contract_id}.{expires_at}"
    return f"{message}.{_signature(_signing_key(settings), message)}"


def verify_download_token(settings: Settings, token: str, *, now: float | None = None) -> int | None:
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
    """An absolute `/files/{token}` URL on this server, valid for `STORAGE_URL_TTL_SECONDS`."""
    settings = ctx.settings
    expires_at = int(time.time()) + settings.storage.url_ttl_seconds
    token = sign_download_token(settings, contract_id=contract.id, expires_at=expires_at)  # type: ignore[arg-type]
    return f"{settings.app.public_url.rstrip('/')}/files/{token}"
