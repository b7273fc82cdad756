"""What the compiled path knows: each planned field's SQL, its argument rules, and the viewer's row scope.

Every rule mirrors a resolver (named beside it) and is held to it by tests/compiled/test_differential.py.
Arguments are checked here with the resolver path's own functions (`page_request`, `decode_id`, ...): a value
the resolver path would answer with an error raises `Unplannable`, and the request runs on the resolver path.

Row scope (API.md, "Who may do what"): staff (ADMIN, OPERATOR, SALES) read every customer, request, session
and operator; a CUSTOMER reads only its own customer's rows, with its customer id as a bound parameter.
`operators` is staff only: a CUSTOMER's document runs on the resolver path, which answers FORBIDDEN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from compiled import sqltext as q
from compiled.tree import Sel, Unplannable
from db.enums import OPEN_REQUEST_STATUSES, STAFF_ROLES
from db.paging import Ordering
from resolvers import chat as chat_resolvers
from resolvers import customers as customers_resolvers
from resolvers import operators as operators_resolvers
from resolvers import requests as requests_resolvers
from resolvers.errors import BadUserInput
from resolvers.pagination import page_request
from resolvers.viewer import Viewer
from schema.ids import decode_id

INT64 = 2**63
OPEN_STATUSES = ", ".join(q.literal(s.value) for s in OPEN_REQUEST_STATUSES)
STAFF = ", ".join(q.literal(r.value) for r in sorted(STAFF_ROLES))


@dataclass
class Bound:
    """One field's arguments for one request: structural facts (part of the plan's key) and parameter values."""

    info: tuple[Any, ...] = ()
    values: dict[str, tuple[Any, str]] = field(default_factory=dict)  # name -> (value, SQL type)

    @property
    def shape(self) -> tuple[Any, ...]:
        return (self.info, tuple(self.values))

    def add(self, name: str, value: Any, sql_type: str) -> None:
        self.values[name] = (value, sql_type)


def _enum(value: Any) -> Any:
    return getattr(value, "value", value)


def _scope(bound: Bound, viewer: Viewer) -> None:
    """A CUSTOMER's own customer id, for the row scope; staff need none."""
    if viewer.is_staff:
        return
    if viewer.customer_id is None:
        raise Unplannable("customer account without a customer")
    bound.add("viewer", viewer.customer_id, "bigint")


def _page(bound: Bound, ordering: Ordering, args: dict[str, Any]) -> None:
    """`page_request`'s rules; forward pages only (last/before run on the resolver path)."""
    try:
        req = page_request(
            ordering, first=args.get("first"), after=args.get("after"), last=args.get("last"), before=args.get("before")
        )
    except BadUserInput:
        raise Unplannable("page arguments the resolver path refuses")
    if req.last is not None or req.before is not None:
        raise Unplannable("backward page")
    bound.add("size", req.first, "int")
    bound.info += (req.after is not None,)
    if req.after is not None:
        for i, (column, value) in enumerate(zip(ordering.columns, req.after, strict=True)):
            if isinstance(value, int) and not -INT64 <= value < INT64:
                raise Unplannable("cursor value out of range")
            if isinstance(value, str) and "\x00" in value:
                raise Unplannable("cursor value with NUL")
            bound.add(f"k{i}", value, q.sql_type(column))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- argument rules -------------------------------------------------------------------------------------------


def bind_customers(args: dict[str, Any], viewer: Viewer) -> Bound:
    """`customers` (resolvers/customers.py: list_customers)."""
    b = Bound()
    f = args.get("filter") or {}
    order = args.get("orderBy") or {}
    field_name = _enum(order.get("field")) or "CREATED_AT"
    descending = _enum(order.get("direction")) == "DESC"
    ordering = customers_resolvers.ORDERINGS[(field_name, descending)]
    b.info = ((field_name, descending), bool(f.get("includeArchived")))
    _page(b, ordering, args)
    _scope(b, viewer)
    term = (f.get("search") or "").strip()
    if len(term) > customers_resolvers.SEARCH_MAX:
        raise Unplannable("search too long")
    if term:
        pattern, digits, e164 = customers_resolvers.search_parameters(term)
        b.add("search", pattern, "text")
        if digits is not None:
            b.add("digits", digits, "text")
        if e164 is not None:
            b.add("e164", e164, "text")
    if f.get("createdAfter") is not None:
        b.add("created_after", _aware(f["createdAfter"]), "timestamptz")
    if f.get("createdBefore") is not None:
        b.add("created_before", _aware(f["createdBefore"]), "timestamptz")
    return b


