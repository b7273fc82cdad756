"""The "Who may do what" table of API.md, walked for every role through the GraphQL API.

Each row of the table becomes one or more operations; each operation is run as ADMIN, OPERATOR, SALES and
CUSTOMER (customer A's own account) and must end as the table says: allowed actions succeed; a role that may
never run an operation gets a top-level FORBIDDEN; an object the viewer may not see is null / NOT_FOUND; a visible
object the viewer may not act on now is a FORBIDDEN UserError. On top of every expectation, nothing customer A
receives may mention customer B (see world.py), through any path: lists, filters, nested fields, `node(id)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.authz.world import World, build_world

ROLES = ("admin", "operator", "sales", "customer")
Vars = Callable[[World], dict[str, Any]]


# --- expectations ---


@dataclass(frozen=True)
class Ok:
    """No errors; `path` holds a value (a payload: with empty `errors`); `check` sees that value."""

    path: str
    check: Callable[[Any, World], bool] | None = None


@dataclass(frozen=True)
class Forbidden:
    """A top-level FORBIDDEN error and no data for the field."""


@dataclass(frozen=True)
class Absent:
    """The object behaves as absent: null at `path`, no error (or, for a root list, empty)."""

    path: str


@dataclass(frozen=True)
class PayloadError:
    """A payload with the object null and a UserError of `code` (at `field` when given)."""

    path: str
    code: str
    field: list[str] | None = None


@dataclass(frozen=True)
class NullWithForbidden:
    """A nullable staff-only field: null there plus a FORBIDDEN error at that path; the rest of the data intact."""

    path: str


Expect = Ok | Forbidden | Absent | PayloadError | NullWithForbidden


@dataclass(frozen=True)
class Case:
    row: str
    name: str
    document: str
    variables: Vars
    expect: dict[str, Expect]


def dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        if data is None:
            return None
        data = data[int(part)] if isinstance(data, list) else data.get(part)
    return data


def ids_in(value: Any) -> set[str]:
    """Every `id` anywhere inside a response value."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "id" and isinstance(v, str):
                found.add(v)
            else:
                found |= ids_in(v)
    elif isinstance(value, list):
        for item in value:
            found |= ids_in(item)
    return found


def has(*names: str) -> Callable[[Any, World], bool]:
    return lambda value, w: {w.ids[n] for n in names} <= ids_in(value)


def has_not(*names: str) -> Callable[[Any, World], bool]:
    return lambda value, w: not ({w.ids[n] for n in names} & ids_in(value))


def both(*checks: Callable[[Any, World], bool]) -> Callable[[Any, World], bool]:
    return lambda value, w: all(c(value, w) for c in checks)


def codes(body: dict[str, Any]) -> list[str]:
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]


def verify(expect: Expect, body: dict[str, Any], world: World) -> None:
    data = body.get("data")
    if isinstance(expect, Ok):
        assert not body.get("errors"), body
        value = dig(data, expect.path)
        assert value is not None, body
        if isinstance(value, dict) and "errors" in value:
            assert value["errors"] == [], body
        if expect.check is not None:
            assert expect.check(value, world), body
    elif isinstance(expect, Forbidden):
        assert "FORBIDDEN" in codes(body), body
        root = expect_root(body)
        assert root is None, body
    elif isinstance(expect, Absent):
        assert not body.get("errors"), body
        value = dig(data, expect.path)
        assert value in (None, []), body
    elif isinstance(expect, PayloadError):
        assert not body.get("errors"), body
        payload = dig(data, expect.path)
        assert payload is not None, body
        found = [(e["code"], e.get("field")) for e in payload["errors"]]
        assert expect.code in [c for c, _ in found], body
        if expect.field is not None:
            assert (expect.code, expect.field) in found, body
        objects = [v for k, v in payload.items() if k != "errors"]
        if expect.code != "FORBIDDEN":
            assert all(v is None for v in objects), body
    elif isinstance(expect, NullWithForbidden):
        assert dig(data, expect.path) is None, body
        errors = body.get("errors") or []
        assert any(
            (e.get("extensions") or {}).get("code") == "FORBIDDEN"
            and ".".join(str(p) for p in e.get("path") or []) == expect.path
            for e in errors
        ), body


