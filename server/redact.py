"""No personal data in the logs.

Three layers, from specific to general:

1. The database engine hides statement parameters (`hide_parameters=True` in db/engine.py), so a database error's
   message carries the SQL text with placeholders, never the names, emails or throttle keys bound to it.
2. GraphQL errors are logged by `GraphQLErrorFilter` as their bare message, with the literal values a client put
   in the query or variables cut out ("got invalid value …", "found …"), and never with the source excerpt that
   graphql-core's `str(error)` prints (which repeats the query text, inline arguments included). Errors the client
   caused (no original exception: syntax, validation, variables) are logged at INFO, not ERROR.
3. `RedactingFilter`, on the handler itself, rewrites every record as a last line: email addresses, phone numbers,
   bearer tokens and JWTs, and password / secret / token values in `key=value` or JSON form become `[redacted]`
   in the message, the string extras and the formatted traceback.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import GraphQLError

REDACTED = "[redacted]"

EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)  # noqa: E501
# 9-15 digits, optionally led by + or 00 and split by spaces, dots, dashes or brackets: E.164 and national forms,
# not dates (8 digits), durations or counts.
PHONE = re.compile(r"(?<![\w.:/-])\+?\(?\d(?:[ .\-()]{0,2}\d){8,14}(?![\w])")
BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
SECRET_VALUE = re.compile(
    r"""(?ix)
    (["']?\b(?:password|passwd|new_?password|secret|api_?key|token|authorization)\b["']?\s*[:=]\s*)
    (?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&}\])]+)
    """
)


# Something every pattern above needs (an @, a run of nine digits, "eyJ", a secret's or bearer's name): a text
# without any of it has nothing to redact, and is passed on after one search instead of five substitutions.
_CANDIDATE = re.compile(r"(?i)@|\d(?:\D{0,2}\d){8}|eyJ|bearer|passw|secret|api_?key|token|authorization")


def redact(text: str) -> str:
    if not text or _CANDIDATE.search(text) is None:
        return text
    text = BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = JWT.sub(REDACTED, text)
    text = SECRET_VALUE.sub(lambda m: m.group(1) + REDACTED, text)
    text = EMAIL.sub(REDACTED, text)
    return PHONE.sub(REDACTED, text)


# What graphql-core puts after these words is the client's own literal value: cut to the end of the message.
_LITERALS = (
    (re.compile(r"(?is)(invalid value:?|, found:?|\bfound:|cannot represent[^:]*:)\s.*$"), r"\1 …"),
    (re.compile(r"(?is)(Syntax Error: .*?unexpected \w+)\s.*$"), r"\1 …"),
    (re.compile(r'"(?:[^"\\]|\\.)*"'), '"…"'),
)


def graphql_message(error: GraphQLError) -> str:
    """The error's message without literal values (and without the query excerpt `str(error)` adds)."""
    text = error.message
    for pattern, replacement in _LITERALS:
        text = pattern.sub(replacement, text)
    return text


class GraphQLErrorFilter(logging.Filter):
    """Rewrites strawberry's error records (`logger.error(graphql_error)`) into a plain, value-free line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.msg
        if isinstance(error, GraphQLError):
            record.msg = "graphql error: %s"
            record.args = (graphql_message(error),)
            record.graphql_code = (error.extensions or {}).get("code")
            record.graphql_path = list(error.path) if error.path else None
            original = error.original_error
            if original is None or isinstance(original, GraphQLError):  # the client's mistake, not ours
                record.levelno, record.levelname = logging.INFO, "INFO"
                record.exc_info = None
        return True


class RedactingFilter(logging.Filter):
    """Last line: whatever reaches the handler leaves without emails, phones, tokens or passwords."""

    def __init__(self, formatter: logging.Formatter | None = None) -> None:
        super().__init__()
        self._formatter = formatter or logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        GraphQLErrorFilter().filter(record)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info:
            record.exc_text = redact(self._formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD or key.startswith("_"):
                continue
            record.__dict__[key] = _redact_value(value)
        return True


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    return value


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
