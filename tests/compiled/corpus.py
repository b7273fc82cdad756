"""The differential test's corpus: hand-written documents (the hot shapes and the known traps) plus documents
generated from the schema with a seeded random generator — nesting, aliases, named and inline fragments,
variables, page sizes (valid and not), cursors, filters, and fields the compiled path does not plan."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema, get_named_type, is_leaf_type

from resolvers import chat as chat_resolvers
from resolvers import customers as customers_resolvers
from resolvers import operators as operators_resolvers
from resolvers import requests as requests_resolvers
from resolvers.pagination import encode_cursor
from tests.compiled.world import BASE, World


@dataclass
class Doc:
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    name: str = ""


CUSTOMER_FIELDS = "id firstName lastName email phone company createdAt updatedAt archivedAt erasedAt version"
REQUEST_FIELDS = "id body status resolutionComment createdAt updatedAt archivedAt"
SESSION_FIELDS = "id title status startedAt closedAt messageCount lastMessageAt"
PAGE = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"


def hand_written(world: World) -> list[Doc]:
    ids = world.ids
    docs = [
        # query (a) of the benchmark: customers with requests and sessions with counts
        Doc(
            "{ customers(first: 50) { nodes { id firstName lastName email phone createdAt "
            "requests(first: 10) { nodes { id body status createdAt } } "
            "chatSessions(first: 50) { nodes { id title startedAt messageCount } } } } }",
            name="a",
        ),
        # query (b): one customer with its requests and their operators
        Doc(
            "query B($id: ID!) { customer(id: $id) { id firstName lastName email "
            "requests(first: 20) { totalCount nodes { id body status "
            "processedBy { id firstName lastName role } } } } }",
            {"id": ids["alice"]},
            name="b",
        ),
        Doc(
            f"{{ customers(first: 50) {{ totalCount {PAGE} nodes {{ {CUSTOMER_FIELDS} openRequestCount "
            "requests(first: 10) { nodes { status body processedBy { firstName } } } "
            "chatSessions(first: 5) { nodes { title messageCount lastMessageAt } } } } }",
            name="page",
        ),
        Doc(
            "query Queue { operators(first: 20) { nodes { id firstName lastName role openRequestCount "
            "assignedRequests(first: 10) { totalCount nodes { id body status "
            "customer { id firstName lastName } } } } } }",
            name="operator queue",
        ),
        Doc(
            "query Search($s: String) { customers(filter: {search: $s}, first: 10) { totalCount nodes { id firstName "
            "lastName email phone } } }",
            {"s": "able"},
            name="search",
        ),
        Doc(
            "query Search($s: String) { customers(filter: {search: $s}) { nodes { id lastName } } }",
            {"s": "020 8366 1171"},
            name="search phone",
        ),
        Doc(
            "query Search($s: String) { customers(filter: {search: $s}) { nodes { id lastName } } }",
            {"s": "100%_\\"},
        ),
        Doc("query Search($s: String) { customers(filter: {search: $s}) { totalCount } }", {"s": "   "}),
        Doc("query Search($s: String) { customers(filter: {search: $s}) { totalCount } }", {"s": "x" * 201}),
        Doc('{ customers(filter: {search: "żółć"}) { nodes { lastName } } }'),
        Doc('{ customers(filter: {search: "+1 415"}) { nodes { lastName phone } } }'),
        Doc(
            f"{{ customers(first: 3, orderBy: {{field: LAST_NAME}}) {{ {PAGE} "
            "edges { cursor node { id lastName } } } }"
        ),
        Doc(
            f"{{ customers(first: 3, orderBy: {{field: LAST_NAME, direction: DESC}}) {{ {PAGE} edges {{ cursor }} }} }}"
        ),
        Doc(
            "{ customers(first: 2, orderBy: {field: CREATED_AT, direction: DESC}) "
            f"{{ {PAGE} edges {{ cursor }} }} }}"
        ),
        Doc(f"{{ customers(first: 2, filter: {{includeArchived: true}}) {{ totalCount {PAGE} nodes {{ id }} }} }}"),
        Doc(
            "query ($a: DateTime, $b: DateTime) { customers(filter: {createdAfter: $a, createdBefore: $b}) "
            "{ totalCount nodes { createdAt } } }",
            {"a": "2026-03-01T10:30:00+00:00", "b": "2026-03-01T14:00:00"},
        ),
        Doc("{ customers(last: 2) { nodes { id } } }", name="backward"),
        Doc("{ customers(first: 51) { nodes { id } } }", name="first 51"),
        Doc("{ customers(first: -1) { nodes { id } } }"),
        Doc("{ customers(first: 0) { totalCount " + PAGE + " nodes { id } } }"),
        Doc('{ customers(after: "bm9wZQ") { nodes { id } } }', name="bad cursor"),
        Doc('{ customers(first: 1, after: "WyJyZXF1ZXN0cy5pZCIsMV0") { nodes { id } } }', name="foreign cursor"),
        Doc("query ($f: Int) { customers(first: $f) { nodes { id } } }", {"f": "many"}, name="bad variable"),
        Doc("query ($f: Int) { customers(first: $f) { nodes { id } } }", {"f": None}),
        Doc(
            "query C($id: ID!) { customer(id: $id) { ...CustomerBits requests(includeArchived: true) { totalCount "
            "nodes { ...RequestBits customer { id } createdBy { lastName } } } } } "
            f"fragment CustomerBits on Customer {{ {CUSTOMER_FIELDS} }} "
            f"fragment RequestBits on Request {{ {REQUEST_FIELDS} }}",
            {"id": ids["alice"]},
            name="fragments",
        ),
        Doc("query ($id: ID!) { customer(id: $id) { id firstName } }", {"id": ids["bob"]}, name="someone else"),
        Doc("query ($id: ID!) { customer(id: $id) { id archivedAt } }", {"id": ids["carl"]}),
        Doc("query ($id: ID!) { customer(id: $id) { id } }", {"id": ids["req_alice"]}, name="wrong type id"),
        Doc("query ($id: ID!) { customer(id: $id) { id } }", {"id": "not an id"}),
        Doc("query ($id: ID!) { customer(id: $id) { id } }", {"id": "Q3VzdG9tZXI6OTk5OTk5"}),
        Doc(
            "query ($id: ID!) { request(id: $id) { id body status archivedAt processedBy { id email } "
            "customer { id lastName } } }",
            {"id": ids["req_archived"]},
        ),
        Doc("query ($id: ID!) { request(id: $id) { id body } }", {"id": ids["req_bob"]}),
        Doc(
            f"query ($id: ID!) {{ chatSession(id: $id) {{ {SESSION_FIELDS} customer {{ id }} }} }}",
            {"id": ids["session_alice"]},
        ),
        Doc("query ($id: ID!) { chatSession(id: $id) { id title } }", {"id": ids["session_zoe"]}),
        Doc(
            "{ requests(first: 50) { totalCount nodes { body customer { lastName openRequestCount } "
            "createdBy { firstName } processedBy { firstName openRequestCount } } } }"
        ),
        Doc(
            "query ($c: ID, $o: ID) { requests(filter: {customerId: $c, operatorId: $o}) { totalCount nodes { id } } }",
            {"c": ids["alice"], "o": ids["operator"]},
        ),
        Doc("query ($c: ID) { requests(filter: {customerId: $c}) { totalCount } }", {"c": "garbage"}),
        Doc(
            f"{{ requests(filter: {{status: PENDING, includeArchived: true}}, first: 2) {{ totalCount {PAGE} "
            "edges { cursor node { id status } } } }"
        ),
        Doc("{ operators { totalCount " + PAGE + " edges { cursor node { id lastName email role } } } }"),
        Doc(
            "{ operators(first: 2) { nodes { lastName assignedRequests(status: IN_PROGRESS, includeArchived: true) "
            "{ totalCount nodes { id } } } } }"
        ),
        Doc("{ __typename customers(first: 1) { __typename nodes { __typename } pageInfo { __typename } } }"),
        Doc(
            "{ a: customers(first: 1) { n: nodes { i: id } } b: customers(first: 2, orderBy: {field: LAST_NAME}) "
            "{ e: edges { c: cursor node { ... on Customer { l: lastName } } } } }"
        ),
        Doc("{ customers(first: 2) { nodes { id notes(first: 1) { totalCount } } } }", name="notes"),
        Doc("{ customers(first: 2) { nodes { id contracts { totalCount } } } }", name="contracts"),
        Doc(
            "{ customers(first: 2) { nodes { chatSessions { nodes { messages(first: 2) { nodes { body } } } } } } }",
            name="messages",
        ),
        Doc("{ me { id role } }", name="me"),
        Doc(
            "query ($id: ID!) { chatSession(id: $id) { id messageCount messages(first: 2) { totalCount "
            f"{PAGE} edges {{ cursor node {{ id sender body createdAt session {{ id title }} }} }} }} }} }}",
            {"id": ids["session_dora"]},
            name="messages page",
        ),
        Doc(
            "query ($id: ID!, $after: String) { chatSession(id: $id) { messages(first: 1, after: $after) "
            f"{{ {PAGE} nodes {{ id body }} }} }} }}",
            {"id": ids["session_dora"], "after": "WyJjaGF0X21lc3NhZ2VzIiwzXQ"},
        ),
        Doc(
            "query ($id: ID!) { chatSession(id: $id) { messages(last: 2) { nodes { id } } } }",
            {"id": ids["session_dora"]},
            name="messages backward",
        ),
        Doc(
            "query ($id: ID!) { chatSession(id: $id) { messages { nodes { id author { id } } } } }",
            {"id": ids["session_alice"]},
            name="message authors",
        ),
        Doc(
            "query ($e: String!) { customerByEmail(email: $e) { id lastName } }",
            {"e": " Alice@Example.COM "},
            name="by email",
        ),
        Doc("query ($e: String!) { customerByEmail(email: $e) { id } }", {"e": "zoe@example.com"}),
        Doc("query ($e: String!) { customerByEmail(email: $e) { id } }", {"e": "  "}),
        Doc("{ customers(first: 1) { nodes { id @skip(if: true) firstName @include(if: true) } } }"),
        Doc(
            "query ($skip: Boolean!) { customers(first: 1) { nodes { id @skip(if: $skip) } } }",
            {"skip": True},
            name="skip variable",
        ),
        Doc(
            "query ($st: ChatSessionStatus) { customers { nodes { chatSessions(status: $st, first: 2) "
            f"{{ totalCount {PAGE} nodes {{ title status }} }} }} }} }}",
            {"st": "OPEN"},
        ),
        Doc(
            "query One { customers(first: 1) { nodes { id } } } query Two { operators(first: 1) { nodes { id } } }",
            name="two operations",
        ),
    ]
    return docs


# --- generated -----------------------------------------------------------------------------------------------

RELATION_ARGS: dict[tuple[str, str], list[str]] = {
    ("Query", "customers"): ["first", "after", "filter", "orderBy"],
    ("Query", "requests"): ["first", "after", "filter"],
    ("Query", "operators"): ["first", "after"],
    ("Customer", "requests"): ["first", "after", "status", "includeArchived"],
    ("Customer", "chatSessions"): ["first", "after", "status"],
    ("Customer", "notes"): ["first"],
    ("Customer", "contracts"): ["first"],
    ("Operator", "assignedRequests"): ["first", "after", "status", "includeArchived"],
    ("ChatSession", "messages"): ["first", "after"],
}
RARE = {"notes", "contracts", "startedBy", "author", "uploadedBy", "downloadUrl"}


class Generator:
    """Random read documents over the schema (seeded: the same corpus on every run)."""

    def __init__(self, schema: GraphQLSchema, world: World, seed: int) -> None:
        self.schema = schema
        self.world = world
        self.rng = random.Random(seed)
        self.variables: dict[str, Any] = {}
        self.definitions: list[str] = []
        self.fragments: list[str] = []
        self.alone = True  # a single root field: an argument error there cannot cancel sibling fields

    def value(self, type_name: str, arg: str, literal: str, python: Any) -> str:
        """The argument as a literal or, half the time, as a variable."""
        if self.rng.random() < 0.5:
            return literal
        name = f"v{len(self.variables)}"
        self.variables[name] = python
        self.definitions.append(f"${name}: {type_name}")
        return f"${name}"

    def cursors(self, parent: str, field_name: str) -> list[str]:
        """Valid cursors of this list (and, where an error cannot cancel sibling fields, invalid ones)."""
        if field_name == "customers":
            ordering = customers_resolvers.ORDERINGS[("CREATED_AT", False)]
            key: tuple[Any, ...] = (BASE + timedelta(hours=2), 3)
            valid = [
                encode_cursor(ordering, key),
                encode_cursor(ordering, (BASE + timedelta(hours=5, microseconds=7), 9)),
            ]
        elif field_name == "operators":
            valid = [encode_cursor(operators_resolvers.ORDERING, ("Admin", 1))]
        elif field_name == "messages":
            valid = [encode_cursor(chat_resolvers.MESSAGES_OLDEST_FIRST, (3,))]
        elif field_name == "chatSessions":
            valid = [encode_cursor(chat_resolvers.SESSIONS_NEWEST_FIRST, (4,))]
        else:
            valid = [encode_cursor(requests_resolvers.ORDERING, (2,)), encode_cursor(requests_resolvers.ORDERING, (9,))]
        return valid + (["garbage", "WyJjaGF0X3Nlc3Npb25zIiw0XQ"] if self.alone and parent == "Query" else [])

    def args(self, parent: str, field_name: str) -> str:
        rng = self.rng
        out = []
        for arg in RELATION_ARGS.get((parent, field_name), []):
            if rng.random() < 0.5:
                continue
            if arg == "first":
                bad = [51, -1] if self.alone and parent == "Query" else []
                n = rng.choice([0, 1, 2, 3, 5, 10, 50, None, *bad])
                out.append(f"first: {self.value('Int', arg, 'null' if n is None else str(n), n)}")
            elif arg == "after":
                c = rng.choice([*self.cursors(parent, field_name), None])
                lit = "null" if c is None else '"' + c + '"'
                out.append(f"after: {self.value('String', arg, lit, c)}")
            elif arg == "status":
                enum = "ChatSessionStatus" if field_name == "chatSessions" else "RequestStatus"
                s = rng.choice(
                    ["OPEN", "CLOSED"] if enum == "ChatSessionStatus" else ["PENDING", "IN_PROGRESS", "COMPLETED"]
                )
                out.append(f"status: {self.value(enum, arg, s, s)}")
            elif arg == "includeArchived":
                b = rng.choice([True, False, None])
                out.append(f"includeArchived: {self.value('Boolean', arg, 'null' if b is None else str(b).lower(), b)}")
            elif arg == "orderBy":
                f, d = rng.choice(["CREATED_AT", "LAST_NAME"]), rng.choice(["ASC", "DESC"])
                out.append(
                    "orderBy: "
                    + self.value("CustomerOrder", arg, f"{{field: {f}, direction: {d}}}", {"field": f, "direction": d})
                )
            elif arg == "filter" and field_name == "customers":
                term = rng.choice(["a", "ABLE", "example.com", "415", "zz", "ö", None])
                archived = rng.choice([True, False])
                lit = f"{{includeArchived: {str(archived).lower()}" + (f', search: "{term}"' if term else "") + "}"
                out.append(
                    f"filter: {self.value('CustomerFilter', arg, lit, {'includeArchived': archived, 'search': term})}"
                )
            elif arg == "filter":
                ids = self.world.ids
                cid = rng.choice([ids["alice"], ids["zoe"], "nope", None])
                status = rng.choice(["PENDING", "REJECTED", None])
                parts = {"customerId": cid, "status": status, "includeArchived": rng.choice([True, False])}
                lit = (
                    "{"
                    + ", ".join(
                        f'{k}: "{v}"' if k == "customerId" else f"{k}: {str(v).lower() if isinstance(v, bool) else v}"
                        for k, v in parts.items()
                        if v is not None
                    )
                    + "}"
                )
                out.append(
                    "filter: "
                    + self.value("RequestFilter", arg, lit, {k: v for k, v in parts.items() if v is not None})
                )
        return f"({', '.join(out)})" if out else ""

    def selection(self, type_: GraphQLObjectType, depth: int) -> str:
        rng = self.rng
        name = type_.name
        if name.endswith("Connection"):
            node_type = name[: -len("Connection")]
            parts = []
            if rng.random() < 0.6:
                parts.append("totalCount")
            if rng.random() < 0.5:
                parts.append(
                    "pageInfo { "
                    + " ".join(
                        rng.sample(
                            ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"],
                            rng.randint(1, 4),
                        )
                    )
                    + " }"
                )
            node_type_ = self.schema.get_type(node_type)
            if rng.random() < 0.7:
                parts.append(f"nodes {self.selection(node_type_, depth)}")  # type: ignore[arg-type]
            if rng.random() < 0.35 or not parts:
                parts.append(f"edges {{ cursor node {self.selection(node_type_, depth)} }}")  # type: ignore[arg-type]
            return "{ " + " ".join(parts) + " }"
        fields = []
        for field_name, f in type_.fields.items():
            named = get_named_type(f.type)
            if is_leaf_type(named):
                if rng.random() < 0.45:
                    fields.append(self.alias() + field_name)
            elif depth > 0 and (field_name not in RARE or rng.random() < 0.08) and rng.random() < 0.3:
                if (
                    named.name in ("User", "NoteConnection", "ContractConnection", "ChatMessageConnection")
                    and rng.random() < 0.5
                ):
                    continue
                sub = self.selection(named, depth - 1)  # type: ignore[arg-type]
                fields.append(f"{self.alias()}{field_name}{self.args(name, field_name)} {sub}")
        if not fields:
            fields.append("id" if "id" in type_.fields else "__typename")
        r = rng.random()
        body = " ".join(fields)
        if r < 0.15:
            frag = f"F{len(self.fragments)}"
            self.fragments.append(f"fragment {frag} on {name} {{ {body} }}")
            return f"{{ ...{frag} }}"
        if r < 0.25:
            return f"{{ ... on {name} {{ {body} }} }}"
        return "{ " + body + " }"

    def alias(self) -> str:
        return f"x{self.rng.randint(0, 99)}: " if self.rng.random() < 0.1 else ""

    def document(self) -> Doc:
        self.variables, self.definitions, self.fragments = {}, [], []
        rng = self.rng
        query = self.schema.query_type
        assert query is not None
        roots = []
        count = rng.choice([1, 1, 1, 2])
        self.alone = count == 1
        for _ in range(count):
            root = rng.choice(["customers", "customers", "customer", "requests", "request", "operators", "chatSession"])
            named = get_named_type(query.fields[root].type)
            if root in ("customer", "request", "chatSession"):
                key = {
                    "customer": ["alice", "zoe", "bob"],
                    "request": ["req_alice", "req_bob"],
                    "chatSession": ["session_alice", "session_zoe"],
                }[root]
                gid = self.world.ids[rng.choice(key)]
                args = "(id: " + self.value("ID!", "id", '"' + gid + '"', gid) + ")"
            else:
                args = self.args("Query", root)
            alias = f"r{len(roots)}: " if roots or rng.random() < 0.2 else ""
            roots.append(f"{alias}{root}{args} {self.selection(named, rng.choice([1, 2, 2, 3]))}")  # type: ignore[arg-type]
        head = f"query Q({', '.join(self.definitions)})" if self.definitions else "query Q"
        text = head + " { " + " ".join(roots) + " } " + " ".join(self.fragments)
        return Doc(text, dict(self.variables), name="generated")


def generated(schema: GraphQLSchema, world: World, count: int, seed: int = 8) -> list[Doc]:
    gen = Generator(schema, world, seed)
    return [gen.document() for _ in range(count)]
