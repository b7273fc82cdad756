"""Multipart requests (file uploads): the CSRF rule and the streaming size limit, before any GraphQL runs.

- CSRF: a browser can send a multipart form to any site without a preflight, so a multipart request is accepted
  only with a non-empty `Apollo-Require-Preflight`, `GraphQL-Preflight` or `X-Requested-With` header (which forces
  a CORS preflight). Without one: 400, the body is never read, nothing is executed - bearer token or not.
- Size: the body may be at most `STORAGE_MAX_FILE_BYTES + LIMITS_MAX_BODY_BYTES` (the file plus room for the
  `operations` and `map` parts), enforced by `BodyLimit` (server/http_rules.py), which counts every request body:
  a declared Content-Length over that is refused at once; otherwise the bytes are counted as they stream in and
  the request is cut off with 413 the moment the count passes the limit. Nothing is held beyond that: the parser
  spools at most the limit, and uvicorn discards the rest of an oversized body while keeping the connection, so
  the client reads its 413 instead of a reset. Here: a Content-Length that is not a number is a 400.
- A file within that body limit but over the file limit is checked by the mutation (`FILE_TOO_LARGE`).

JSON bodies are not touched here.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

PREFLIGHT_HEADERS = (b"apollo-require-preflight", b"graphql-preflight", b"x-requested-with")


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def is_multipart(headers: dict[bytes, bytes]) -> bool:
    return headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower() == b"multipart/form-data"


def passes_csrf_rule(headers: dict[bytes, bytes]) -> bool:
    return any(headers.get(name, b"").strip() for name in PREFLIGHT_HEADERS)


class MultipartGuard:
    """The CSRF rule and a well-formed Content-Length for multipart requests. The size limit is `BodyLimit`'s
    (server/http_rules.py), which runs before this and allows a multipart body the file limit more."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope.get("headers") or []:
            headers[name.lower()] = value
        if not is_multipart(headers):
            await self.app(scope, receive, send)
            return
        if not passes_csrf_rule(headers):
            await _refuse(
                send,
                400,
                "BAD_REQUEST",
                "Multipart requests need a non-empty Apollo-Require-Preflight, GraphQL-Preflight or "
                "X-Requested-With header.",
            )
            return
        declared = headers.get(b"content-length")
        if declared is not None and not declared.strip().isdigit():
            await _refuse(send, 400, "BAD_REQUEST", "Invalid Content-Length.")
            return
        await self.app(scope, receive, send)
