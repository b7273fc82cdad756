"""SQL text that reproduces, byte for byte, what the resolver path serialises: global IDs, DateTimes, cursors.

- Global ID: base64url("<Type>:<pk>") without padding (schema/ids.py). PostgreSQL's base64 uses `+/` and
  wraps lines after 76 characters: `translate` maps the alphabet and drops the newlines.
- DateTime: Python's `isoformat()` of an aware UTC datetime: six fraction digits, or none when the
  microseconds are zero; always `+00:00`. One `to_char` each (they are the statements' dearest calls).
- Cursor: base64url of orjson's compact `["<ordering name>", <key values>]` (resolvers/pagination.py); text
  key values go through `to_json`, which escapes exactly as orjson does (checked by the differential test).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from sqlalchemy import BigInteger, DateTime, Integer

from db.paging import Ordering


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def base64url(expr: str) -> str:
    return f"rtrim(translate(encode(convert_to({expr}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"


def global_id(type_name: str, alias: str) -> str:
    """The node's global ID. base64 encodes three bytes at a time, so a prefix `<Type>:` whose length is a multiple
    of three is encoded once, here, and PostgreSQL encodes only the digits: the base64 of ASCII digits (and `-`)
    never holds `+` or `/`, and a bigint's 20 characters never reach a line break."""
    prefix = type_name + ":"
    if len(prefix.encode()) % 3 == 0:
        encoded = base64.urlsafe_b64encode(prefix.encode()).decode()
        return f"({literal(encoded)} || rtrim(encode({alias}.id::text::bytea, 'base64'), '='))"
    return base64url(f"{literal(prefix)} || {alias}.id")


def iso(expr: str) -> str:
    """`datetime.isoformat()` of a timestamptz (NULL stays NULL): one `to_char` with six fraction digits, the
    fraction dropped when it is zero (`.000000+` occurs only there: the offset is the only `+`)."""
    return f"replace(to_char(({expr} AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), '.000000+', '+')"


def sql_type(column: Any) -> str:
    """The cast for a parameter compared with `column`."""
    if isinstance(column.type, DateTime):
        return "timestamptz"
    if isinstance(column.type, BigInteger):
        return "bigint"
    if isinstance(column.type, Integer):
        return "int"
    return "text"


def cursor(ordering: Ordering, alias: str) -> str:
    """The cursor of the row `alias` in `ordering`, as `encode_cursor` builds it."""
    parts = [literal(orjson.dumps(ordering.name).decode())]
    for column in ordering.columns:
        ref = f"{alias}.{column.name}"
        kind = sql_type(column)
        if kind == "timestamptz":
            parts.append(f"'\"' || {iso(ref)} || '\"'")
        elif kind in ("bigint", "int"):
            parts.append(f"{ref}::text")
        else:
            parts.append(f"to_json({ref})::text")
    return base64url("'[' || " + " || ',' || ".join(parts) + " || ']'")


def order_by(ordering: Ordering, alias: str) -> str:
    direction = "DESC" if ordering.descending else "ASC"
    return ", ".join(f"{alias}.{c.name} {direction}" for c in ordering.columns)


def after(ordering: Ordering, alias: str, placeholders: list[str]) -> str:
    """Rows strictly after the cursor key (`Ordering.after`)."""
    columns = ", ".join(f"{alias}.{c.name}" for c in ordering.columns)
    op = "<" if ordering.descending else ">"
    return f"({columns}) {op} ({', '.join(placeholders)})"


def json_object(pairs: list[tuple[str, str]]) -> str:
    """`json_build_object` of response keys (GraphQL names: safe to quote) and SQL expressions."""
    return "json_build_object(" + ", ".join(f"'{key}', {expr}" for key, expr in pairs) + ")"


def conjunction(conditions: list[str]) -> str:
    return " AND ".join(f"({c})" for c in conditions) if conditions else "TRUE"
