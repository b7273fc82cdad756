"""The GraphQL-over-HTTP rules, in front of strawberry's view.

- Media types: `application/graphql-response+json` when the client's Accept names it, with the spec's status
  codes (400 for a request error — parse, validation, limits, variables that do not coerce, an unknown
  persisted query — and 503 when the database is down); otherwise `application/json` with 200 for every
  well-formed request, as Apollo Client expects.
- A request error answers without a `data` key (execution never started).
- Transport refusals, the same for both media types, as a JSON `errors` body with a code: a body that is not
  a JSON object (null, a number, an array — batching is off —, invalid JSON or invalid UTF-8) 400, a GET
  mutation 405 with `Allow: POST`, a body over its limit 413 (refused from `Content-Length`, or while
  streaming, before it is all read: `BodyLimit`), a content type other than JSON or multipart 415.
- One request may run for at most `LIMITS_EXECUTION_TIMEOUT_SECONDS`; then it is cancelled and answers
  `QUERY_TOO_COMPLEX` (limit `executionTime`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from resolvers.context import RequestContext

log = logging.getLogger("customer_graph.http")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
MAX_JSON_NESTING = 64


class TransportError(Exception):
    """A refusal before GraphQL runs: status, code, message and extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def wants_graphql_response(accept: str | None) -> bool:
    """True when the client accepts `application/graphql-response+json` (and does not refuse it with q=0)."""
    if not accept:
        return False
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        if media.strip().lower() == GRAPHQL_RESPONSE_JSON:
            q = params.replace(" ", "").lower()
            return "q=0" not in q or "q=0." in q
    return False


def error_response(error: TransportError, accept: str | None) -> Response:
    body = json.dumps({"errors": [{"message": error.message, "extensions": {"code": error.code}}]})
    media = GRAPHQL_RESPONSE_JSON if wants_graphql_response(accept) else JSON
    return Response(body, status_code=error.status, media_type=media, headers=error.headers)


def _nesting_depth(value: Any, limit: int) -> int:
    """How deep a decoded JSON value nests (iteratively, stopping past `limit`)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        if isinstance(current, dict):
            stack.extend((v, depth + 1) for v in current.values() if isinstance(v, (dict, list)))
        elif isinstance(current, list):
            stack.extend((v, depth + 1) for v in current if isinstance(v, (dict, list)))
    return deepest


def decode_body(data: str | bytes) -> dict[str, Any]:
    """The JSON object of a GraphQL request, or a 400 TransportError saying what is wrong."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise TransportError(400, "BAD_REQUEST", "The request body is not valid UTF-8.")
    if not text.strip():
        raise TransportError(400, "BAD_REQUEST", "The request body is empty; send a JSON object with `query`.")
    try:
        value = json.loads(text)
    except RecursionError:
        raise TransportError(400, "BAD_REQUEST", f"The JSON body nests more than {MAX_JSON_NESTING} levels deep.")
    except ValueError:
        raise TransportError(400, "BAD_REQUEST", "The request body is not valid JSON.")
    if isinstance(value, list):
        raise TransportError(400, "BAD_REQUEST", "Batched requests are not supported; send one JSON object.")
    if not isinstance(value, dict):
        raise TransportError(400, "BAD_REQUEST", "The request body must be a JSON object with `query`.")
    if _nesting_depth(value, MAX_JSON_NESTING) > MAX_JSON_NESTING:
        raise TransportError(400, "BAD_REQUEST", f"The JSON body nests more than {MAX_JSON_NESTING} levels deep.")
    return value


def check_parameters(data: Mapping[str, Any]) -> None:
    name = data.get("operationName")
    if name is not None and not isinstance(name, str):
        raise TransportError(400, "BAD_REQUEST", "`operationName` must be a string or null.")
    query = data.get("query")
    if query is not None and not isinstance(query, str):
        raise TransportError(400, "BAD_REQUEST", "`query` must be a string or null.")


def request_data(data: Mapping[str, Any]) -> GraphQLRequestData:
    """The parameters of one GraphQL request (a JSON object), each of the type the spec allows, else 400."""
    check_parameters(data)
    for name in ("variables", "extensions"):
        value = data.get(name)
        if value is not None and not isinstance(value, dict):
            raise TransportError(400, "BAD_REQUEST", f"`{name}` must be an object or null.")
    return GraphQLRequestData(
        query=data.get("query"),
        variables=data.get("variables"),
        operation_name=data.get("operationName"),
        extensions=data.get("extensions"),
    )


