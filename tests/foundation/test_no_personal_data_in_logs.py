"""A whole flow — signup, a login with a wrong field, create, update, a forced database error, an upload, an
erasure — through the real app with the production log handler; then every captured line is scanned for the
personal values used: none may be there."""

from __future__ import annotations

import io
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from db.enums import Role
from server import redact as patterns
from server.logs import json_handler
from server.redact import redact
from tests.contracts.given import pdf, upload
from tests.factories import make_user

FIRST, LAST = "Zebedee", "Quattlebaum"
EMAIL, NEW_EMAIL = "zebedee.quattlebaum@example.org", "zq.private@mailbox.example"
PHONE, PHONE_E164, NEW_PHONE = "+44 20 7946 0958", "+442079460958", "+4930901820"
COMPANY = "Quattlebaum Holdings"
PASSWORD = "Tr0ub4dor&3-horse-staple"
FILENAME, TITLE = "zebedee-passport.pdf", "Quattlebaum tenancy"
FORCED = ("Ermintrude", "Fothergill", "ermintrude.fothergill@example.net", "+442079460123")

SIGNUP = """
mutation S($input: SignupInput!) { signup(input: $input) { user { id } errors { code field } } }
"""
LOGIN_WRONG_FIELD = 'mutation { login(input: {email: "%s", password: "%s"}) { tokn expiresAt } }'  # "tokn": not a field
LOGIN = "mutation L($input: LoginInput!) { login(input: $input) { token errors { code } } }"
CREATE = """
mutation C($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code } } }
"""
UPDATE = """
mutation U($input: UpdateCustomerInput!) { updateCustomer(input: $input) { customer { id } errors { code } } }
"""
ERASE = "mutation E($id: ID!) { eraseCustomer(id: $id) { customer { id } errors { code } } }"


@pytest.fixture
def captured():  # type: ignore[no-untyped-def]
    """Every log record of the process, through the handler production uses, at INFO — SQL statements included."""
    stream = io.StringIO()
    handler = json_handler(stream)
    root = logging.getLogger()
    engine_logger = logging.getLogger("sqlalchemy.engine")
    saved = (root.level, engine_logger.level)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    engine_logger.setLevel(logging.INFO)  # as an operator debugging with DATABASE_ECHO would
    yield stream
    root.removeHandler(handler)
    root.setLevel(saved[0])
    engine_logger.setLevel(saved[1])


async def post(client, query, variables=None, token=None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    return response.json()


async def test_a_full_flow_leaves_no_personal_value_in_any_log_line(app, client, captured):
    admin = await make_user(app, Role.ADMIN)
    sales = await make_user(app, Role.SALES)
    # signup, then logins that fail in the ways that used to leak: a wrong field, a wrong password, bad variables
    signup = await post(
        client,
        SIGNUP,
        {"input": {"email": EMAIL, "password": PASSWORD, "firstName": FIRST, "lastName": LAST, "phone": PHONE}},
    )
    assert signup["data"]["signup"]["errors"] == []
    wrong_field = await post(client, LOGIN_WRONG_FIELD % (EMAIL, PASSWORD))
    assert "tokn" in wrong_field["errors"][0]["message"]
    await post(client, LOGIN, {"input": {"email": EMAIL, "password": PASSWORD + "x"}})
    await post(client, LOGIN, {"input": {"email": EMAIL, "password": PASSWORD, "otp": PHONE}})
    # create and update a customer
    created = await post(
        client,
        CREATE,
        {"input": {"firstName": FIRST, "lastName": LAST, "email": NEW_EMAIL, "phone": PHONE, "company": COMPANY}},
        sales.token,
    )
    customer_id = created["data"]["createCustomer"]["customer"]["id"]
    await post(
        client, UPDATE, {"input": {"id": customer_id, "phone": NEW_PHONE, "company": COMPANY + " Ltd"}}, sales.token
    )
    # a database error while personal values are bound to the statement
    async with app.state.engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE FUNCTION refuse_customer() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'forced failure'; END $$"
        )
        await conn.exec_driver_sql(
            "CREATE TRIGGER refuse_customer BEFORE INSERT ON customers FOR EACH ROW EXECUTE FUNCTION refuse_customer()"
        )
    try:
        failed = await post(
            client,
            CREATE,
            {"input": {"firstName": FORCED[0], "lastName": FORCED[1], "email": FORCED[2], "phone": FORCED[3]}},
            sales.token,
        )
    finally:
        async with app.state.engine.begin() as conn:
            await conn.exec_driver_sql("DROP TRIGGER refuse_customer ON customers")
            await conn.exec_driver_sql("DROP FUNCTION refuse_customer()")
    assert failed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR", failed
    # an upload with a personal filename and title, then the erasure
    uploaded = await upload(
        client, token=sales.token, customer_id=customer_id, content=pdf(), filename=FILENAME, title=TITLE
    )
    assert uploaded.json()["data"]["uploadContract"]["errors"] == []
    erased = await post(client, ERASE, {"id": customer_id}, admin.token)
    assert erased["data"]["eraseCustomer"]["errors"] == [], erased

    lines = captured.getvalue().splitlines()
    assert any("forced failure" in line for line in lines), "the database error was logged"
    assert any('"graphql error' in line for line in lines), "the validation error was logged"
    personal = [
        FIRST,
        LAST,
        EMAIL,
        NEW_EMAIL,
        PHONE,
        PHONE_E164,
        NEW_PHONE,
        COMPANY,
        PASSWORD,
        FILENAME,
        TITLE,
        *FORCED,
        sales.token,
        admin.token,
    ]
    leaks = [(value, line[:300]) for line in lines for value in personal if value.lower() in line.lower()]
    assert leaks == []


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("sent to a.person@example.com today", "a.person@example.com"),
        ("call +44 20 7946 0958 now", "7946"),
        ("call 020 7946 0958 now", "7946 0958"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nat_ure", "eyJzdWIiOiIxIn0"),
        ('{"email": "x", "password": "hunter2 2"}', "hunter2"),
        ("password=hunter2&next=1", "hunter2"),
    ],
)
def test_the_redaction_filter_catches_each_kind(text, gone):
    assert gone not in redact(text)


