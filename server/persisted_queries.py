"""Persisted documents on the HTTP path: Apollo's automatic persisted queries (APQ) and trusted documents.

- APQ: a request may carry `extensions.persistedQuery.sha256Hash` (SHA-256 hex of the document's UTF-8 text)
  instead of `query`. Unknown hash → `PERSISTED_QUERY_NOT_FOUND` (the client then sends query and hash
  together, and the document is stored in PostgreSQL, so every server process knows it from then on). A hash
  that does not match the query sent with it is `BAD_USER_INPUT`.
- Trusted documents (`LIMITS_TRUSTED_DOCUMENTS=true`): only documents registered with
  `customer-graph register-documents DIR` run — by hash, or by sending the identical text; anything else is
  `PERSISTED_QUERY_NOT_FOUND`, and APQ stores nothing.
- A registered document's operation name becomes its metrics label; every other request is labelled `other`.

Found documents are cached in-process for a minute (bounded), so a hot hash costs no query.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import time
from collections import OrderedDict

from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from db.outage import RETRY_AFTER_SECONDS, is_unavailable
from db.persisted import StoredDocument, find_document, store_document
from resolvers.context import RequestContext

log = logging.getLogger("customer_graph.persisted")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
CACHE_SIZE = 2000
CACHE_SECONDS = 60.0
NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"


def document_hash(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PersistedQueries:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, trusted_only: bool) -> None:
        self.sessionmaker = sessionmaker
        self.trusted_only = trusted_only
        self._cache: OrderedDict[str, tuple[float, StoredDocument]] = OrderedDict()

    async def _lookup(self, sha256: str) -> StoredDocument | None:
        hit = self._cache.get(sha256)
        now = time.monotonic()
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            self._cache.move_to_end(sha256)
            return hit[1]
        async with self.sessionmaker() as session:
            found = await find_document(session, sha256=sha256)
        if found is not None:
            self._cache[sha256] = (now, found)
            self._cache.move_to_end(sha256)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return found

    async def _store(self, sha256: str, query: str) -> None:
        async with self.sessionmaker() as session, session.begin():
            await store_document(session, sha256=sha256, query=query)

    async def _resolve(self, data: GraphQLRequestData, ctx: RequestContext | None) -> GraphQLRequestData:
        extension = (data.extensions or {}).get("persistedQuery")
        sha: str | None = None
        if extension is not None:
            given = extension.get("sha256Hash") if isinstance(extension, dict) else None
            if not isinstance(given, str) or not SHA256_HEX.match(given.lower()):
                raise Refused("BAD_USER_INPUT", "`extensions.persistedQuery.sha256Hash` must be a SHA-256 hex digest.")
            sha = given.lower()
        if sha is None:
            if not self.trusted_only or data.query is None:
                return data
            sha = document_hash(data.query)
        elif data.query is not None and document_hash(data.query) != sha:
            raise Refused("BAD_USER_INPUT", "provided sha does not match query")
        document = await self._lookup(sha)
        if document is not None and (document.trusted or not self.trusted_only):
            if document.trusted and document.operation_name and ctx is not None:
                ctx.outcome.known_operation = document.operation_name
            return dataclasses.replace(data, query=document.query)
        if self.trusted_only:
            raise Refused(NOT_FOUND, "This server runs registered documents only; this one is not registered.")
        if data.query is None:
            raise Refused(NOT_FOUND, "PersistedQueryNotFound")
        await self._store(sha, data.query)
        return data

    async def resolve(
        self, data: GraphQLRequestData, ctx: RequestContext | None
    ) -> GraphQLRequestData | ExecutionResult:
        """The request with its document filled in, or the error result to answer instead."""
        try:
            return await self._resolve(data, ctx)
        except Refused as refused:
            if ctx is not None:
                ctx.outcome.request_error = True
                ctx.outcome.error_codes = [refused.code]
            error = GraphQLError(refused.message, extensions={"code": refused.code})
            return ExecutionResult(data=None, errors=[error])
        except Exception as error:
            if not is_unavailable(error):
                raise
            log.warning("database unavailable", extra={"error": type(error).__name__})
            if ctx is not None:
                ctx.outcome.error_codes = ["SERVICE_UNAVAILABLE"]
            unavailable = GraphQLError(
                "The service is temporarily unavailable; retry shortly.",
                extensions={"code": "SERVICE_UNAVAILABLE", "retryAfter": RETRY_AFTER_SECONDS},
            )
            return ExecutionResult(data=None, errors=[unavailable])
