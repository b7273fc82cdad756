"""Query limits, checked before execution: tokens, depth, aliases, directives and cost.

Everything is counted on the selected operation *after fragments are spread*: a fragment spread three times
counts three times (its aliases, directives and cost), and its depth counts from where it is spread. Each
fragment is measured once and its figures reused (so a "fragment bomb" of doubling spreads costs linear
time to measure, not exponential), and a fragment cycle stops the walk (validation reports the cycle).

- depth: the root field is 1; inline fragments and spreads add nothing. Introspection fields (`__schema`,
  `__type`) do not count: graphql-core's MaxIntrospectionDepthRule bounds them instead.
- cost: every field costs 1, and a connection field (its type's name ends with `Connection`) multiplies the objects
  it selects — not their scalar fields, which come in the same rows — by its page size (`first`/`last`, literal
  or variable, else the default page size; capped at the largest page size, since a bigger one is refused as
  BAD_USER_INPUT anyway). Nested pages multiply.
- tokens: the parser stops at `max_tokens` lexical tokens (and as many comments).

Over a limit → one top-level `QUERY_TOO_COMPLEX` error naming the limit, the figure and the maximum, and
execution never starts. The extension also runs validation itself, so that field suggestions ("Did you
mean …?") are hidden when introspection is off, and labels the errors of each phase with the code Apollo
clients expect: GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT (variables that do not
coerce). Such "request errors" mark the context so the HTTP layer answers without a `data` key.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.validation import MaxIntrospectionDepthRule, specified_rules, validate
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from resolvers.context import RequestContext
from schema.extensions import selected_operation

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
MAX_VALIDATION_ERRORS = 50
VALID_DOCUMENT_CACHE_SIZE = 512
_VALID_DOCUMENTS: OrderedDict[tuple[Any, ...], bool] = OrderedDict()


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_directives: int = 50
    max_cost: int = 10000
    default_page_size: int = 20
    max_page_size: int = 50
    introspection: bool = True

    @classmethod
    def from_settings(cls, limits: Any) -> Limits:
        return cls(
            max_depth=limits.max_depth,
            max_aliases=limits.max_aliases,
            max_tokens=limits.max_tokens,
            max_directives=getattr(limits, "max_directives", 50),
            max_cost=limits.max_cost,
            default_page_size=limits.default_page_size,
            max_page_size=limits.max_page_size,
            introspection=limits.introspection,
        )


@dataclass
class Figures:
    """What one selection set weighs, after spreading its fragments."""

    depth: int = 0
    aliases: int = 0
    directives: int = 0
    cost: int = 0  # objects, multiplied by the page sizes above them
    leaves: int = 0  # scalar fields after spreading, not multiplied

    def add(self, other: Figures, *, depth_offset: int = 0, multiplier: int = 1) -> None:
        self.depth = max(self.depth, other.depth + depth_offset)
        self.aliases += other.aliases
        self.directives += other.directives
        self.cost += other.cost * multiplier
        self.leaves += other.leaves

    @property
    def total_cost(self) -> int:
        return self.cost + self.leaves


@dataclass
class _Measure:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    limits: Limits
    memo: dict[str, Figures] = field(default_factory=dict)
    in_progress: set[str] = field(default_factory=set)

    def page_size(self, node: FieldNode) -> int:
        size: object = None
        for arg in node.arguments or ():
            if arg.name.value in ("first", "last"):
                value = arg.value
                if isinstance(value, IntValueNode):
                    size = int(value.value)
                elif isinstance(value, VariableNode):
                    size = self.variables.get(value.name.value)
                if isinstance(size, int) and not isinstance(size, bool):
                    break
        if not isinstance(size, int) or isinstance(size, bool):
            size = self.limits.default_page_size
        return max(0, min(size, self.limits.max_page_size))

    def fragment(self, name: str) -> Figures:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.in_progress:  # unknown or cyclic: validation reports it
            return Figures()
        self.in_progress.add(name)
        try:
            parent = self.schema.get_type(definition.type_condition.name.value)
            figures = self.selection_set(definition.selection_set, parent)
            figures.directives += len(definition.directives or ())
        finally:
            self.in_progress.discard(name)
        self.memo[name] = figures
        return figures

    def selection_set(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None) -> Figures:
        total = Figures()
        for selection in selection_set.selections:
            total.directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                total.add(self.field(selection, parent))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total.add(self.selection_set(selection.selection_set, inner))
            elif isinstance(selection, FragmentSpreadNode):
                total.add(self.fragment(selection.name.value))
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Figures:
        name = node.name.value
        # An object costs 1 per object a connection can return (its page size multiplies); a scalar costs 1 once, not
        # per row: it comes in its object's row, yet a document spreading scalars a million times still costs that.
        leaf = node.selection_set is None
        figures = Figures(depth=1, aliases=1 if node.alias is not None else 0, cost=0 if leaf else 1, leaves=int(leaf))
        if name in INTROSPECTION_ROOTS or name == "__typename":
            figures.depth = 0 if name in INTROSPECTION_ROOTS else 1
            if node.selection_set is not None:
                inner = _Measure(self.schema, self.fragments, self.variables, self.limits)
                sub = inner.introspection(node.selection_set)
                figures.aliases += sub.aliases
                figures.directives += sub.directives
            return figures
        child_type: GraphQLNamedType | None = None
        fields = getattr(parent, "fields", None)
        definition = fields.get(name) if isinstance(fields, dict) else None
        if definition is not None:
            child_type = get_named_type(definition.type)
        if node.selection_set is not None:
            multiplier = 1
            if child_type is not None and child_type.name.endswith("Connection"):
                multiplier = self.page_size(node)
            figures.add(self.selection_set(node.selection_set, child_type), depth_offset=1, multiplier=multiplier)
        return figures

    def introspection(self, selection_set: SelectionSetNode) -> Figures:
        """Aliases and directives inside introspection (its depth is bounded by its own rule)."""
        total = Figures()
        stack: list[SelectionSetNode] = [selection_set]
        while stack:
            current = stack.pop()
            for selection in current.selections:
                total.directives += len(selection.directives or ())
                if isinstance(selection, FieldNode):
                    total.aliases += 1 if selection.alias is not None else 0
                    if selection.selection_set is not None:
                        stack.append(selection.selection_set)
                elif isinstance(selection, InlineFragmentNode):
                    stack.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    total.add(self.fragment(selection.name.value))
        return total


def measure(
    schema: GraphQLSchema,
    document: Any,
    operation: OperationDefinitionNode,
    *,
    variables: dict[str, Any] | None,
    limits: Limits,
) -> Figures:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }.get(operation.operation)
    walker = _Measure(schema, fragments, variables or {}, limits)
    figures = walker.selection_set(operation.selection_set, root)
    figures.directives += len(operation.directives or ())
    return figures


def too_complex(limit: str, actual: int, maximum: int, message: str) -> GraphQLError:
    return GraphQLError(
        message, extensions={"code": QUERY_TOO_COMPLEX, "limit": limit, "actual": actual, "max": maximum}
    )


def over_limit(figures: Figures, limits: Limits) -> GraphQLError | None:
    checks = (
        ("depth", figures.depth, limits.max_depth, "Query depth {a} exceeds the limit of {m}."),
        ("aliases", figures.aliases, limits.max_aliases, "The query uses {a} aliases; the limit is {m}."),
        ("directives", figures.directives, limits.max_directives, "The query uses {a} directives; the limit is {m}."),
        ("cost", figures.total_cost, limits.max_cost, "Query cost {a} exceeds the limit of {m}."),
    )
    for name, actual, maximum, template in checks:
        if actual > maximum:
            return too_complex(name, actual, maximum, template.format(a=actual, m=maximum))
    return None


def _set_code(error: GraphQLError, code: str, *, hide_suggestions: bool) -> None:
    extensions = dict(error.extensions or {})
    extensions.setdefault("code", code)
    error.extensions = extensions
    if hide_suggestions and "Did you mean" in error.message:
        error.message = SUGGESTION.sub("", error.message)


class QueryLimits(SchemaExtension):
    """Limits before execution, validation without suggestions when introspection is off, request-error codes."""

    def __init__(self, *, limits: Limits) -> None:
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        # strawberry's ParseOptions lists only `max_tokens`; graphql-core's `parse` takes these as well
        options = cast(dict[str, object], ec.parse_options)
        options["max_lexical_tokens"] = self.limits.max_tokens
        options["max_comments"] = self.limits.max_tokens
        options.pop("max_tokens", None)
        yield
        result = ec.result
        errors = getattr(result, "errors", None) if result is not None else None
        if not errors or getattr(result, "data", None) is not None:
            return
        # Errors with no path while no data came back: variables that did not coerce (execution never started).
        for error in errors:
            original = error.original_error
            if error.path is None and (original is None or isinstance(original, GraphQLError)):
                if (error.extensions or {}).get("code"):
                    continue
                _set_code(error, "BAD_USER_INPUT", hide_suggestions=not self.limits.introspection)
                self._mark_request_error()

    def on_parse(self) -> Iterator[None]:
        yield
        ec = self.execution_context
        for error in ec.pre_execution_errors or ():
            if "tokens. Parsing aborted" in error.message or "comments. Parsing aborted" in error.message:
                error.message = f"The document has more than {self.limits.max_tokens} tokens (the limit)."
                error.extensions = {
                    "code": QUERY_TOO_COMPLEX,
                    "limit": "tokens",
                    "actual": self.limits.max_tokens + 1,
                    "max": self.limits.max_tokens,
                }
            elif "nested too deeply" in error.message:
                _set_code(error, QUERY_TOO_COMPLEX, hide_suggestions=False)
                error.extensions = {**(error.extensions or {}), "limit": "depth", "max": self.limits.max_depth}
            elif isinstance(error, GraphQLSyntaxError) or error.original_error is None:
                _set_code(error, "GRAPHQL_PARSE_FAILED", hide_suggestions=False)
            self._mark_request_error()

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        document = ec.graphql_document
        if document is not None and ec.pre_execution_errors is None:
            ec.pre_execution_errors = self._check(document)
        yield
        for error in ec.pre_execution_errors or ():
            if isinstance(error, ValidationAbortedError) and "Too many" in error.message:
                error.message = f"The document has more than {MAX_VALIDATION_ERRORS} validation errors."
                error.extensions = {
                    "code": QUERY_TOO_COMPLEX,
                    "limit": "validationErrors",
                    "actual": MAX_VALIDATION_ERRORS + 1,
                    "max": MAX_VALIDATION_ERRORS,
                }
            elif isinstance(error, ValidationAbortedError):
                error.message = "The document is too complex to validate."
                error.extensions = {"code": QUERY_TOO_COMPLEX, "limit": "validation"}
            elif error.message == "Maximum introspection depth exceeded":
                error.extensions = {"code": QUERY_TOO_COMPLEX, "limit": "introspectionDepth"}
            else:
                _set_code(error, "GRAPHQL_VALIDATION_FAILED", hide_suggestions=not self.limits.introspection)
            self._mark_request_error()

    def get_results(self) -> dict[str, Any]:
        ctx: RequestContext | None = self.execution_context.context
        cost = ctx.outcome.query_cost if ctx is not None else None
        viewer = getattr(ctx, "viewer", None)
        if cost is not None and viewer is not None and viewer.is_admin:
            return {"cost": cost}
        return {}

    def _mark_request_error(self) -> None:
        ctx = self.execution_context.context
        if isinstance(ctx, RequestContext):
            ctx.outcome.request_error = True

    def _check(self, document: Any) -> list[GraphQLError]:
        ec = self.execution_context
        schema = ec.schema._schema
        operation = selected_operation(document, ec.operation_name)
        if operation is not None:
            figures = measure(schema, document, operation, variables=ec.variables, limits=self.limits)
            ctx = ec.context
            if isinstance(ctx, RequestContext):
                ctx.outcome.query_cost = figures.total_cost
            error = over_limit(figures, self.limits)
            if error is not None:
                return [error]
        rules = tuple(
            dict.fromkeys(
                (
                    *(ec.validation_rules or specified_rules),
                    MaxIntrospectionDepthRule,
                    MaybeNullValidationRule,
                    OneOfInputValidationRule,
                )
            )
        )
        # Valid documents are remembered (bounded, by schema, rules and text): clients send the same few documents
        # over and over, and validation is ~5 % of a request. Invalid ones are validated afresh every time.
        key = (id(schema), rules, not self.limits.introspection, ec.query)
        if ec.query is not None and key in _VALID_DOCUMENTS:
            _VALID_DOCUMENTS.move_to_end(key)
            return []
        errors = validate(
            schema,
            document,
            rules,
            max_errors=MAX_VALIDATION_ERRORS,
            hide_suggestions=not self.limits.introspection,
        )
        if not errors and ec.query is not None:
            _VALID_DOCUMENTS[key] = True
            if len(_VALID_DOCUMENTS) > VALID_DOCUMENT_CACHE_SIZE:
                _VALID_DOCUMENTS.popitem(last=False)
        aborted: list[GraphQLError] = [e for e in errors if isinstance(e, ValidationAbortedError)]
        return aborted[:1] or errors
