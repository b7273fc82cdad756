"""Schema extensions: the anonymous gate, error classification/masking, and operation bookkeeping.

The resolvers raise plain exceptions (resolvers/errors.py); this is where they become GraphQL errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    SubsequentIncrementalExecutionResult,
)
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types import StreamExecutionResult

from db.outage import RETRY_AFTER_SECONDS, is_unavailable
from resolvers.context import RequestContext
from resolvers.errors import CodedError, DomainError, Unauthenticated

log = logging.getLogger("customer_graph.errors")

# Root fields an anonymous caller may run (plus introspection).
ANONYMOUS_FIELDS = frozenset({"login", "signup", "verifyEmail", "me", "__typename", "__schema", "__type"})


def graphql_error(error: CodedError, *, nodes: Any = None, path: Any = None) -> GraphQLError:
    """A resolver's coded error as the top-level GraphQL error clients receive: its message and extensions."""
    return GraphQLError(error.message, nodes=nodes, path=path, extensions=dict(error.extensions))


def _root_fields(selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]) -> Iterator[str]:
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            yield sel.name.value
        elif isinstance(sel, InlineFragmentNode):
            yield from _root_fields(sel.selection_set, fragments)
        elif isinstance(sel, FragmentSpreadNode):
            frag = fragments.get(sel.name.value)
            if frag is not None:
                yield from _root_fields(frag.selection_set, fragments)


def selected_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        return next((o for o in ops if o.name and o.name.value == operation_name), None)
    return ops[0] if len(ops) == 1 else None


class AnonymousGate(SchemaExtension):
    """Anonymous callers may run only login, signup, verifyEmail, `me` and introspection."""

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        ctx: RequestContext | None = ec.context
        document = ec.graphql_document
        if document is not None:
            op = selected_operation(document, ec.operation_name)
            if op is not None and op.name is not None and ctx is not None:
                ctx.operation_name = op.name.value
            auth_error = ctx.outcome.auth_error if ctx is not None else None
            if auth_error is not None:  # a bad token is refused whatever the operation
                error = graphql_error(auth_error) if isinstance(auth_error, CodedError) else auth_error
                ec.result = GraphQLExecutionResult(data=None, errors=[error])
            elif op is not None and ctx is not None and ctx.viewer is None:
                fragments: dict[str, FragmentDefinitionNode] = {
                    d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
                }
                denied = [f for f in _root_fields(op.selection_set, fragments) if f not in ANONYMOUS_FIELDS]
                if denied:
                    ec.result = GraphQLExecutionResult(data=None, errors=[graphql_error(Unauthenticated())])
        yield


def _is_database_down(error: BaseException | None) -> bool:
    return is_unavailable(error)


class ErrorPolicy(SchemaExtension):
    """Coded errors pass through; a database outage is SERVICE_UNAVAILABLE; anything else is masked."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not getattr(result, "errors", None):
            return
        ctx: RequestContext | None = self.execution_context.context
        request_id = getattr(ctx, "request_id", "-")
        self._outage: str | None = None
        result.errors = [self._classify(e, request_id) for e in result.errors or []]
        if self._outage is not None:  # one line per request, however many fields failed
            log.warning("database unavailable", extra={"request_id": request_id, "error": self._outage})
        if ctx is not None:
            ctx.outcome.error_codes = [
                (e.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED") for e in result.errors
            ]

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        """Each result a subscription streams is classified and masked like a query's, before it is sent."""
        errors = getattr(result, "errors", None)
        if errors and not isinstance(result, SubsequentIncrementalExecutionResult):  # that one carries no errors
            request_id = getattr(self.execution_context.context, "request_id", "-")
            result.errors = [self._classify(e, request_id) for e in errors]
        yield

    def _classify(self, error: GraphQLError, request_id: str) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            return error
        if isinstance(original, CodedError):  # UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, ...: passes through
            return graphql_error(original, nodes=error.nodes, path=error.path)
        if isinstance(original, DomainError):  # a resolver forgot its payload: still an expected failure
            return GraphQLError(
                str(original), nodes=error.nodes, path=error.path, extensions={"code": "BAD_USER_INPUT"}
            )
        if _is_database_down(original):
            self._outage = self._outage or type(original).__name__
            return GraphQLError(
                "The service is temporarily unavailable; retry shortly.",
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "SERVICE_UNAVAILABLE", "retryAfter": RETRY_AFTER_SECONDS},
            )
        log.error(
            "unhandled error in resolver",
            exc_info=(type(original), original, original.__traceback__),
            extra={"request_id": request_id, "path": error.path},
        )
        return GraphQLError(
            "Internal server error.",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
