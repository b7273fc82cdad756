"""Counting what reaches PostgreSQL: every statement, plus the BEGIN / COMMIT / ROLLBACK the driver sends itself.

SQLAlchemy's `before_cursor_execute` sees only statements; asyncpg opens a transaction (BEGIN) before the first
statement of a non-autocommit connection and ends it on commit, rollback or return to the pool. Those round
trips cost as much as a small SELECT, so the SQL budget tests and the benchmark count them too: a `BEGIN` is
recorded when a statement runs on a connection with no transaction open (and not in autocommit), a `COMMIT` or
`ROLLBACK` when one ends while the driver holds an open transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

Record = Callable[[str], None]


def _open_transaction(dbapi_connection: Any) -> bool | None:
    """True/False for the asyncpg adapter's transaction state; None for a driver we cannot inspect."""
    if dbapi_connection is None or not hasattr(dbapi_connection, "_transaction"):
        return None
    return dbapi_connection._transaction is not None


def _will_begin(dbapi_connection: Any) -> bool:
    return _open_transaction(dbapi_connection) is False and not getattr(dbapi_connection, "autocommit", False)


class StatementTally:
    """Calls `record(text)` for each statement and transaction boundary on `engine` (attach / detach)."""

    def __init__(self, record: Record) -> None:
        self.record = record

    def _execute(
        self, conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if _will_begin(conn.connection.dbapi_connection):
            self.record("BEGIN")
        self.record(statement)

    def _end(self, word: str) -> Callable[[Any], None]:
        def on_end(conn: Any) -> None:
            if not conn.closed and not conn.invalidated and _open_transaction(conn.connection.dbapi_connection):
                self.record(word)

        return on_end

    def _reset(self, dbapi_connection: Any, record: Any, *rest: Any) -> None:
        if _open_transaction(getattr(dbapi_connection, "dbapi_connection", dbapi_connection)):
            self.record("ROLLBACK")

    def attach(self, engine: Engine) -> StatementTally:
        self._commit, self._rollback = self._end("COMMIT"), self._end("ROLLBACK")
        event.listen(engine, "before_cursor_execute", self._execute)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)
        event.listen(engine.pool, "reset", self._reset)
        return self

    def detach(self, engine: Engine) -> None:
        event.remove(engine, "before_cursor_execute", self._execute)
        event.remove(engine, "commit", self._commit)
        event.remove(engine, "rollback", self._rollback)
        event.remove(engine.pool, "reset", self._reset)
