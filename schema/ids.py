"""Relay global IDs: opaque base64url of "<Type>:<pk>".

The API's IDs are encoded and decoded here, at the edge: resolvers take and return database ids. The spelling is
that of the references stored in audit records and outbox payloads (db/refs.py), so the two always agree.
"""

from __future__ import annotations

import base64
import binascii

from db.refs import entity_ref


def to_global_id(type_name: str, pk: int | str) -> str:
    return entity_ref(type_name, pk)


def parse_global_id(value: str) -> tuple[str, str] | None:
    """(type name, raw pk) or None when the value is not one of our IDs."""
    if not isinstance(value, str) or not value or len(value) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, pk = raw.partition(":")
    if not sep or not type_name or not pk:
        return None
    return type_name, pk


def decode_id(value: str, *expected: str) -> int | None:
    """The integer pk when `value` is a global ID of one of the `expected` types, else None."""
    parsed = parse_global_id(value)
    if parsed is None or (expected and parsed[0] not in expected):
        return None
    type_name, pk = parsed
    if not pk.isdigit() or len(pk) > 18:
        return None
    return int(pk)


def filter_id(value: str | None, *expected: str) -> int | None:
    """A list filter's ID as a database id: None when the filter is absent; 0, which no row has, when the value is
    not a global ID of the `expected` types (such a filter matches nothing)."""
    if value is None:
        return None
    pk = decode_id(value, *expected)
    return 0 if pk is None else pk
