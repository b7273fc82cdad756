"""Is this error the database being unavailable (down, restarting, unreachable, out of connections)?

Such errors are retryable: the API answers SERVICE_UNAVAILABLE with `retryAfter`, logs one line (no traceback),
and the pool recovers by itself (`pool_pre_ping` replaces dead connections) once PostgreSQL is back.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import DBAPIError, DisconnectionError, PendingRollbackError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.exc import OperationalError as SAOperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

RETRY_AFTER_SECONDS = 5

# SQLSTATE classes and codes that mean "not available now", not "your request is wrong":
# 08 connection exception; 53 insufficient resources (53300 too many connections); 57P01 admin shutdown,
# 57P02 crash shutdown, 57P03 cannot connect now (starting up / shutting down), 57P04 database dropped,
# 57P05 idle session timeout; 57014 query canceled (statement timeout under load); 58 system error (I/O).
UNAVAILABLE_CLASSES = ("08", "53", "58")
UNAVAILABLE_CODES = frozenset({"57P01", "57P02", "57P03", "57P04", "57P05", "57014"})
UNAVAILABLE_MESSAGES = (
    "connection is closed",
    "connection was closed",
    "the database system is",  # ... shutting down / starting up / in recovery mode
    "terminating connection",
    "too many clients",
    "remaining connection slots",
)


def _sqlstate(error: BaseException) -> str | None:
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(error, attribute, None)
        if isinstance(value, str) and len(value) == 5:
            return value
    return None


def is_unavailable(error: BaseException | None) -> bool:
    """True when `error` (or what caused it) says the database cannot serve now."""
    seen = 0
    while error is not None and seen < 12:
        if isinstance(error, (PoolTimeout, DisconnectionError, PendingRollbackError, SAOperationalError)):
            return True
        if isinstance(error, (SAInterfaceError, ConnectionError, OSError, asyncio.TimeoutError)):
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        state = _sqlstate(error)
        if state is not None and (state[:2] in UNAVAILABLE_CLASSES or state in UNAVAILABLE_CODES):
            return True
        module = type(error).__module__
        if module.startswith("asyncpg") and (
            "Connection" in type(error).__name__ or "InterfaceError" in type(error).__name__
        ):
            return True
        message = str(error).lower()
        if (module.startswith(("asyncpg", "sqlalchemy"))) and any(m in message for m in UNAVAILABLE_MESSAGES):
            return True
        orig = getattr(error, "orig", None)
        error = (
            orig if isinstance(orig, BaseException) and orig is not error else (error.__cause__ or error.__context__)
        )
        seen += 1
    return False
