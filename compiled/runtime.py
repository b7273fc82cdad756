"""Runs a planned document as one SQL statement; caches trees and plans; counts what it served.

Flow for one request (after strawberry parsed and validated the document, before execution):
1. the tree of the (document, operation) — cached; a field without a rule makes it unplannable (cached too);
2. variables coerced as graphql-core does, each planned field's arguments bound (`rules.BINDS`) — any value the
   resolver path would refuse, or any rule not encoded for the viewer's role, hands the request over;
3. the SQL for (document, operation, role, shape of the arguments) — cached, bounded LRU; the arguments are
   parameters, so one plan serves every value;
4. one statement on a pooled connection, outside any transaction; PostgreSQL's JSON text is the response's
   `data`, untouched by Python.
A database error also hands the request over (nothing was written): the resolver path answers as it always does.

A mutation takes the same steps when its one write has a rule (compiled/writes.py: `createCustomer`); its statement
writes and returns the payload, and a write whose outcome is unknown is answered SERVICE_UNAVAILABLE, never handed
over (the resolver path could write it a second time).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import asyncpg
import graphql
import orjson
from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    VariableNode,
    parse,
)
from graphql.execution import ExecutionResult
from graphql.execution.values import get_argument_values, get_variable_values
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from strawberry.extensions import SchemaExtension

from compiled import rules, writes
from compiled import sqltext as q
from compiled.tree import Tree, Unplannable, build_tree, pick_operation
from db.enums import Role
from resolvers.context import RequestContext
from resolvers.errors import ServiceUnavailable
from resolvers.viewer import Viewer

log = logging.getLogger("customer_graph.compiled")

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self.items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)

    def __len__(self) -> int:
        return len(self.items)


class Borrowed:
    """`async with` one connection: the read pool's (acquired and released without a generator's frames), else one
    from the engine's pool."""

    __slots__ = ("conn", "engine", "pool", "sa")

    def __init__(self, pool: Any, engine: AsyncEngine) -> None:
        self.pool = pool
        self.engine = engine
        self.conn: Any = None
        self.sa: Any = None

    async def __aenter__(self) -> Any:
        if self.pool is not None:
            self.conn = await self.pool.acquire()
            return self.conn
        sa = self.engine.connect()
        conn = await sa.__aenter__()
        self.sa = sa
        try:
            return (await conn.get_raw_connection()).driver_connection
        except BaseException as error:
            await sa.__aexit__(type(error), error, error.__traceback__)
            raise

    async def __aexit__(self, *exc: Any) -> None:
        if self.sa is not None:
            await self.sa.__aexit__(*exc)
        elif self.conn is not None:
            await self.pool.release(self.conn)


class Plan:
    """One statement, and which argument value each of its placeholders takes: (field index, value name)."""

    __slots__ = ("_with_viewer", "order", "sql")

    def __init__(self, sql: str, order: list[tuple[int, str]]) -> None:
        self.sql = sql
        self.order = order
        self._with_viewer: str | None = None

    def with_viewer(self) -> str:
        """The statement with the viewer's row read in it: it returns the row (role, customer id, email verified,
        active) and, only when the row is exactly the viewer the arguments were bound for and is active, the
        document's JSON. Four more parameters after the plan's own: that expected role, customer id and
        verification, and the user's id."""
        if self._with_viewer is None:
            n = len(self.order)
            self._with_viewer = (
                "SELECT u.role::text, u.customer_id, u.email_verified, u.is_active, CASE WHEN u.is_active"
                f" AND u.role::text = ${n + 1}::text AND u.customer_id IS NOT DISTINCT FROM ${n + 2}::bigint"
                f" AND u.email_verified = ${n + 3}::boolean THEN ({self.sql}) END"
                f" FROM users u WHERE u.id = ${n + 4}::bigint"
            )
        return self._with_viewer

    def parameters(self, bounds: list[rules.Bound]) -> list[Any]:
        return [bounds[i].values[name][0] for i, name in self.order]


def compile_plan(tree: Tree, bounds: list[rules.Bound]) -> Plan:
    """The statement for this tree and argument shape."""
    builder = rules.Builder(tree.bindables, bounds)
    if tree.is_write:
        return Plan(writes.compile_write(builder, tree), builder.order)
    pairs = [
        (sel.key, q.literal("Query") if sel.name == "__typename" else rules.FIELDS["Query"][sel.name](builder, sel, ""))
        for sel in tree.roots
    ]
    return Plan(f"SELECT {q.json_object(pairs)}::text", builder.order)