def _by_id(type_name: str) -> Callable[[dict[str, Any], Viewer], Bound]:
    """`customer(id)`, `request(id)`, `chatSession(id)`: absent, wrong type or not visible is null."""

    def bind(args: dict[str, Any], viewer: Viewer) -> Bound:
        b = Bound()
        b.add("pk", decode_id(args["id"], type_name), "bigint")
        _scope(b, viewer)
        return b

    return bind


def bind_requests(args: dict[str, Any], viewer: Viewer) -> Bound:
    """`requests` (resolvers/requests.py: list_requests); IDs that are not customers/operators match nothing."""
    b = Bound()
    f = args.get("filter") or {}
    b.info = (bool(f.get("includeArchived")),)
    _page(b, requests_resolvers.ORDERING, args)
    _scope(b, viewer)
    if f.get("status") is not None:
        b.add("status", _enum(f["status"]), "text")
    if f.get("customerId") is not None:
        b.add("customer", decode_id(f["customerId"], "Customer"), "bigint")
    if f.get("operatorId") is not None:
        b.add("operator", decode_id(f["operatorId"], "Operator", "User"), "bigint")
    return b


def bind_operators(args: dict[str, Any], viewer: Viewer) -> Bound:
    """`operators` (resolvers/operators.py: list_operators): staff only."""
    if not viewer.is_staff:
        raise Unplannable("operators for a customer")
    b = Bound()
    _page(b, operators_resolvers.ORDERING, args)
    return b


def bind_child_requests(*, scoped: bool) -> Callable[[dict[str, Any], Viewer], Bound]:
    """`Customer.requests`, `Operator.assignedRequests` (the latter in the viewer's row scope)."""

    def bind(args: dict[str, Any], viewer: Viewer) -> Bound:
        b = Bound()
        b.info = (bool(args.get("includeArchived")),)
        _page(b, requests_resolvers.ORDERING, args)
        if scoped:
            _scope(b, viewer)
        if args.get("status") is not None:
            b.add("status", _enum(args["status"]), "text")
        return b

    return bind


def bind_chat_sessions(args: dict[str, Any], viewer: Viewer) -> Bound:
    """`Customer.chatSessions` (resolvers/chat.py: customer_sessions)."""
    b = Bound()
    _page(b, chat_resolvers.SESSIONS_NEWEST_FIRST, args)
    if args.get("status") is not None:
        b.add("status", _enum(args["status"]), "text")
    return b


def bind_messages(args: dict[str, Any], viewer: Viewer) -> Bound:
    """`ChatSession.messages` (resolvers/chat.py: session_messages), forward pages."""
    b = Bound()
    _page(b, chat_resolvers.MESSAGES_OLDEST_FIRST, args)
    return b


def bind_by_email(args: dict[str, Any], viewer: Viewer) -> Bound:
    """`customerByEmail` (resolvers/customers.py: customer_by_email): a blank address finds nobody."""
    b = Bound()
    b.add("email", args["email"].strip().lower() or None, "text")
    _scope(b, viewer)
    return b


def bind_scope(args: dict[str, Any], viewer: Viewer) -> Bound:
    b = Bound()
    _scope(b, viewer)
    return b


# --- SQL ------------------------------------------------------------------------------------------------------


@dataclass
class ListSource:
    """A list in one ordering: its table and its conditions (without the cursor's)."""

    table: str
    ordering: Ordering
    node_type: str
    where: Callable[[str], list[str]]  # alias -> conditions
    total: str | None = None  # totalCount when it is not a count (a session's messages: its message_count)


