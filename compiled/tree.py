"""A validated document's operation as a tree of selections: fragments spread, equal response keys merged.

Built once per (document, operation); it does not depend on variables or the viewer. A field the compiled
path has no rule for makes the whole document unplannable (`Unplannable`), so it runs on the resolver path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)

MAX_KEYS = 50  # json_build_object takes at most 100 arguments


class Unplannable(Exception):
    """The document (or this request of it) cannot be compiled; it runs on the resolver path."""


@dataclass(eq=False)
class Sel:
    """One response key: the field it selects, its arguments' AST, and its merged sub-selection."""

    key: str
    name: str
    parent: str  # the parent type's name
    type_name: str  # the field's named type ("" for __typename)
    field_def: GraphQLField | None
    node: FieldNode | None
    children: list[Sel] = field(default_factory=list)
    bind: Callable[..., Any] | None = None  # argument rule: (args, viewer) -> Bound


@dataclass
class Tree:
    operation: OperationDefinitionNode
    roots: list[Sel]
    bindables: list[Sel]  # selections with argument rules, in depth-first order

    @property
    def is_write(self) -> bool:
        return self.operation.operation == OperationType.MUTATION


def walk(sels: list[Sel]) -> Iterator[Sel]:
    for sel in sels:
        yield sel
        yield from walk(sel.children)


def pick_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        return next((o for o in ops if o.name and o.name.value == operation_name), None)
    return ops[0] if len(ops) == 1 else None


def _included(node: Any) -> bool:
    for directive in node.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            raise Unplannable(f"directive @{name}")
        arg = next((a for a in directive.arguments if a.name.value == "if"), None)
        if arg is None or not isinstance(arg.value, BooleanValueNode):
            raise Unplannable(f"@{name} with a variable")
        if arg.value.value == (name == "skip"):
            return False
    return True


def _applies(condition: str | None, parent: GraphQLObjectType) -> bool:
    return condition is None or condition == parent.name or any(i.name == condition for i in parent.interfaces)


Rules = Callable[[str, str], Callable[..., Any] | None]  # (type, field) -> argument rule, or raise Unplannable


def build_tree(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    *,
    known: Callable[[str, str], bool],
    rule: Callable[[str, str], Any],
) -> Tree:
    op = pick_operation(document, operation_name)
    if op is None or op.operation not in (OperationType.QUERY, OperationType.MUTATION):
        raise Unplannable("not a query or mutation")
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    root = schema.query_type if op.operation == OperationType.QUERY else schema.mutation_type
    assert root is not None

    def collect(parent: GraphQLObjectType, sets: list[SelectionSetNode]) -> list[Sel]:
        groups: dict[str, list[FieldNode]] = {}

        def visit(selection_set: SelectionSetNode) -> None:
            for s in selection_set.selections:
                if not _included(s):
                    continue
                if isinstance(s, FieldNode):
                    groups.setdefault(s.alias.value if s.alias else s.name.value, []).append(s)
                elif isinstance(s, InlineFragmentNode):
                    if _applies(s.type_condition.name.value if s.type_condition else None, parent):
                        visit(s.selection_set)
                elif isinstance(s, FragmentSpreadNode):
                    frag = fragments.get(s.name.value)
                    if frag is not None and _included(frag) and _applies(frag.type_condition.name.value, parent):
                        visit(frag.selection_set)

        for selection_set in sets:
            visit(selection_set)
        if len(groups) > MAX_KEYS:
            raise Unplannable("too many keys in one selection")
        out: list[Sel] = []
        for key, nodes in groups.items():
            name = nodes[0].name.value
            if name == "__typename":
                out.append(Sel(key, name, parent.name, "", None, nodes[0]))
                continue
            if not known(parent.name, name):
                raise Unplannable(f"{parent.name}.{name}")
            field_def = parent.fields[name]
            named = get_named_type(field_def.type)
            sel = Sel(key, name, parent.name, named.name, field_def, nodes[0], bind=rule(parent.name, name))
            if isinstance(named, GraphQLObjectType):
                sel.children = collect(named, [n.selection_set for n in nodes if n.selection_set])
            out.append(sel)
        return out

    roots = collect(root, [op.selection_set])
    return Tree(op, roots, [s for s in walk(roots) if s.bind is not None])
