"""The GraphQL-over-HTTP rules: media types and status codes, transport refusals, bodies that are not requests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON_BODY = {"content-type": "application/json"}


async def post(client, body: bytes, **headers: str):  # type: ignore[no-untyped-def]
    return await client.post("/graphql", content=body, headers={**JSON_BODY, **headers})


async def test_graphql_response_json_is_answered_in_kind_with_the_spec_status_codes(client):
    ok = await post(client, b'{"query": "{ __typename }"}', accept=GRAPHQL_RESPONSE)
    assert (ok.status_code, ok.headers["content-type"]) == (200, GRAPHQL_RESPONSE)
    assert ok.json() == {"data": {"__typename": "Query"}}
    for document in (b"{", b"{ nope }"):
        bad = await post(client, b'{"query": "' + document + b'"}', accept=GRAPHQL_RESPONSE)
        assert (bad.status_code, bad.headers["content-type"]) == (400, GRAPHQL_RESPONSE)
        assert "data" not in bad.json()


async def test_application_json_answers_200_for_every_well_formed_request(client):
    for document, code in ((b"{", "GRAPHQL_PARSE_FAILED"), (b"{ nope }", "GRAPHQL_VALIDATION_FAILED")):
        for accept in ("application/json", "*/*", None):
            headers = {"accept": accept} if accept else {}
            response = await post(client, b'{"query": "' + document + b'"}', **headers)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/json")
            body = response.json()
            assert "data" not in body  # execution did not start
            assert body["errors"][0]["extensions"]["code"] == code


async def test_variables_that_do_not_coerce_are_bad_user_input_without_data(app, client):
    from db.enums import Role
    from tests.factories import make_user

    admin = await make_user(app, Role.ADMIN)
    query = b'{"query": "query($s: RequestStatus) { requests(filter: {status: $s}) { totalCount } }", '
    response = await post(
        client, query + b'"variables": {"s": "NOPE"}}', authorization=f"Bearer {admin.token}", accept=GRAPHQL_RESPONSE
    )
    body = response.json()
    assert response.status_code == 400, body
    assert "data" not in body and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b"123",
        b'"text"',
        b"true",
        b"[]",
        b'[{"query": "{ __typename }"}]',
        b"\xff\xfe{",
        b'{"query": ',
        b"",
        b'{"query": "{ __typename }", "operationName": 1}',
        b'{"query": 5}',
        b'{"query": "{ __typename }", "variables": [1]}',
        b'{"query": "{ __typename }", "extensions": "x"}',
        b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
        b"[" * 100000,
    ],
)
async def test_a_body_that_is_not_a_request_object_is_400(client, body):
    response = await post(client, body)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_get_mutation_is_405_with_allow_post(client):
    response = await client.get("/graphql", params={"query": "mutation { __typename }"}, headers={"accept": "*/*"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    query = await client.get("/graphql", params={"query": "{ __typename }"}, headers={"accept": "application/json"})
    assert query.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_other_content_types_are_415(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/graphql", content=b'{"query": "{ __typename }"}', headers=headers)
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_a_body_over_the_limit_is_413_from_its_declared_length(client):
    body = b'{"query": "{ __typename }", "variables": {"pad": "' + b"x" * (1024 * 1024) + b'"}}'
    response = await post(client, body)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_streamed_body_over_the_limit_is_413_before_it_is_all_read(client):
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ __typename }", "variables": {"pad": "'
        for _ in range(40):  # 40 x 64 KiB = 2.5 MiB
            sent += 1
            yield b"x" * 65536
        yield b'"}}'

    response = await client.post("/graphql", content=chunks(), headers=JSON_BODY)
    assert response.status_code == 413
    assert sent < 40  # refused while streaming


async def test_nul_characters_in_the_query_text_are_a_parse_failure(client):
    response = await post(client, b'{"query": "{ __typename \\u0000 }"}')
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