class Placeholders:
    """One field's parameters by name; a placeholder is numbered when the SQL first uses it (unused ones would
    leave PostgreSQL unable to type them)."""

    def __init__(self, builder: Builder, index: int, bound: Bound) -> None:
        self.builder = builder
        self.index = index
        self.bound = bound
        self.given: dict[str, str] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.bound.values

    def __getitem__(self, name: str) -> str:
        found = self.given.get(name)
        if found is None:
            _value, sql_type = self.bound.values[name]
            self.builder.order.append((self.index, name))
            found = self.given[name] = f"${len(self.builder.order)}::{sql_type}"
        return found


class Builder:
    """Builds one SQL statement for a tree and records which argument value each placeholder takes."""

    def __init__(self, bindables: list[Sel], bounds: list[Bound]) -> None:
        self.order: list[tuple[int, str]] = []  # placeholder $n+1 takes bounds[i].values[name]
        self.placeholders = {
            id(sel): Placeholders(self, i, b) for i, (sel, b) in enumerate(zip(bindables, bounds, strict=True))
        }
        self.bounds = {id(sel): b for sel, b in zip(bindables, bounds, strict=True)}
        self.aliases = 0

    def alias(self) -> str:
        self.aliases += 1
        return f"t{self.aliases}"

    def ph(self, sel: Sel) -> Placeholders:
        return self.placeholders[id(sel)]

    def info(self, sel: Sel) -> tuple[Any, ...]:
        return self.bounds[id(sel)].info

    def object(self, type_name: str, sels: list[Sel], alias: str) -> str:
        pairs: list[tuple[str, str]] = []
        for sel in sels:
            if sel.name == "__typename":
                pairs.append((sel.key, q.literal(type_name)))
            else:
                pairs.append((sel.key, FIELDS[type_name][sel.name](self, sel, alias)))
        return q.json_object(pairs)

    def connection(self, sel: Sel, source: ListSource, *, after_given: bool) -> str:
        ph = self.ph(sel)
        a = self.alias()
        ordering = source.ordering
        rows_needed = any(c.name in ("nodes", "edges", "pageInfo") for c in sel.children)
        size = ph["size"] if rows_needed else ""
        # Without pageInfo the page is its rows: no look-ahead row, no row numbers. With it, one row more is read
        # (hasNextPage) and numbered, and the aggregates keep the first `size`.
        paged = any(c.name == "pageInfo" for c in sel.children)
        shown = f"FILTER (WHERE {a}.rn_ <= {size})" if paged else ""
        rank = f"{a}.rn_" if paged else q.order_by(ordering, a)
        pairs: list[tuple[str, str]] = []
        for child in sel.children:
            if child.name == "__typename":
                pairs.append((child.key, q.literal(sel.type_name)))
            elif child.name == "totalCount":
                t = self.alias()
                total = f"(SELECT count(*) FROM {source.table} {t} WHERE {q.conjunction(source.where(t))})"
                pairs.append((child.key, source.total or total))
            elif child.name == "nodes":
                node = self.object(source.node_type, child.children, a)
                pairs.append((child.key, f"coalesce(json_agg({node} ORDER BY {rank}) {shown}, '[]'::json)"))
            elif child.name == "edges":
                edge: list[tuple[str, str]] = []
                for e in child.children:
                    if e.name == "__typename":
                        edge.append((e.key, q.literal(child.type_name)))
                    elif e.name == "cursor":
                        edge.append((e.key, q.cursor(ordering, a)))
                    else:
                        edge.append((e.key, self.object(source.node_type, e.children, a)))
                pairs.append(
                    (child.key, f"coalesce(json_agg({q.json_object(edge)} ORDER BY {rank}) {shown}, '[]'::json)")
                )
            else:  # pageInfo
                info: list[tuple[str, str]] = []
                for p in child.children:
                    if p.name == "__typename":
                        info.append((p.key, q.literal("PageInfo")))
                    elif p.name == "hasNextPage":
                        info.append((p.key, f"({size} > 0 AND count(*) > {size})"))
                    elif p.name == "hasPreviousPage":
                        info.append((p.key, "true" if after_given else "false"))
                    elif p.name == "startCursor":
                        info.append((p.key, f"(array_agg({q.cursor(ordering, a)} ORDER BY {a}.rn_) {shown})[1]"))
                    else:  # endCursor
                        info.append((p.key, f"(array_agg({q.cursor(ordering, a)} ORDER BY {a}.rn_ DESC) {shown})[1]"))
                pairs.append((child.key, q.json_object(info)))
        body = q.json_object(pairs)
        if not rows_needed:
            return f"(SELECT {body})"
        order = q.order_by(ordering, a)
        keys = [ph[f"k{i}"] for i in range(len(ordering.columns))] if after_given else []
        page_where = source.where(a) + ([q.after(ordering, a, keys)] if after_given else [])
        if paged:
            page = (
                f"SELECT {a}.*, row_number() OVER (ORDER BY {order}) AS rn_ FROM {source.table} {a} "
                f"WHERE {q.conjunction(page_where)} ORDER BY {order} LIMIT {size} + 1"
            )
        else:
            page = (
                f"SELECT {a}.* FROM {source.table} {a} WHERE {q.conjunction(page_where)} ORDER BY {order} LIMIT {size}"
            )
        return f"(SELECT {body} FROM ({page}) {a} GROUP BY ())"  # one row, also for an empty page

    def lookup(self, sel: Sel, table: str, node_type: str, where: Callable[[str], list[str]]) -> str:
        a = self.alias()
        return f"(SELECT {self.object(node_type, sel.children, a)} FROM {table} {a} WHERE {q.conjunction(where(a))})"


