"""No NUL character reaches PostgreSQL (it refuses U+0000 in text and JSON).

A field extension on every root field (only root fields, so ordinary fields pay nothing) looks through the
field's arguments — strings, lists, input objects and JSON values, keys included — before the resolver runs:

- in a mutation's `input`: the payload comes back with a `VALIDATION` UserError whose `field` is the path
  inside the input (`["firstName"]`, `["details", "note"]`), the object null;
- anywhere else (a filter, an id, a token): a top-level `BAD_USER_INPUT` error naming the argument.

Cursors are decoded below (db/paging.py refuses a NUL inside one as an invalid cursor).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from strawberry.extensions.field_extension import FieldExtension
from strawberry.types.base import StrawberryObjectDefinition, get_object_definition
from strawberry.utils.str_converters import to_camel_case

from resolvers.errors import BadUserInput
from schema.base import UserError
from schema.enums import ErrorCode

NUL = "\x00"
MAX_SCAN_DEPTH = 64


def _python_to_graphql(value: Any, name: str) -> str:
    definition = get_object_definition(type(value))
    if definition is not None:
        for f in definition.fields:
            if f.python_name == name:
                return f.graphql_name or to_camel_case(name)
    return to_camel_case(name)


def nul_path(value: Any, path: tuple[str, ...] = (), depth: int = 0) -> tuple[str, ...] | None:
    """The path to the first string holding U+0000 inside `value`, or None."""
    if depth > MAX_SCAN_DEPTH:
        return None
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and NUL in key:
                return (*path, key.replace(NUL, ""))
            found = nul_path(item, (*path, str(key)), depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = nul_path(item, (*path, str(index)), depth + 1)
            if found is not None:
                return found
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            found = nul_path(getattr(value, f.name, None), (*path, _python_to_graphql(value, f.name)), depth + 1)
            if found is not None:
                return found
    return None


def _arguments(kwargs: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, value in kwargs.items():
        if name in ("info",):
            continue
        yield name, value


class RejectNul(FieldExtension):
    """Refuses arguments that contain U+0000 (see the module's doc)."""

    def __init__(self, *, payload: type | None = None) -> None:
        self.payload = payload

    def _refusal(self, kwargs: dict[str, Any]) -> Any:
        for name, value in _arguments(kwargs):
            path = nul_path(value)
            if path is None:
                continue
            if name == "input" and self.payload is not None:
                return self._payload_with_error(list(path))
            argument = to_camel_case(name)
            raise BadUserInput(
                f"`{argument}` must not contain the NUL character (U+0000).",
                argumentName=argument,
                path=[argument, *path],
            )
        return None

    def _payload_with_error(self, field: list[str]) -> Any:
        assert self.payload is not None
        definition: StrawberryObjectDefinition = get_object_definition(self.payload, strict=True)
        values: dict[str, Any] = {f.python_name: None for f in definition.fields if f.python_name != "errors"}
        error = UserError(
            code=ErrorCode.VALIDATION,
            message="Text must not contain the NUL character (U+0000).",
            field=field,
        )
        return self.payload(**values, errors=[error])

    def resolve(self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any) -> Any:
        refusal = self._refusal(kwargs)
        if refusal is not None:
            return refusal
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any, **kwargs: Any) -> Any:
        refusal = self._refusal(kwargs)
        if refusal is not None:
            return refusal
        return await next_(source, info, **kwargs)


def guard_root_fields(root: Any) -> None:
    """Add RejectNul to every field of a merged root type that takes arguments."""
    if root is None:
        return
    definition = get_object_definition(root, strict=True)
    for field in definition.fields:
        if not field.arguments or any(isinstance(e, RejectNul) for e in field.extensions):
            continue
        payload = field.type if isinstance(field.type, type) and _has_errors_field(field.type) else None
        field.extensions.append(RejectNul(payload=payload))


def _has_errors_field(cls: type) -> bool:
    definition = get_object_definition(cls)
    return definition is not None and any(f.python_name == "errors" for f in definition.fields)