def response_status(response: GraphQLHTTPResponse, *, request_error: bool) -> int:
    """The status of a GraphQL response under `application/graphql-response+json`."""
    errors = response.get("errors") or []
    codes = {(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)}
    if response.get("data") is None and "SERVICE_UNAVAILABLE" in codes:
        return 503
    if request_error:
        return 400
    return 200


if TYPE_CHECKING:  # the mixin's `super()` is strawberry's view: let mypy see it (at run time it is the MRO's)
    from strawberry.asgi import GraphQL

    _View = GraphQL[RequestContext, None]
else:
    _View = object


class GraphQLHTTPRules(_View):
    """Mixed into the strawberry ASGI view (server/context.py: GraphQLApp) before `strawberry.asgi.GraphQL`."""

    state: Any

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        hot = getattr(self.state, "hot_path", None) if scope["method"] == "POST" else None
        if hot is not None:  # a compiled document seen before: answered without strawberry (server/hot_path.py)
            answer = await hot.serve(request.headers, request.body, scope.setdefault("state", {}))
            if answer is not None:
                await Response(answer.body, media_type=answer.media_type)(scope, receive, send)
                return
        accept = request.headers.get("accept")
        try:
            response = await self.run(request)
        except TransportError as error:
            response = error_response(error, accept)
        except HTTPException as error:
            code = CODES.get(error.status_code, "BAD_REQUEST")
            response = error_response(TransportError(error.status_code, code, str(error.reason)), accept)
        else:
            status = getattr(request.state, "graphql_status", None)
            if status is not None:
                response.status_code = status
                response.headers["content-type"] = GRAPHQL_RESPONSE_JSON
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        return decode_body(data)

    def parse_json(self, data: str | bytes) -> Any:
        return decode_body(data)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST":
            media = (request.content_type or "").split(";")[0].strip().lower()
            multipart = media == "multipart/form-data" and getattr(self, "multipart_uploads_enabled", False)
            if media != JSON and not media.endswith("+json") and not multipart:
                raise TransportError(
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "Send `Content-Type: application/json` (or multipart/form-data for uploads).",
                )
            if not multipart:
                return request_data(decode_body(await request.get_body()))
        elif request.method == "GET":
            check_parameters(request.query_params)
        return await super().parse_http_body(request)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: RequestContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        timeout = self.state.settings.limits.execution_timeout_seconds
        persisted = getattr(self.state, "persisted_queries", None)
        if persisted is not None and isinstance(request_data, GraphQLRequestData):
            resolved = await persisted.resolve(request_data, context)
            if isinstance(resolved, ExecutionResult):
                return resolved
            request_data = resolved
        try:
            async with asyncio.timeout(timeout):
                return await super().execute_single(
                    request=request,
                    request_adapter=request_adapter,
                    sub_response=sub_response,
                    context=context,
                    root_value=root_value,
                    request_data=request_data,
                )
        except HTTPException as error:
            if isinstance(error.__cause__, InvalidOperationTypeError) and request_adapter.method == "GET":
                raise TransportError(
                    405, "METHOD_NOT_ALLOWED", "Only queries can be sent with GET; use POST.", {"Allow": "POST"}
                )
            raise
        except TimeoutError:
            log.info("request timed out", extra={"timeout_seconds": timeout})
            stopped = GraphQLError(
                f"The request took longer than {timeout:g} seconds and was stopped.",
                extensions={"code": "QUERY_TOO_COMPLEX", "limit": "executionTime", "max": timeout},
            )
            return ExecutionResult(data=None, errors=[stopped])

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = process_result(result)
        ctx: RequestContext | None = getattr(request.state, "graphql_context", None)
        request_error = ctx is not None and ctx.outcome.request_error
        if request_error and response.get("data") is None:
            response.pop("data", None)
        if wants_graphql_response(request.headers.get("accept")):
            request.state.graphql_status = response_status(response, request_error=request_error)
        return response


class BodyLimit:
    """Refuses a request body over its limit with 413: at once from `Content-Length`, else while it streams.

    The limit is `LIMITS_MAX_BODY_BYTES`; a multipart upload may carry `STORAGE_MAX_FILE_BYTES` more."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers") or []}
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        limit = self.max_body_bytes
        if content_type.startswith("multipart/form-data"):
            limit += self.max_upload_bytes
        accept = headers.get(b"accept", b"").decode("latin-1")
        too_large = TransportError(
            413, "PAYLOAD_TOO_LARGE", f"The request body is larger than the limit of {limit} bytes."
        )
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await error_response(too_large, accept)(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except TransportError as error:
            if error is not too_large or started:
                raise
            await error_response(too_large, accept)(scope, receive, send)