Expr = Callable[[Builder, Sel, str], str]


def column(name: str) -> Expr:
    return lambda b, sel, a: f"{a}.{name}"


def timestamp(name: str) -> Expr:
    return lambda b, sel, a: q.iso(f"{a}.{name}")


def gid(type_name: str) -> Expr:
    return lambda b, sel, a: q.global_id(type_name, a)


def _scoped(ph: Placeholders, column_ref: str) -> list[str]:
    return [f"{column_ref} = {ph['viewer']}"] if "viewer" in ph else []


def _request_filters(ph: Placeholders, t: str, include_archived: bool) -> list[str]:
    out = [f"{t}.status = {ph['status']}"] if "status" in ph else []
    if not include_archived:
        out.append(f"{t}.archived_at IS NULL")
    return out


# Root fields.


def root_customers(b: Builder, sel: Sel, _: str) -> str:
    ph = b.ph(sel)
    (order, descending), include_archived, after_given = b.info(sel)
    ordering = customers_resolvers.ORDERINGS[(order, descending)]

    def where(t: str) -> list[str]:
        out = _scoped(ph, f"{t}.id")
        if not include_archived:
            out.append(f"{t}.archived_at IS NULL")
        if "search" in ph:
            document = (
                f"lower({t}.first_name || ' ' || {t}.last_name || ' | ' || coalesce({t}.email, '') || ' | ' "
                f"|| coalesce({t}.phone, ''))"
            )
            terms = [f"{document} LIKE {ph['search']} ESCAPE '\\'"]
            if "digits" in ph:
                terms.append(f"{t}.phone LIKE {ph['digits']} ESCAPE '\\'")
            if "e164" in ph:
                terms.append(f"{t}.phone = {ph['e164']}")
            out.append(" OR ".join(terms))
        if "created_after" in ph:
            out.append(f"{t}.created_at >= {ph['created_after']}")
        if "created_before" in ph:
            out.append(f"{t}.created_at < {ph['created_before']}")
        return out

    return b.connection(sel, ListSource("customers", ordering, "Customer", where), after_given=after_given)


def root_lookup(table: str, node_type: str, scope_column: str) -> Expr:
    def build(b: Builder, sel: Sel, _: str) -> str:
        ph = b.ph(sel)
        return b.lookup(sel, table, node_type, lambda t: [f"{t}.id = {ph['pk']}", *_scoped(ph, f"{t}.{scope_column}")])

    return build