def expect_root(body: dict[str, Any]) -> Any:
    data = body.get("data")
    if not data:
        return None
    values = list(data.values())
    return values[0] if len(values) == 1 else data


def everyone(expect: Expect) -> dict[str, Expect]:
    return dict.fromkeys(ROLES, expect)


def staff(allowed: Expect, customer: Expect) -> dict[str, Expect]:
    return {"admin": allowed, "operator": allowed, "sales": allowed, "customer": customer}


def only(allowed_roles: tuple[str, ...], allowed: Expect, denied: Expect | None = None) -> dict[str, Expect]:
    return {r: (allowed if r in allowed_roles else (denied or Forbidden())) for r in ROLES}


# --- the operations, row by row ---

CUSTOMER = """query Customer($id: ID!) { customer(id: $id) { id firstName email } }"""
CUSTOMERS = """query Customers { customers(first: 50) { totalCount nodes { id email } } }"""
CUSTOMERS_SEARCH = """query Search($s: String!) { customers(filter: {search: $s}) { totalCount nodes { id } } }"""
CUSTOMER_BY_EMAIL = """query ByEmail($email: String!) { customerByEmail(email: $email) { id } }"""
NODE = """query Node($id: ID!) { node(id: $id) { id __typename } }"""
ME_DEEP = """
query MeDeep {
  me { id customer { id
    requests(first: 50) { nodes { id body customer { id } createdBy { id } processedBy { id } } }
    chatSessions(first: 50) { nodes { id title messages(first: 20) { nodes { id body author { id } } } } }
    contracts(first: 50) { nodes { id title downloadUrl customer { id } } }
  } }
}
"""
CREATE_CUSTOMER = """
mutation Create { createCustomer(input: {firstName: "New", lastName: "Person", email: "new.person@example.com"}) {
  customer { id } errors { code field } } }
"""
UPDATE_CUSTOMER = """
mutation Update($id: ID!) { updateCustomer(input: {id: $id, firstName: "Renamed", phone: "+4930123456"}) {
  customer { id firstName } errors { code field } } }
"""
UPDATE_EMAIL = """
mutation UpdateEmail($id: ID!) { updateCustomer(input: {id: $id, email: "changed@example.com"}) {
  customer { id email } errors { code field } } }
"""
UPDATE_COMPANY = """
mutation UpdateCompany($id: ID!) { updateCustomer(input: {id: $id, company: "Acme"}) {
  customer { id company } errors { code field } } }
"""
ARCHIVE_CUSTOMER = """mutation Archive($id: ID!) { archiveCustomer(id: $id) { customer { id } errors { code } } }"""
RESTORE_CUSTOMER = """mutation Restore($id: ID!) { restoreCustomer(id: $id) { customer { id } errors { code } } }"""
ERASE_CUSTOMER = """mutation Erase($id: ID!) { eraseCustomer(id: $id) { customer { id } errors { code } } }"""
CREATE_OPERATOR = """
mutation CreateOperator { createOperator(input: {firstName: "Otto", lastName: "Op", email: "otto@example.com",
  role: OPERATOR}) { operator { id } errors { code field } } }
"""
AUDIT_RECORDS = """query Audit { auditRecords(first: 10) { totalCount nodes { id action } } }"""
AUDIT_RECORD = """query AuditOne($id: ID!) { auditRecord(id: $id) { id action } }"""
CREATE_AUDIT = """
mutation CreateAudit { createAuditRecord(input: {action: "manual.entry", entityType: "Customer"}) {
  auditRecord { id } errors { code } } }
"""
UPDATE_AUDIT = """
mutation UpdateAudit($id: ID!) { updateAuditRecord(input: {id: $id, status: "FAILURE"}) {
  auditRecord { id } errors { code } } }
"""
DELETE_AUDIT = (
    """mutation DeleteAudit($id: ID!) { deleteAuditRecord(id: $id) { auditRecord { id } errors { code } } }"""
)
EXPORT = """query Export($id: ID!) { exportCustomerData(customerId: $id) }"""
NOTES = """query Notes($id: ID!) { customer(id: $id) { id notes(first: 10) { nodes { id body } } } }"""
ADD_NOTE = """
mutation AddNote($id: ID!) { addCustomerNote(input: {customerId: $id, body: "a note"}) { note { id } errors { code } } }
"""
REQUESTS = """query Requests { requests(first: 50) { totalCount nodes { id body customer { id } } } }"""
REQUESTS_OF = """
query RequestsOf($id: ID!) { requests(filter: {customerId: $id}, first: 50) { totalCount nodes { id } } }
"""
REQUESTS_OF_OPERATOR = """
query RequestsOfOp($op: ID!) { requests(filter: {operatorId: $op}, first: 50) { totalCount nodes { id } } }
"""
REQUEST = """query Request($id: ID!) { request(id: $id) { id body customer { id } createdBy { id } } }"""
CUSTOMER_REQUESTS = """query CustReq($id: ID!) { customer(id: $id) { id requests(first: 50) { nodes { id } } } }"""
PROCESSOR_QUEUE = """
query Queue($id: ID!) {
  request(id: $id) {
    id processedBy { id openRequestCount assignedRequests(first: 50) { totalCount nodes { id body } } }
  }
}
"""
CREATE_REQUEST = """
mutation CreateRequest($id: ID!) { createRequest(input: {customerId: $id, body: "Please help"}) {
  request { id } errors { code } } }
"""
ASSIGN = """
mutation Assign($r: ID!, $op: ID!) { assignRequest(input: {requestId: $r, operatorId: $op}) {
  request { id status } errors { code } } }
"""
REJECT = """
mutation Reject($r: ID!) { changeRequestStatus(input: {requestId: $r, status: REJECTED, resolutionComment: "dup"}) {
  request { id status } errors { code } } }
"""
COMPLETE = """
mutation Complete($r: ID!) { changeRequestStatus(input: {requestId: $r, status: COMPLETED, resolutionComment: "ok"}) {
  request { id status } errors { code } } }
"""
CHAT_SESSION = """
query Chat($id: ID!) { chatSession(id: $id) { id title customer { id } messages(first: 10) { nodes { id body } } } }
"""
CUSTOMER_CHATS = """query Chats($id: ID!) { customer(id: $id) { id chatSessions(first: 10) { nodes { id } } } }"""
START_CHAT = """
mutation Start($id: ID!) { startChatSession(input: {customerId: $id, title: "Help"}) {
  chatSession { id } errors { code } } }
"""
POST_MESSAGE = """
mutation Post($id: ID!) { postChatMessage(input: {sessionId: $id, body: "hi"}) { chatMessage { id } errors { code } } }
"""
CLOSE_CHAT = """mutation Close($id: ID!) { closeChatSession(id: $id) { chatSession { id } errors { code } } }"""
CONTRACTS = """
query Contracts($id: ID!) { customer(id: $id) { id contracts(first: 10) { nodes { id downloadUrl } } } }
"""
DELETE_CONTRACT = """mutation DelContract($id: ID!) { deleteContract(id: $id) { contract { id } errors { code } } }"""
SUMMARIZE = """mutation Summ($id: ID!) { summarizeChatSession(sessionId: $id) { text errors { code } } }"""
SUGGEST = """mutation Suggest($id: ID!) { suggestRequestReply(requestId: $id) { text errors { code } } }"""
USER_NODE = """query UserNode($id: ID!) { node(id: $id) { id ... on User { email } } }"""


