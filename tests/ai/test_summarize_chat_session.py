"""summarizeChatSession: staff get a summary written by the provider (the real openai client against a local
chat-completions server); personal data is masked out of the prompt; each call is audited without texts."""

from __future__ import annotations

import pytest

from db import models
from db.enums import Role
from tests.ai.given import PERSONAL, chat_with_data, customer_with_data, operator
from tests.ai.provider import ANSWER, MODEL
from tests.chat.given import audit_rows, gid, make_session
from tests.factories import make_customer, make_user

SUMMARIZE = """
mutation Summarize($id: ID!) {
  summarizeChatSession(sessionId: $id) { text model errors { code message field retryAfter } }
}
"""


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.SALES])
async def test_staff_get_a_summary(app, gql, ai, provider, role):
    # given
    customer = await customer_with_data(app)
    chat = await chat_with_data(app, customer, await operator(app))
    staff = await make_user(app, role)
    # when
    body = await gql(SUMMARIZE, {"id": gid("ChatSession", chat)}, token=staff.token)
    # then
    assert body["data"]["summarizeChatSession"] == {"text": ANSWER, "model": MODEL, "errors": []}
    [sent] = provider.requests
    assert sent["model"] == "gpt-test"
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert "wrong VAT number" in provider.prompt() and "corrected invoice" in provider.prompt()
    assert provider.headers[0]["authorization"] == "Bearer sk-test-key"


async def test_the_prompt_holds_no_email_phone_or_name_by_default(app, gql, ai, provider):
    # given
    customer = await customer_with_data(app)
    chat = await chat_with_data(app, customer, await operator(app))
    staff = await make_user(app, Role.OPERATOR)
    # when
    await gql(SUMMARIZE, {"id": gid("ChatSession", chat)}, token=staff.token)
    # then
    prompt = provider.prompt()
    assert [p for p in PERSONAL if p.lower() in prompt.lower()] == []
    assert "[name]" in prompt and "[email]" in prompt and "[phone]" in prompt
    assert "Customer: Hi, [name] [name] here." in prompt


async def test_personal_data_is_sent_only_when_the_setting_allows_it(app, gql, ai, provider):
    # given
    await ai(send_personal_data=True)
    customer = await customer_with_data(app)
    chat = await chat_with_data(app, customer, await operator(app))
    staff = await make_user(app, Role.OPERATOR)
    # when
    await gql(SUMMARIZE, {"id": gid("ChatSession", chat)}, token=staff.token)
    # then
    assert "Ada Lovelace" in provider.prompt() and "020 7946 0019" in provider.prompt()


async def test_a_long_session_is_trimmed_to_the_budget_newest_first(app, gql, ai, provider):
    # given
    await ai(prompt_budget_chars=400)
    customer = await customer_with_data(app)
    chat = await chat_with_data(app, customer, await operator(app), extra=30)
    staff = await make_user(app, Role.OPERATOR)
    # when
    body = await gql(SUMMARIZE, {"id": gid("ChatSession", chat)}, token=staff.token)
    # then
    assert body["data"]["summarizeChatSession"]["errors"] == []
    user_prompt = provider.requests[0]["messages"][1]["content"]
    assert "Filler message number 29" in user_prompt  # the newest
    assert "wrong VAT number" not in user_prompt  # the oldest did not fit
    assert "earlier messages left out" in user_prompt
    assert len(user_prompt) < 600


async def test_the_call_is_audited_without_prompt_or_answer(app, gql, ai, provider):
    # given
    customer = await customer_with_data(app)
    chat = await chat_with_data(app, customer, await operator(app))
    staff = await make_user(app, Role.SALES)
    # when
    await gql(SUMMARIZE, {"id": gid("ChatSession", chat)}, token=staff.token)
    # then
    [record] = await audit_rows(app, action="ai.summarized")
    assert (record.entity_type, record.entity_id, record.actor_id) == (
        "ChatSession",
        gid("ChatSession", chat),
        staff.id,
    )
    assert record.status == "SUCCESS"
    assert record.details == {
        "model": MODEL,
        "usage": {"promptTokens": 120, "completionTokens": 30, "totalTokens": 150},
    }
    assert ANSWER not in str(record.details) and "VAT" not in str(record.details)


async def test_customers_are_forbidden_even_for_their_own_session(app, gql, ai, provider):
    # given
    me = await make_user(app, Role.CUSTOMER)
    own = await make_session(app, await app_customer(app, me))
    # when
    body = await gql(SUMMARIZE, {"id": gid("ChatSession", own)}, token=me.token)
    # then
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert provider.requests == []
    assert await audit_rows(app) == []


async def app_customer(app, account) -> models.Customer:
    async with app.state.sessionmaker() as session:
        return await session.get(models.Customer, account.user.customer_id)  # type: ignore[return-value]


@pytest.mark.parametrize("session_id", ["nope", "Q3VzdG9tZXI6MQ==", "Q2hhdFNlc3Npb246OTk5OQ=="])
async def test_an_unknown_session_is_not_found(app, gql, ai, provider, session_id):
    # given
    await make_customer(app)
    staff = await make_user(app, Role.ADMIN)
    # when
    body = await gql(SUMMARIZE, {"id": session_id}, token=staff.token)
    # then
    assert body["data"]["summarizeChatSession"] == {
        "text": None,
        "model": None,
        "errors": [
            {"code": "NOT_FOUND", "message": "Chat session not found.", "field": ["sessionId"], "retryAfter": None}
        ],
    }
    assert provider.requests == []


async def test_without_a_configured_service_it_is_ai_not_configured(app, gql, monkeypatch):
    # given: the test app's settings configure no AI
    monkeypatch.setattr(app.state.services, "ai", None)
    chat = await make_session(app, await make_customer(app))
    staff = await make_user(app, Role.OPERATOR)
    # when
    body = await gql(SUMMARIZE, {"id": gid("ChatSession", chat)}, token=staff.token)
    # then
    payload = body["data"]["summarizeChatSession"]
    assert payload["text"] is None
    assert [e["code"] for e in payload["errors"]] == ["AI_NOT_CONFIGURED"]