def root_requests(b: Builder, sel: Sel, _: str) -> str:
    ph = b.ph(sel)
    include_archived, after_given = b.info(sel)

    def where(t: str) -> list[str]:
        out = _scoped(ph, f"{t}.customer_id") + _request_filters(ph, t, include_archived)
        if "customer" in ph:
            out.append(f"{t}.customer_id = {ph['customer']}")
        if "operator" in ph:
            out.append(f"{t}.processed_by_id = {ph['operator']}")
        return out

    source = ListSource("requests", requests_resolvers.ORDERING, "Request", where)
    return b.connection(sel, source, after_given=after_given)


def root_operators(b: Builder, sel: Sel, _: str) -> str:
    (after_given,) = b.info(sel)
    source = ListSource("users", operators_resolvers.ORDERING, "Operator", lambda t: [f"{t}.role IN ({STAFF})"])
    return b.connection(sel, source, after_given=after_given)


# Nested fields.


def root_customer_by_email(b: Builder, sel: Sel, _: str) -> str:
    ph = b.ph(sel)
    return b.lookup(
        sel,
        "customers",
        "Customer",
        lambda t: [
            f"lower({t}.email) = {ph['email']}",
            f"{t}.email IS NOT NULL",
            f"{t}.erased_at IS NULL",
            *_scoped(ph, f"{t}.id"),
        ],
    )


def session_messages(b: Builder, sel: Sel, a: str) -> str:
    (after_given,) = b.info(sel)
    source = ListSource(
        "chat_messages",
        chat_resolvers.MESSAGES_OLDEST_FIRST,
        "ChatMessage",
        lambda t: [f"{t}.session_id = {a}.id"],
        total=f"{a}.message_count",
    )
    return b.connection(sel, source, after_given=after_given)


def message_session(b: Builder, sel: Sel, a: str) -> str:
    return b.lookup(sel, "chat_sessions", "ChatSession", lambda t: [f"{t}.id = {a}.session_id"])


def customer_requests(b: Builder, sel: Sel, a: str) -> str:
    ph = b.ph(sel)
    include_archived, after_given = b.info(sel)
    source = ListSource(
        "requests",
        requests_resolvers.ORDERING,
        "Request",
        lambda t: [f"{t}.customer_id = {a}.id", *_request_filters(ph, t, include_archived)],
    )
    return b.connection(sel, source, after_given=after_given)


def operator_requests(b: Builder, sel: Sel, a: str) -> str:
    ph = b.ph(sel)
    include_archived, after_given = b.info(sel)
    source = ListSource(
        "requests",
        requests_resolvers.ORDERING,
        "Request",
        lambda t: [
            f"{t}.processed_by_id = {a}.id",
            *_request_filters(ph, t, include_archived),
            *_scoped(ph, f"{t}.customer_id"),
        ],
    )
    return b.connection(sel, source, after_given=after_given)


def customer_chat_sessions(b: Builder, sel: Sel, a: str) -> str:
    ph = b.ph(sel)
    (after_given,) = b.info(sel)
    source = ListSource(
        "chat_sessions",
        chat_resolvers.SESSIONS_NEWEST_FIRST,
        "ChatSession",
        lambda t: [f"{t}.customer_id = {a}.id", *([f"{t}.status = {ph['status']}"] if "status" in ph else [])],
    )
    return b.connection(sel, source, after_given=after_given)


def customer_open_count(b: Builder, sel: Sel, a: str) -> str:
    t = b.alias()
    return (
        f"(SELECT count(*) FROM requests {t} WHERE {t}.customer_id = {a}.id "
        f"AND {t}.status IN ({OPEN_STATUSES}) AND {t}.archived_at IS NULL)"
    )


def operator_open_count(b: Builder, sel: Sel, a: str) -> str:
    t = b.alias()
    scope = "".join(f" AND {c}" for c in _scoped(b.ph(sel), f"{t}.customer_id"))
    return (
        f"(SELECT count(*) FROM requests {t} WHERE {t}.processed_by_id = {a}.id "
        f"AND {t}.status IN ({OPEN_STATUSES}) AND {t}.archived_at IS NULL{scope})"
    )


def request_customer(b: Builder, sel: Sel, a: str) -> str:
    return b.lookup(sel, "customers", "Customer", lambda t: [f"{t}.id = {a}.customer_id"])