def v(**names: str) -> Vars:
    """Variables from world IDs: v(id="customerA") -> {"id": <customer A's global id>}."""
    return lambda w: {key: w.ids[name] for key, name in names.items()}


def noargs(w: World) -> dict[str, Any]:
    return {}


CASES: list[Case] = [
    # customers: read — all staff; a customer its own record only
    Case("customers: read", "customer(own)", CUSTOMER, v(id="customerA"), everyone(Ok("customer"))),
    Case(
        "customers: read",
        "customer(other)",
        CUSTOMER,
        v(id="customerB"),
        staff(Ok("customer"), Absent("customer")),
    ),
    Case(
        "customers: read",
        "customers list",
        CUSTOMERS,
        noargs,
        staff(
            Ok("customers", has("customerA", "customerB")),
            Ok("customers", both(has("customerA"), has_not("customerB"))),
        ),
    ),
    Case(
        "customers: read",
        "customers search for the other",
        CUSTOMERS_SEARCH,
        lambda w: {"s": "Bsecret"},
        staff(Ok("customers", has("customerB")), Ok("customers", has_not("customerB"))),
    ),
    Case(
        "customers: read",
        "customerByEmail(other)",
        CUSTOMER_BY_EMAIL,
        lambda w: {"email": w.emails["customerB"]},
        staff(Ok("customerByEmail"), Absent("customerByEmail")),
    ),
    Case(
        "customers: read",
        "customerByEmail(own)",
        CUSTOMER_BY_EMAIL,
        lambda w: {"email": w.emails["customerA"]},
        everyone(Ok("customerByEmail")),
    ),
    Case("customers: read", "node(customer other)", NODE, v(id="customerB"), staff(Ok("node"), Absent("node"))),
    Case("customers: read", "node(customer own)", NODE, v(id="customerA"), everyone(Ok("node"))),
    Case("customers: read", "customer(id of a request)", CUSTOMER, v(id="requestA"), everyone(Absent("customer"))),
    Case("notes", "node(note other)", NODE, v(id="noteB"), staff(Ok("node"), Absent("node"))),
    Case("customers: read", "node(user other)", USER_NODE, v(id="userB"), staff(Ok("node"), Absent("node"))),
    Case("customers: read", "me and everything under it", ME_DEEP, noargs, everyone(Ok("me"))),
    # customers: create, update, archive, restore — ADMIN, SALES; a customer updates its own name and phone
    Case(
        "customers: create/update/archive/restore",
        "createCustomer",
        CREATE_CUSTOMER,
        noargs,
        only(("admin", "sales"), Ok("createCustomer")),
    ),
    Case(
        "customers: create/update/archive/restore",
        "updateCustomer(other)",
        UPDATE_CUSTOMER,
        v(id="customerB"),
        {
            "admin": Ok("updateCustomer"),
            "sales": Ok("updateCustomer"),
            "operator": Forbidden(),
            "customer": PayloadError("updateCustomer", "NOT_FOUND"),
        },
    ),
    Case(
        "customers: create/update/archive/restore",
        "updateCustomer(own name, phone)",
        UPDATE_CUSTOMER,
        v(id="customerA"),
        {
            "admin": Ok("updateCustomer"),
            "sales": Ok("updateCustomer"),
            "operator": Forbidden(),
            "customer": Ok("updateCustomer"),
        },
    ),
    Case(
        "customers: create/update/archive/restore",
        "updateCustomer(own email)",
        UPDATE_EMAIL,
        v(id="customerA"),
        {
            "admin": Ok("updateCustomer"),
            "sales": Ok("updateCustomer"),
            "operator": Forbidden(),
            "customer": PayloadError("updateCustomer", "FORBIDDEN", ["email"]),
        },
    ),
    Case(
        "customers: create/update/archive/restore",
        "updateCustomer(own company)",
        UPDATE_COMPANY,
        v(id="customerA"),
        {
            "admin": Ok("updateCustomer"),
            "sales": Ok("updateCustomer"),
            "operator": Forbidden(),
            "customer": PayloadError("updateCustomer", "FORBIDDEN", ["company"]),
        },
    ),
    Case(
        "customers: create/update/archive/restore",
        "archiveCustomer",
        ARCHIVE_CUSTOMER,
        v(id="customerB"),
        only(("admin", "sales"), Ok("archiveCustomer")),
    ),
    Case(
        "customers: create/update/archive/restore",
        "archiveCustomer(own)",
        ARCHIVE_CUSTOMER,
        v(id="customerA"),
        only(("admin", "sales"), Ok("archiveCustomer")),
    ),
    Case(
        "customers: create/update/archive/restore",
        "restoreCustomer",
        RESTORE_CUSTOMER,
        v(id="customerArchived"),
        only(("admin", "sales"), Ok("restoreCustomer")),
    ),
    # eraseCustomer, createOperator, audit records — ADMIN only
    Case("admin only", "eraseCustomer", ERASE_CUSTOMER, v(id="customerB"), only(("admin",), Ok("eraseCustomer"))),
    Case("admin only", "createOperator", CREATE_OPERATOR, noargs, only(("admin",), Ok("createOperator"))),
    Case("admin only", "auditRecords", AUDIT_RECORDS, noargs, only(("admin",), Ok("auditRecords", has("auditA")))),
    Case("admin only", "auditRecord(id)", AUDIT_RECORD, v(id="auditA"), only(("admin",), Ok("auditRecord"))),
    Case(
        "admin only",
        "node(audit record)",
        NODE,
        v(id="auditA"),
        {"admin": Ok("node"), "operator": Absent("node"), "sales": Absent("node"), "customer": Absent("node")},
    ),
    Case("admin only", "createAuditRecord", CREATE_AUDIT, noargs, only(("admin",), Ok("createAuditRecord"))),
    Case("admin only", "updateAuditRecord", UPDATE_AUDIT, v(id="auditA"), only(("admin",), Ok("updateAuditRecord"))),
    Case("admin only", "deleteAuditRecord", DELETE_AUDIT, v(id="auditA"), only(("admin",), Ok("deleteAuditRecord"))),
    # exportCustomerData — ADMIN; a customer its own
    Case(
        "exportCustomerData",
        "export(own)",
        EXPORT,
        v(id="customerA"),
        {
            "admin": Ok("exportCustomerData"),
            "operator": Forbidden(),
            "sales": Forbidden(),
            "customer": Ok("exportCustomerData"),
        },
    ),
    Case(
        "exportCustomerData",
        "export(other)",
        EXPORT,
        v(id="customerB"),
        {
            "admin": Ok("exportCustomerData"),
            "operator": Forbidden(),
            "sales": Forbidden(),
            "customer": Absent("exportCustomerData"),
        },
    ),
    # notes: read, add — staff; never customers
    Case(
        "notes",
        "customer.notes(own)",
        NOTES,
        v(id="customerA"),
        staff(Ok("customer.notes"), NullWithForbidden("customer.notes")),
    ),
    Case("notes", "addCustomerNote", ADD_NOTE, v(id="customerA"), staff(Ok("addCustomerNote"), Forbidden())),
    Case("notes", "node(note own customer)", NODE, v(id="noteA"), staff(Ok("node"), Absent("node"))),
    # requests: read — staff all; a customer its own
    Case(
        "requests: read",
        "requests list",
        REQUESTS,
        noargs,
        staff(
            Ok("requests", has("requestA", "requestB")),
            Ok("requests", both(has("requestA", "requestABusy"), has_not("requestB", "requestBBusy"))),
        ),
    ),
    Case(
        "requests: read",
        "requests filtered by the other customer",
        REQUESTS_OF,
        v(id="customerB"),
        staff(Ok("requests", has("requestB")), Ok("requests", has_not("requestB", "requestBBusy"))),
    ),
    Case(
        "requests: read",
        "requests filtered by an operator",
        REQUESTS_OF_OPERATOR,
        v(op="operator2"),
        staff(Ok("requests", has("requestABusy", "requestBBusy")), Ok("requests", has_not("requestBBusy"))),
    ),
    Case("requests: read", "request(own)", REQUEST, v(id="requestA"), everyone(Ok("request"))),
    Case("requests: read", "request(other)", REQUEST, v(id="requestB"), staff(Ok("request"), Absent("request"))),
    Case("requests: read", "node(request other)", NODE, v(id="requestB"), staff(Ok("node"), Absent("node"))),
    Case(
        "requests: read",
        "customer(own).requests",
        CUSTOMER_REQUESTS,
        v(id="customerA"),
        everyone(Ok("customer", has("requestA"))),
    ),
    Case(
        "requests: read",
        "request(own).processedBy.assignedRequests",
        PROCESSOR_QUEUE,
        v(id="requestABusy"),
        staff(Ok("request", has("requestBBusy")), Ok("request", has_not("requestBBusy"))),
    ),
    # requests: create — staff; a customer for itself
    Case("requests: create", "createRequest(own)", CREATE_REQUEST, v(id="customerA"), everyone(Ok("createRequest"))),
    Case(
        "requests: create",
        "createRequest(other)",
        CREATE_REQUEST,
        v(id="customerB"),
        staff(Ok("createRequest"), PayloadError("createRequest", "NOT_FOUND")),
    ),
    # requests: assign, change status — ADMIN; OPERATOR by the lifecycle; never SALES or customers
    Case(
        "requests: assign/change status",
        "assignRequest(to the operator)",
        ASSIGN,
        v(r="requestA", op="operator"),
        {"admin": Ok("assignRequest"), "operator": Ok("assignRequest"), "sales": Forbidden(), "customer": Forbidden()},
    ),
    Case(
        "requests: assign/change status",
        "assignRequest(to someone else)",
        ASSIGN,
        v(r="requestA", op="operator2"),
        {
            "admin": Ok("assignRequest"),
            "operator": PayloadError("assignRequest", "FORBIDDEN"),
            "sales": Forbidden(),
            "customer": Forbidden(),
        },
    ),
    Case(
        "requests: assign/change status",
        "reject a PENDING request",
        REJECT,
        v(r="requestA"),
        {
            "admin": Ok("changeRequestStatus"),
            "operator": Ok("changeRequestStatus"),
            "sales": Forbidden(),
            "customer": Forbidden(),
        },
    ),
    Case(
        "requests: assign/change status",
        "complete another operator's request",
        COMPLETE,
        v(r="requestABusy"),
        {
            "admin": Ok("changeRequestStatus"),
            "operator": PayloadError("changeRequestStatus", "FORBIDDEN"),
            "sales": Forbidden(),
            "customer": Forbidden(),
        },
    ),
    # chat: read, post — ADMIN, OPERATOR all; SALES read; a customer its own sessions
    Case("chat", "chatSession(own)", CHAT_SESSION, v(id="sessionA"), everyone(Ok("chatSession"))),
    Case("chat", "chatSession(other)", CHAT_SESSION, v(id="sessionB"), staff(Ok("chatSession"), Absent("chatSession"))),
    Case(
        "chat",
        "customer(own).chatSessions",
        CUSTOMER_CHATS,
        v(id="customerA"),
        everyone(Ok("customer", has("sessionA"))),
    ),
    Case("chat", "node(message other)", NODE, v(id="messageB"), staff(Ok("node"), Absent("node"))),
    Case("chat", "node(session other)", NODE, v(id="sessionB"), staff(Ok("node"), Absent("node"))),
    Case(
        "chat",
        "postChatMessage(own)",
        POST_MESSAGE,
        v(id="sessionA"),
        {
            "admin": Ok("postChatMessage"),
            "operator": Ok("postChatMessage"),
            "sales": Forbidden(),
            "customer": Ok("postChatMessage"),
        },
    ),
    Case(
        "chat",
        "postChatMessage(other)",
        POST_MESSAGE,
        v(id="sessionB"),
        {
            "admin": Ok("postChatMessage"),
            "operator": Ok("postChatMessage"),
            "sales": Forbidden(),
            "customer": PayloadError("postChatMessage", "NOT_FOUND"),
        },
    ),
    Case(
        "chat",
        "startChatSession(own)",
        START_CHAT,
        v(id="customerA"),
        {
            "admin": Ok("startChatSession"),
            "operator": Ok("startChatSession"),
            "sales": Forbidden(),
            "customer": Ok("startChatSession"),
        },
    ),
    Case(
        "chat",
        "startChatSession(other)",
        START_CHAT,
        v(id="customerB"),
        {
            "admin": Ok("startChatSession"),
            "operator": Ok("startChatSession"),
            "sales": Forbidden(),
            "customer": PayloadError("startChatSession", "NOT_FOUND"),
        },
    ),
    Case(
        "chat",
        "closeChatSession(other)",
        CLOSE_CHAT,
        v(id="sessionB"),
        {
            "admin": Ok("closeChatSession"),
            "operator": Ok("closeChatSession"),
            "sales": Forbidden(),
            "customer": PayloadError("closeChatSession", "NOT_FOUND"),
        },
    ),
    # contracts: read, download — staff; a customer its own. upload, delete — ADMIN, SALES
    Case(
        "contracts: read",
        "customer(own).contracts",
        CONTRACTS,
        v(id="customerA"),
        everyone(Ok("customer", has("contractA"))),
    ),
    Case("contracts: read", "node(contract other)", NODE, v(id="contractB"), staff(Ok("node"), Absent("node"))),
    Case(
        "contracts: upload/delete",
        "deleteContract",
        DELETE_CONTRACT,
        v(id="contractA"),
        only(("admin", "sales"), Ok("deleteContract")),
    ),
    # AI features — staff only
    Case(
        "AI features",
        "summarizeChatSession",
        SUMMARIZE,
        v(id="sessionA"),
        staff(Ok("summarizeChatSession.errors"), Forbidden()),
    ),
    Case(
        "AI features",
        "suggestRequestReply",
        SUGGEST,
        v(id="requestA"),
        staff(Ok("suggestRequestReply.errors"), Forbidden()),
    ),
]


