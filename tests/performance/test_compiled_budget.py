"""SQL budget of the compiled read path: a planned document is ONE statement, outside any transaction.

Statements are seen two ways, in one ordered log: SQLAlchemy's cursor events (the resolver path's statements,
which asyncpg runs as prepared statements) and an asyncpg query logger on every pooled connection (`BEGIN`,
`ROLLBACK`, liveness pings and the compiled path's statement, which SQLAlchemy's events do not see).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_user
from tests.performance.test_sql_budget import _populate

QUERY_A = """
{ customers(first: 50) { nodes { id firstName lastName email phone createdAt
    requests(first: 10) { nodes { id body status createdAt } }
    chatSessions(first: 50) { nodes { id title startedAt messageCount } } } } }
"""
QUERY_B = """
query B($id: ID!) { customer(id: $id) { id firstName lastName email
    requests(first: 20) { totalCount nodes { id body status processedBy { id firstName lastName role } } } } }
"""
CONTROL = ("BEGIN", "ROLLBACK", "COMMIT", "")  # "" is a liveness ping, ";"


class WireLog:
    """Every statement sent, with the connection it went on."""

    def __init__(self) -> None:
        self.statements: list[tuple[int, str]] = []
        self.connections: set[Any] = set()

    def __call__(self, record: Any) -> None:
        self.statements.append((id(record.conn_params), record.query.strip()))

    def on_cursor(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append((0, statement.strip()))

    def on_checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        driver.add_query_logger(self)
        self.connections.add(driver)


@pytest.fixture
def wire(app: Any) -> Iterator[WireLog]:
    log = WireLog()
    engine = app.state.engine.sync_engine
    event.listen(engine, "checkout", log.on_checkout)
    event.listen(engine, "before_cursor_execute", log.on_cursor)
    # the compiled path's statements, on whichever pool they went (its own asyncpg pool by default)
    compiled = app.state.compiled
    counted = compiled.on_statement

    def on_compiled(statement: str) -> None:
        log.statements.append((1, statement.strip()))
        counted(statement)

    compiled.on_statement = on_compiled
    yield log
    compiled.on_statement = counted
    event.remove(engine, "checkout", log.on_checkout)
    event.remove(engine, "before_cursor_execute", log.on_cursor)
    for driver in log.connections:
        driver.remove_query_logger(log)


def _is_document(statement: str) -> bool:
    # alone, or (the hot path, server/hot_path.py) inside the statement that reads the viewer's row with it
    return statement.startswith("SELECT json_build_object(") or (
        statement.startswith("SELECT u.role::text") and "json_build_object(" in statement
    )


def _outside_transactions(statements: list[str]) -> bool:
    """Whether every compiled document ran with no transaction open on its connection."""
    open_ = False
    for s in statements:
        head = s.split()[0].upper().rstrip(";") if s.split() else s
        if head == "BEGIN":
            open_ = True
        elif head in ("ROLLBACK", "COMMIT"):
            open_ = False
        elif _is_document(s) and open_:
            return False
    return True


@pytest.mark.parametrize("name", ["a", "b"])
async def test_a_compiled_document_is_one_statement_outside_any_transaction(app, gql, wire, name):
    # given
    customers = await _populate(app, 20)
    admin = await make_user(app, Role.ADMIN)
    query, variables = (QUERY_A, None) if name == "a" else (QUERY_B, {"id": to_global_id("Customer", customers[3].id)})
    served = app.state.compiled.stats["planned"]
    await gql(query, variables, token=admin.token)  # the first request plans and prepares

    # when it is read three times (a statement some other part of the app sends meanwhile, e.g. a pool reset after
    # an earlier test, is not the request's: the budget holds for the cheapest of the three)
    counts = []
    for _ in range(3):
        wire.statements.clear()
        body = await gql(query, variables, token=admin.token)
        assert "errors" not in body
        sent = [s for _conn, s in wire.statements]
        # then each time the compiled path answered with one statement, no transaction around it
        documents = [s for s in sent if _is_document(s)]
        assert len(documents) == 1, sent
        assert _outside_transactions(sent), sent
        counts.append((len([s for s in sent if s.rstrip(";").upper() not in CONTROL]), sent))

    # and the document plus the viewer's lookup is all a request costs
    assert app.state.compiled.stats["planned"] == served + 4
    assert min(c for c, _sent in counts) <= 2, counts


async def test_the_resolver_path_for_the_same_document_costs_more(app, gql, wire):
    # given
    await _populate(app, 20)
    admin = await make_user(app, Role.ADMIN)
    app.state.settings.compiled.enabled = False
    try:
        # when
        await gql(QUERY_A, token=admin.token)
    finally:
        app.state.settings.compiled.enabled = True

    # then (the comparison the compiled path exists for)
    queries = [s for _conn, s in wire.statements if s.rstrip(";").upper() not in CONTROL]
    assert len(queries) >= 3, queries
    assert not any(_is_document(s) for s in queries)