@pytest.mark.parametrize(
    "text",
    ["2026-12-02T02:43:32.123+00:00", "took 12.5 ms", "request 3f2a9c1e4b", "size 10485760", "127.0.0.1:8000"],
)
def test_the_redaction_filter_leaves_ordinary_values(text):
    assert redact(text) == text


def _every_pattern(text: str) -> str:
    """`redact` without its quick test for a candidate: the five substitutions, always."""
    gone = patterns.REDACTED
    text = patterns.BEARER.sub(lambda m: f"{m.group(1)} {gone}", text)
    text = patterns.JWT.sub(gone, text)
    text = patterns.SECRET_VALUE.sub(lambda m: m.group(1) + gone, text)
    text = patterns.EMAIL.sub(gone, text)
    return patterns.PHONE.sub(gone, text)


PIECES = st.sampled_from(
    [
        "@",
        "a@b.io",
        "+44",
        " ",
        "-",
        ".",
        "(",
        ")",
        "0",
        "7",
        "12345",
        "eyJ",
        "x.y",
        "Bearer ",
        "bearer",
        "password",
        "passwd",
        "=",
        ":",
        '"',
        "token",
        "API_KEY",
        "secret",
        "authorization",
        "ab",
        "_",
        "/",
        "9",
    ]
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=14).map("".join))
def test_the_quick_candidate_test_never_lets_through_what_a_pattern_would_redact(text):
    # the quick test skips the substitutions only for texts none of them changes
    assert redact(text) == _every_pattern(text)


@pytest.mark.parametrize(
    ("message", "logged"),
    [
        (
            "Variable '$input' got invalid value {'email': 'zq@example.org'}; Field 'x' is not defined.",
            "Variable '$input' got invalid value …",
        ),
        ("Expected value of type 'String!', found Zebedee.", "Expected value of type 'String!', found …"),
        (
            "String cannot represent a non string value: {'name': 'Zebedee'}",
            "String cannot represent a non string value: …",
        ),
        ("Syntax Error: Expected ':', found String \"Zebedee\".", "Syntax Error: Expected ':', found …"),
        ("Syntax Error: Unexpected Name 'Zebedee'.", "Syntax Error: Unexpected Name …"),
        ("Cannot query field 'tokn' on type 'LoginPayload'. Did you mean 'token'?", None),
    ],
)
def test_graphql_error_lines_lose_the_clients_literal_values(message, logged):
    from graphql import GraphQLError

    from server.redact import graphql_message

    assert graphql_message(GraphQLError(message)) == (logged or message)