def _operation(document: str) -> str:
    """The root field a document runs (first selection of the operation)."""
    body = document.split("{", 1)[1]
    return body.strip().split("(")[0].split("{")[0].split()[0]


PARAMS = [
    pytest.param(case, role, id=f"{case.name} as {role}") for case in CASES for role in ROLES if role in case.expect
]


@pytest.fixture
async def world(app) -> World:
    return await build_world(app)


@pytest.fixture(scope="module")
def root_fields() -> dict[str, set[str]]:
    from schema.root import build_schema

    schema = build_schema()._schema
    return {
        "query": set(schema.query_type.fields) if schema.query_type else set(),
        "mutation": set(schema.mutation_type.fields) if schema.mutation_type else set(),
    }


@pytest.mark.parametrize(("case", "role"), PARAMS)
async def test_who_may_do_what(app, gql, world, root_fields, case: Case, role: str):
    # given
    kind = "mutation" if case.document.strip().startswith("mutation") else "query"
    if _operation(case.document) not in root_fields[kind]:
        pytest.fail(f"{_operation(case.document)} is not in the schema")
    variables = case.variables(world)
    # when
    body = await gql(case.document, variables, token=world.token(role))
    # then
    verify(case.expect[role], body, world)
    if role == "customer":
        sent = json.dumps(variables)
        leaked = [m for m in world.leaks_b(json.dumps(body)) if m not in sent]
        assert leaked == [], f"customer A saw customer B's data ({leaked}): {body}"


ANONYMOUS_DOCUMENTS = [CUSTOMERS, REQUESTS, AUDIT_RECORDS, NODE, CREATE_CUSTOMER, CREATE_REQUEST, ADD_NOTE]


@pytest.mark.parametrize("document", ANONYMOUS_DOCUMENTS, ids=_operation)
async def test_anonymous_callers_are_unauthenticated(app, gql, world, document):
    variables = {"id": world.ids["customerA"]}
    needed = [name for name in ("id",) if f"${name}" in document]
    body = await gql(document, {k: variables[k] for k in needed})
    assert codes(body) == ["UNAUTHENTICATED"]
    assert body.get("data") is None
