"""U+0000 in any string input: VALIDATION on that field in a mutation's input, BAD_USER_INPUT for other
arguments — never INTERNAL_SERVER_ERROR (PostgreSQL refuses NUL in text and JSON)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from db.enums import Role
from tests.factories import make_customer, make_user

NUL = "\x00"

PAYLOAD_CASES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    (
        "createCustomer",
        "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id }"
        " errors { code field } } }",
        {"firstName": f"A{NUL}b", "lastName": "B"},
        ["firstName"],
    ),
    (
        "createAuditRecord",
        "mutation($input: CreateAuditRecordInput!) { createAuditRecord(input: $input) { auditRecord { id }"
        " errors { code field } } }",
        {"action": "x.y", "entityType": "X", "details": {"note": {"inner": [f"a{NUL}"]}}},
        ["details", "note", "inner", "0"],
    ),
    (
        "createAuditRecord",
        "mutation($input: CreateAuditRecordInput!) { createAuditRecord(input: $input) { auditRecord { id }"
        " errors { code field } } }",
        {"action": "x.y", "entityType": "X", "details": {f"k{NUL}": 1}},
        ["details", "k"],
    ),
    (
        "login",
        "mutation($input: LoginInput!) { login(input: $input) { token errors { code field } } }",
        {"email": f"a{NUL}@example.com", "password": "whatever-password"},
        ["email"],
    ),
    (
        "signup",
        "mutation($input: SignupInput!) { signup(input: $input) { user { id } errors { code field } } }",
        {"email": "new@example.com", "password": "long-enough-password", "firstName": "A", "lastName": f"{NUL}"},
        ["lastName"],
    ),
]


@pytest.mark.parametrize(("name", "query", "values", "field"), PAYLOAD_CASES, ids=[c[0] for c in PAYLOAD_CASES])
async def test_nul_in_a_mutation_input_is_validation_on_that_field(app, gql, name, query, values, field):
    admin = await make_user(app, Role.ADMIN)
    body = await gql(query, {"input": values}, token=admin.token)
    assert "errors" not in body, body
    payload = body["data"][name]
    assert payload["errors"] == [{"code": "VALIDATION", "field": field}]
    assert all(value is None for key, value in payload.items() if key != "errors")


async def test_nul_in_chat_notes_and_requests_is_validation(app, gql):
    admin = await make_user(app, Role.ADMIN)
    customer = await make_customer(app)
    cid = (await gql("{ customers { nodes { id } } }", token=admin.token))["data"]["customers"]["nodes"][0]["id"]
    assert customer.id is not None
    cases = [
        ("createRequest", "CreateRequestInput", {"customerId": cid, "body": f"x{NUL}y"}, "request { id }", "body"),
        ("addCustomerNote", "AddCustomerNoteInput", {"customerId": cid, "body": NUL}, "note { id }", "body"),
        (
            "startChatSession",
            "StartChatSessionInput",
            {"customerId": cid, "title": f"t{NUL}"},
            "chatSession { id }",
            "title",
        ),
    ]
    for name, input_type, values, selection, field in cases:
        query = f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {selection} errors {{ code field }} }} }}"
        body = await gql(query, {"input": values}, token=admin.token)
        assert body["data"][name]["errors"] == [{"code": "VALIDATION", "field": [field]}], body


def cursor(name: str, *values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([name, *values])).decode().rstrip("=")


async def test_nul_in_other_arguments_is_bad_user_input(app, gql):
    admin = await make_user(app, Role.ADMIN)
    queries = [
        ("query($s: String) { customers(filter: {search: $s}) { totalCount } }", {"s": f"a{NUL}"}),
        ("query($e: String!) { customerByEmail(email: $e) { id } }", {"e": f"x{NUL}@example.com"}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": NUL}),
        ("mutation($t: String!) { verifyEmail(token: $t) { errors { code } } }", {"t": f"t{NUL}"}),
        (
            "query($a: String) { customers(orderBy: {field: LAST_NAME}, after: $a) { totalCount } }",
            {"a": cursor("customers.last_name", f"x{NUL}", 1)},
        ),
    ]
    for query, variables in queries:
        body = await gql(query, variables, token=admin.token)
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        assert codes == ["BAD_USER_INPUT"], (query, body)