@dataclass(frozen=True)
class HotDocument:
    """A (document, operation) the full pipeline has parsed, validated, measured and answered with one statement:
    the next request that sends the same text goes straight to its statement (server/hot_path.py)."""

    query: str
    tree: Tree
    document: DocumentNode
    cost: int | None  # the query cost when variables cannot change it (no page size from one); else measured

    @property
    def operation_name(self) -> str | None:
        name = self.tree.operation.name
        return name.value if name is not None else None


# The viewer's row, read on the same connection as the document's statement (columns as resolvers/auth.py reads).
VIEWER_SQL = "SELECT role::text, customer_id, email_verified, is_active FROM users WHERE id = $1"


class CompiledReads:
    """The compiled read path of one app: caches, statistics, and the statement runner."""

    def __init__(self, *, cache_size: int = 500, schema: GraphQLSchema | None = None) -> None:
        self.schema: GraphQLSchema = schema  # type: ignore[assignment]  # set once the schema is built
        # Asked per operation; the server makes it read COMPILED_ENABLED, which may change while it runs.
        self.enabled: Callable[[], bool] = _on
        self.trees: LRU[tuple[str, str | None], Tree | str] = LRU(cache_size)
        self.plans: LRU[tuple[Any, ...], Plan] = LRU(cache_size)
        self.hot: LRU[tuple[str, str | None], HotDocument] = LRU(cache_size)
        # The last row seen for each user (role, customer id, email verified): a guess that lets the hot path read
        # the viewer inside the document's own statement. The statement checks it; a wrong guess costs a second one.
        self.viewers: LRU[int, tuple[str, int | None, bool]] = LRU(max(cache_size, 10_000))
        # Called with each statement sent on the raw connection (SQLAlchemy's events do not see those): the server
        # counts them with the rest (customer_graph_sql_statements_total).
        self.on_statement: Callable[[str], None] = _nothing
        # Called after a write committed its outbox row: the server wakes its relay (as the unit of work does).
        self.outbox_written: Callable[[], None] = _wrote
        # asyncpg's own pool for the compiled statements (db/engine.py `create_read_pool`), set by the server for
        # its lifespan; None: a connection from the engine's pool.
        self.pool: Any = None
        self.stats: Counter[str] = Counter()
        self.served: Counter[tuple[str, str | None]] = Counter()  # (document, operation) -> requests served

    def tree(self, query: str, document: Any, operation_name: str | None) -> Tree | str:
        key = (query, operation_name)
        found = self.trees.get(key)
        if found is None:
            try:
                found = build_tree(self.schema, document or parse(query), operation_name, known=_known, rule=_rule)
                if found.is_write:
                    writes.check(found)
            except Unplannable as reason:
                found = str(reason)
            self.trees.put(key, found)
        return found

    def bind(
        self, tree: Tree, raw_variables: dict[str, Any] | None, viewer: Viewer, *, request_id: str | None = None
    ) -> list[rules.Bound]:
        definitions = tree.operation.variable_definitions
        variables: Any = {}
        if definitions:
            variables = get_variable_values(self.schema, definitions, raw_variables or {})
            if isinstance(variables, list):  # coercion errors: the resolver path reports them
                raise Unplannable("variables")
        bounds = []
        for sel in tree.bindables:
            assert sel.bind is not None and sel.field_def is not None and sel.node is not None
            args = get_argument_values(sel.field_def, sel.node, variables)
            bounds.append(sel.bind(args, viewer))
        if tree.is_write:
            writes.stamp(tree, bounds, request_id)
        return bounds

    def plan(self, query: str, operation_name: str | None, role: str, tree: Tree, bounds: list[rules.Bound]) -> Plan:
        key = (query, operation_name, role, tuple(b.shape for b in bounds))
        found = self.plans.get(key)
        if found is None:
            found = compile_plan(tree, bounds)
            self.plans.put(key, found)
        return found

    def connection(self, engine: AsyncEngine) -> Borrowed:
        """An asyncpg connection for one request's statements: from the read pool, else from the engine's pool.
        (The read pool's checkout costs a fraction of SQLAlchemy's; measured in docs/PERFORMANCE.md.)"""
        return Borrowed(self.pool, engine)

    async def run(self, execution_context: Any) -> str | None:
        """The response's `data` as JSON text, or None: the request runs on the resolver path."""
        ctx: RequestContext = execution_context.context
        viewer: Viewer | None = getattr(ctx, "viewer", None)
        query = execution_context.query
        if viewer is None or not query or ctx.outcome.auth_error is not None:
            return None
        if not _is_http(ctx.request):
            return None
        operation_name = execution_context.operation_name
        tree = self.tree(query, execution_context.graphql_document, operation_name)
        if isinstance(tree, str):
            self.stats[f"unplannable: {tree}"] += 1
            return None
        request = ctx.request
        if tree.is_write and request is not None and getattr(request.state, "write_outcome_unknown", False):
            raise writes.OutcomeUnknown("the hot path sent this write and got no answer")
        try:
            bounds = self.bind(tree, execution_context.variables, viewer, request_id=ctx.request_id)
        except Unplannable as reason:
            self.stats[f"handed over: {reason}"] += 1
            return None
        plan = self.plan(query, operation_name, viewer.role.value, tree, bounds)
        params = plan.parameters(bounds)
        engine: AsyncEngine = ctx.sessionmaker.kw["bind"]
        if tree.is_write:
            found = await self._write(engine, plan, params)
            if found is None:
                return None
            text = found
        else:
            try:
                async with self.connection(engine) as driver:
                    text = await driver.fetchval(plan.sql, *params)
                    self.on_statement(plan.sql)
            except Exception as error:  # the resolver path answers a database failure as it always does
                log.warning(
                    "compiled statement failed; the resolver path answers", extra={"error": type(error).__name__}
                )
                self.stats["database error"] += 1
                return None
        self.stats["planned"] += 1
        self.served[(query, operation_name)] += 1
        self.viewers.put(viewer.user_id, (viewer.role.value, viewer.customer_id, viewer.email_verified))
        ctx.outcome.compiled = True
        document = execution_context.graphql_document
        if (query, operation_name) not in self.hot.items and document is not None:
            fixed = not _pages_sized_by_variables(document)
            cost = ctx.outcome.query_cost
            hot = HotDocument(query, tree, document, cost if fixed else None)
            self.hot.put((query, operation_name), hot)
            if sum(isinstance(d, OperationDefinitionNode) for d in document.definitions) == 1:
                self.hot.put((query, None), hot)  # the only operation: clients may leave `operationName` out
        return text

    async def _write(self, engine: AsyncEngine, plan: Plan, params: list[Any]) -> str | None:
        """Runs a write statement: its payload's JSON; None when it wrote nothing (no row back, or PostgreSQL
        refused it and rolled it back) and the resolver path should answer; `OutcomeUnknown` when the statement
        was sent and no answer came (compiled/writes.py).

        A cancelled request does not cancel its write half-way: the statement runs on in a task of its own, bounded
        by PostgreSQL's `statement_timeout`, and the request waits for its outcome, so the answer says what happened.
        The execution timeout (`LIMITS_EXECUTION_TIMEOUT_SECONDS`) then ends without a timeout error. A second
        cancellation while waiting gives up: `OutcomeUnknown`."""
        sending = asyncio.ensure_future(self._send_write(engine, plan, params))
        try:
            return await asyncio.shield(sending)
        except asyncio.CancelledError:
            self.stats["write awaited past a cancellation"] += 1
            try:
                return await asyncio.shield(sending)
            except asyncio.CancelledError:
                self.stats["write outcome unknown"] += 1
                sending.add_done_callback(_retrieved)  # it finishes alone; what it raises is not for anyone
                raise writes.OutcomeUnknown("cancelled twice while the write was in flight") from None

    async def _send_write(self, engine: AsyncEngine, plan: Plan, params: list[Any]) -> str | None:
        try:
            async with self.connection(engine) as driver:
                try:
                    row = await driver.fetchrow(plan.sql, *params)
                except asyncpg.PostgresError as error:
                    if writes.maybe_committed(error):
                        raise writes.OutcomeUnknown(type(error).__name__) from error
                    # refused: rolled back, nothing written
                    log.info("compiled write refused; the resolver path answers", extra={"error": type(error).__name__})
                    self.stats["write refused"] += 1
                    return None
                except Exception as error:
                    raise writes.OutcomeUnknown(type(error).__name__) from error
                finally:
                    self.on_statement(plan.sql)
        except writes.OutcomeUnknown:
            self.stats["write outcome unknown"] += 1
            raise
        except Exception as error:  # no connection: nothing was sent
            log.warning("compiled write not sent; the resolver path answers", extra={"error": type(error).__name__})
            self.stats["database error"] += 1
            return None
        if row is None:
            self.stats["write handed over"] += 1
            return None
        self.outbox_written()
        text: str = row[0]
        return text

    async def run_hot(
        self,
        hot: HotDocument,
        raw_variables: dict[str, Any] | None,
        *,
        user_id: int,
        engine: AsyncEngine,
        request_id: str | None = None,
    ) -> tuple[str, Viewer] | None:
        """A hot document for the token's user, on one pooled connection: ONE statement when the user's row is as
        last seen (it reads the row and, if it still matches, the document), else the row and then the document.
        None when anything is not as the full pipeline would answer it with this statement (no such user, a
        deactivated one, arguments it refuses, a database error): the request then takes the full pipeline.

        A write is one statement that checks the viewer's row itself: it writes nothing when the row is not as
        last seen (then the guess is dropped, and the full pipeline answers); `OutcomeUnknown` passes through."""
        if hot.tree.is_write:
            return await self._run_hot_write(hot, raw_variables, user_id=user_id, engine=engine, request_id=request_id)
        try:
            async with self.connection(engine) as raw:
                row: tuple[str, int | None, bool, bool] | None = None
                guess = self.viewers.get(user_id)
                if guess is not None:
                    viewer = _viewer(user_id, guess)
                    bounds = self.bind(hot.tree, raw_variables, viewer)
                    plan = self.plan(hot.query, hot.operation_name, guess[0], hot.tree, bounds)
                    found = await raw.fetchrow(plan.with_viewer(), *plan.parameters(bounds), *guess, user_id)
                    self.on_statement(plan.with_viewer())
                    if found is not None and found[4] is not None:
                        return self._served_hot(hot, found[4], viewer)
                    row = (found[0], found[1], found[2], found[3]) if found is not None else None
                else:
                    row = await self._viewer_row(raw, user_id)
                if row is None or not row[3]:
                    self.viewers.items.pop(user_id, None)
                    return None
                self.viewers.put(user_id, (row[0], row[1], row[2]))
                viewer = _viewer(user_id, row)
                bounds = self.bind(hot.tree, raw_variables, viewer)
                plan = self.plan(hot.query, hot.operation_name, viewer.role.value, hot.tree, bounds)
                text: str = await raw.fetchval(plan.sql, *plan.parameters(bounds))
                self.on_statement(plan.sql)
        except Unplannable as reason:
            self.stats[f"handed over: {reason}"] += 1
            return None
        except Exception as error:  # the full pipeline answers a database failure as it always does
            log.warning("compiled statement failed; the resolver path answers", extra={"error": type(error).__name__})
            self.stats["database error"] += 1
            return None
        return self._served_hot(hot, text, viewer)

    async def _run_hot_write(
        self,
        hot: HotDocument,
        raw_variables: dict[str, Any] | None,
        *,
        user_id: int,
        engine: AsyncEngine,
        request_id: str | None,
    ) -> tuple[str, Viewer] | None:
        guess = self.viewers.get(user_id)
        if guess is None:  # the row is read first; a deactivated or unknown user takes the full pipeline
            try:
                async with self.connection(engine) as raw:
                    row = await self._viewer_row(raw, user_id)
            except Exception as error:
                log.warning("viewer lookup failed; the full pipeline answers", extra={"error": type(error).__name__})
                return None
            if row is None or not row[3]:
                return None
            guess = (row[0], row[1], row[2])
            self.viewers.put(user_id, guess)
        viewer = _viewer(user_id, guess)
        try:
            bounds = self.bind(hot.tree, raw_variables, viewer, request_id=request_id)
        except Unplannable as reason:
            self.stats[f"handed over: {reason}"] += 1
            return None
        plan = self.plan(hot.query, hot.operation_name, viewer.role.value, hot.tree, bounds)
        text = await self._write(engine, plan, plan.parameters(bounds))
        if text is None:  # perhaps the viewer's row changed: read it afresh next time
            self.viewers.items.pop(user_id, None)
            return None
        return self._served_hot(hot, text, viewer)

    async def _viewer_row(self, raw: Any, user_id: int) -> tuple[str, int | None, bool, bool] | None:
        """The user's row (role, customer id, email verified, active) read alone, or None when there is none."""
        found = await raw.fetchrow(VIEWER_SQL, user_id)
        self.on_statement(VIEWER_SQL)
        return (found[0], found[1], found[2], found[3]) if found is not None else None

    def _served_hot(self, hot: HotDocument, text: str, viewer: Viewer) -> tuple[str, Viewer]:
        self.stats["planned"] += 1
        self.stats["hot"] += 1
        self.served[(hot.query, hot.operation_name)] += 1
        return text, viewer


