"""The provider's failures as the API reports them: clear codes, `retryAfter` where retrying helps, never a 500,
never the provider's own text; each failed call audited as FAILURE."""

from __future__ import annotations

import time

import pytest

from db.enums import Role
from tests.ai.provider import ANSWER
from tests.chat.given import audit_rows, gid, make_session
from tests.factories import make_customer, make_user

SUMMARIZE = """
mutation Summarize($id: ID!) {
  summarizeChatSession(sessionId: $id) { text model errors { code message field retryAfter } }
}
"""
SECRET_TEXT = "Incorrect API key provided: sk-live-SECRET"


async def summarize(app, gql) -> dict:
    chat = await make_session(app, await make_customer(app), messages=2)
    staff = await make_user(app, Role.OPERATOR)
    body = await gql(SUMMARIZE, {"id": gid("ChatSession", chat)}, token=staff.token)
    assert "errors" not in body, body  # never a top-level error
    return body["data"]["summarizeChatSession"]  # type: ignore[no-any-return]


def error_of(payload: dict) -> tuple[str, int | None]:
    assert payload["text"] is None and payload["model"] is None
    [error] = payload["errors"]
    assert SECRET_TEXT not in error["message"] and "sk-" not in error["message"]
    return error["code"], error["retryAfter"]


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_are_ai_auth_failed(app, gql, ai, provider, status):
    # given
    provider.default = (status, {"error": {"message": SECRET_TEXT, "type": "invalid_request_error"}}, {})
    # when
    payload = await summarize(app, gql)
    # then
    assert error_of(payload) == ("AI_AUTH_FAILED", None)
    [record] = await audit_rows(app, action="ai.summarized")
    assert record.status == "FAILURE" and record.details == {"model": "gpt-test", "error": "AI_AUTH_FAILED"}


async def test_rate_limited_is_ai_unavailable_with_the_providers_retry_after(app, gql, ai, provider):
    # given
    provider.default = (429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "37"})
    # when
    payload = await summarize(app, gql)
    # then
    assert error_of(payload) == ("AI_UNAVAILABLE", 37)


async def test_a_retry_after_date_is_turned_into_seconds(app, gql, ai, provider):
    # given
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 90))
    provider.default = (503, {"error": {"message": "overloaded"}}, {"Retry-After": when})
    # when
    code, retry_after = error_of(await summarize(app, gql))
    # then
    assert code == "AI_UNAVAILABLE" and retry_after is not None and 80 <= retry_after <= 91


@pytest.mark.parametrize("status", [500, 502, 400, 404])
async def test_server_errors_and_other_refusals_are_ai_unavailable_with_a_default_retry_after(
    app, gql, ai, provider, status
):
    # given
    provider.default = (status, {"error": {"message": SECRET_TEXT}}, {})
    # when
    payload = await summarize(app, gql)
    # then
    assert error_of(payload) == ("AI_UNAVAILABLE", 10)
    [record] = await audit_rows(app, action="ai.summarized")
    assert record.status == "FAILURE" and record.details["error"] == "AI_UNAVAILABLE"


async def test_a_hang_past_the_time_out_is_ai_unavailable(app, gql, ai, provider):
    # given
    await ai(timeout_seconds=0.5)
    provider.hang_seconds = 3.0
    # when
    started = time.monotonic()
    payload = await summarize(app, gql)
    # then
    assert time.monotonic() - started < 2.5
    assert error_of(payload) == ("AI_UNAVAILABLE", 10)


async def test_an_unreachable_provider_is_ai_unavailable(app, gql, ai, provider):
    # given: nothing listens on port 9 of 127.0.0.1
    await ai(base_url="http://127.0.0.1:9/v1")
    # when
    payload = await summarize(app, gql)
    # then
    assert error_of(payload) == ("AI_UNAVAILABLE", 10)


@pytest.mark.parametrize(
    "body",
    [
        b"this is not json",
        b"{}",
        b'{"choices": []}',
        b'{"choices": [{"message": {"role": "assistant", "content": null}}]}',
        b'{"choices": [{"message": {"role": "assistant", "content": "   "}}]}',
        b'{"choices": "nope", "usage": 5}',
        b"[1, 2, 3]",
    ],
)
async def test_a_malformed_answer_is_ai_unavailable(app, gql, ai, provider, body):
    # given
    provider.default = (200, body, {})
    # when
    payload = await summarize(app, gql)
    # then
    assert error_of(payload)[0] == "AI_UNAVAILABLE"


async def test_a_server_error_is_retried_as_many_times_as_configured(app, gql, ai, provider):
    # given
    await ai(max_retries=1)
    provider.script = [(500, {"error": {"message": "try again"}}, {"Retry-After": "0.1"})]
    started = time.monotonic()
    # when
    payload = await summarize(app, gql)
    # then
    assert payload["text"] == ANSWER and payload["errors"] == []
    assert len(provider.requests) == 2
    assert time.monotonic() - started >= 0.1  # it waited as the provider asked


async def test_a_long_retry_after_is_returned_at_once_instead_of_waited_for(app, gql, ai, provider):
    # given
    await ai(max_retries=2)
    provider.default = (429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "37"})
    # when
    started = time.monotonic()
    payload = await summarize(app, gql)
    # then
    assert time.monotonic() - started < 2
    assert error_of(payload) == ("AI_UNAVAILABLE", 37)
    assert len(provider.requests) == 1


async def test_a_time_out_is_not_retried(app, gql, ai, provider):
    # given
    await ai(timeout_seconds=0.5, max_retries=2)
    provider.hang_seconds = 2.0
    # when
    payload = await summarize(app, gql)
    # then
    assert error_of(payload) == ("AI_UNAVAILABLE", 10)
    assert len(provider.requests) == 1


async def test_a_bad_request_is_not_retried(app, gql, ai, provider):
    # given
    await ai(max_retries=2)
    provider.default = (400, {"error": {"message": "context too long"}}, {})
    # when
    payload = await summarize(app, gql)
    # then
    assert error_of(payload)[0] == "AI_UNAVAILABLE"
    assert len(provider.requests) == 1
