"""Page arguments and cursors: the API's rules (default 20, maximum 50, BAD_USER_INPUT beyond)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from db.paging import Ordering, PageRequest
from resolvers.errors import BadUserInput

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 50


def encode_cursor(ordering: Ordering, key: tuple[Any, ...]) -> str:
    raw = orjson.dumps([ordering.name, *ordering.encode(key)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(ordering: Ordering, cursor: str, argument: str) -> tuple[Any, ...]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        values = None
    key = None
    if isinstance(values, list) and values and values[0] == ordering.name:
        key = ordering.decode(values[1:])
    if key is None:
        raise BadUserInput(f"`{argument}` is not a valid cursor for this list.", argumentName=argument)
    return key


def page_request(
    ordering: Ordering,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    default_size: int = DEFAULT_PAGE_SIZE,
    max_size: int = MAX_PAGE_SIZE,
) -> PageRequest:
    """Validate page arguments (also on nested connections) and decode their cursors."""
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= max_size:
            raise BadUserInput(f"`{name}` must be between 0 and {max_size}; it was {value}.", argumentName=name)
    if first is not None and last is not None:
        raise BadUserInput("Pass `first` or `last`, not both.", argumentName="last")
    after_key = decode_cursor(ordering, after, "after") if after is not None else None
    before_key = decode_cursor(ordering, before, "before") if before is not None else None
    if last is not None or (before is not None and first is None):
        return PageRequest(last=last if last is not None else default_size, before=before_key, after=after_key)
    return PageRequest(first=first if first is not None else default_size, after=after_key, before=before_key)