class _PageSizeVariables(graphql.Visitor):
    """Finds a `first`/`last` argument given by a variable."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        if node.name.value in ("first", "last") and isinstance(node.value, VariableNode):
            self.found = True


def _pages_sized_by_variables(document: DocumentNode) -> bool:
    """Whether a variable gives a page size (`first`/`last`) anywhere: only then can variables change the cost."""
    visitor = _PageSizeVariables()
    graphql.visit(document, visitor)
    return visitor.found


def _viewer(user_id: int, row: tuple[Any, ...]) -> Viewer:
    """The viewer of a user's row (role, customer id, email verified, ...)."""
    return Viewer(user_id=user_id, role=Role(row[0]), customer_id=row[1], email_verified=row[2])


def _known(type_name: str, field_name: str) -> bool:
    return rules.known(type_name, field_name) or writes.known(type_name, field_name)


def _rule(type_name: str, field_name: str) -> Callable[[dict[str, Any], Viewer], rules.Bound] | None:
    return rules.rule(type_name, field_name) or writes.rule(type_name, field_name)


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _nothing(_statement: str) -> None:
    pass


def _wrote() -> None:
    pass


def _on() -> bool:
    return True


def _is_http(request: Any) -> bool:
    return isinstance(request, Request)


class CompiledReadsExtension(SchemaExtension):
    """Answers a planned query before graphql-core executes it. `runtime` is set per app (see `extension`)."""

    runtime: ClassVar[CompiledReads]

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        ctx = ec.context
        if not ec.result and ctx is not None and self.runtime.enabled():
            try:
                text = await self.runtime.run(ec)
            except writes.OutcomeUnknown as unknown:
                ec.result = ExecutionResult(data=None, errors=[_unknown_outcome(ec, unknown)])
                text = None
            if text is not None:
                # orjson.Fragment: the JSON text goes into the response as it is (server/context.py encodes).
                ec.result = ExecutionResult(data=orjson.Fragment(text), errors=None)  # type: ignore[arg-type]  # `data` is typed a dict
        yield


def _unknown_outcome(execution_context: Any, unknown: writes.OutcomeUnknown) -> graphql.GraphQLError:
    """SERVICE_UNAVAILABLE on the write's field: the statement may have committed, so it is not run again."""
    log.warning("compiled write outcome unknown", extra={"error": str(unknown)})
    document = execution_context.graphql_document
    operation = pick_operation(document, execution_context.operation_name) if document is not None else None
    selections = operation.selection_set.selections if operation is not None else ()
    field = next((s for s in selections if isinstance(s, FieldNode) and s.name.value != "__typename"), None)
    path = [field.alias.value if field.alias else field.name.value] if field is not None else None
    return graphql.GraphQLError(
        "The service is temporarily unavailable; retry shortly.",
        nodes=[field] if field is not None else None,
        path=path,
        original_error=ServiceUnavailable("The outcome of the write is unknown; check before retrying."),
    )


def extension(runtime: CompiledReads) -> type[SchemaExtension]:
    """The extension class bound to one app's runtime (strawberry builds one instance per operation)."""
    return type("CompiledReads", (CompiledReadsExtension,), {"runtime": runtime})