def request_processed_by(b: Builder, sel: Sel, a: str) -> str:
    return b.lookup(sel, "users", "Operator", lambda t: [f"{t}.id = {a}.processed_by_id", f"{t}.role IN ({STAFF})"])


FIELDS: dict[str, dict[str, Expr]] = {
    "Query": {
        "customers": root_customers,
        "customer": root_lookup("customers", "Customer", "id"),
        "requests": root_requests,
        "request": root_lookup("requests", "Request", "customer_id"),
        "operators": root_operators,
        "chatSession": root_lookup("chat_sessions", "ChatSession", "customer_id"),
        "customerByEmail": root_customer_by_email,
    },
    "Customer": {
        "id": gid("Customer"),
        "firstName": column("first_name"),
        "lastName": column("last_name"),
        "email": column("email"),
        "phone": column("phone"),
        "company": column("company"),
        "createdAt": timestamp("created_at"),
        "updatedAt": timestamp("updated_at"),
        "archivedAt": timestamp("archived_at"),
        "erasedAt": timestamp("erased_at"),
        "version": column("version"),
        "requests": customer_requests,
        "chatSessions": customer_chat_sessions,
        "openRequestCount": customer_open_count,
    },
    "Request": {
        "id": gid("Request"),
        "body": column("body"),
        "status": column("status"),
        "resolutionComment": column("resolution_comment"),
        "createdAt": timestamp("created_at"),
        "updatedAt": timestamp("updated_at"),
        "archivedAt": timestamp("archived_at"),
        "customer": request_customer,
        "createdBy": request_customer,
        "processedBy": request_processed_by,
    },
    "Operator": {
        "id": gid("Operator"),
        "firstName": column("first_name"),
        "lastName": column("last_name"),
        "email": column("email"),
        "role": column("role"),
        "assignedRequests": operator_requests,
        "openRequestCount": operator_open_count,
    },
    "ChatSession": {
        "id": gid("ChatSession"),
        "title": column("title"),
        "status": column("status"),
        "startedAt": timestamp("started_at"),
        "closedAt": timestamp("closed_at"),
        "messageCount": column("message_count"),
        "lastMessageAt": timestamp("last_message_at"),
        "customer": request_customer,
        "messages": session_messages,
    },
    "ChatMessage": {
        "id": gid("ChatMessage"),
        "sender": column("sender"),
        "body": column("body"),
        "createdAt": timestamp("created_at"),
        "session": message_session,
    },
}

BINDS: dict[tuple[str, str], Callable[[dict[str, Any], Viewer], Bound]] = {
    ("Query", "customers"): bind_customers,
    ("Query", "customer"): _by_id("Customer"),
    ("Query", "requests"): bind_requests,
    ("Query", "request"): _by_id("Request"),
    ("Query", "operators"): bind_operators,
    ("Query", "chatSession"): _by_id("ChatSession"),
    ("Query", "customerByEmail"): bind_by_email,
    ("ChatSession", "messages"): bind_messages,
    ("Customer", "requests"): bind_child_requests(scoped=False),
    ("Customer", "chatSessions"): bind_chat_sessions,
    ("Operator", "assignedRequests"): bind_child_requests(scoped=True),
    ("Operator", "openRequestCount"): bind_scope,
}

CONNECTION_FIELDS = frozenset({"edges", "nodes", "pageInfo", "totalCount"})
EDGE_FIELDS = frozenset({"cursor", "node"})
PAGE_INFO_FIELDS = frozenset({"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"})


def known(type_name: str, field_name: str) -> bool:
    if type_name in FIELDS:
        return field_name in FIELDS[type_name]
    if type_name.endswith("Connection"):
        return type_name[: -len("Connection")] in FIELDS and field_name in CONNECTION_FIELDS
    if type_name.endswith("Edge"):
        return type_name[: -len("Edge")] in FIELDS and field_name in EDGE_FIELDS
    return type_name == "PageInfo" and field_name in PAGE_INFO_FIELDS


def rule(type_name: str, field_name: str) -> Callable[[dict[str, Any], Viewer], Bound] | None:
    return BINDS.get((type_name, field_name))
