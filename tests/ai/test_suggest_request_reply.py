"""suggestRequestReply: a draft reply from the request and the customer's recent requests (newest first),
masked, audited; other customers' requests never go out."""

from __future__ import annotations

import pytest

from db.enums import RequestStatus, Role
from tests.ai.given import PERSONAL, customer_with_data, operator, request_for
from tests.ai.provider import ANSWER, MODEL
from tests.chat.given import audit_rows, gid
from tests.factories import make_customer, make_user

SUGGEST = """
mutation Suggest($id: ID!) {
  suggestRequestReply(requestId: $id) { text model errors { code message field retryAfter } }
}
"""


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.SALES])
async def test_staff_get_a_suggested_reply_from_the_request_and_its_customers_history(app, gql, ai, provider, role):
    # given
    customer = await customer_with_data(app)
    oscar = await operator(app)
    await request_for(
        app,
        customer,
        "Refund the duplicate charge, Ada Lovelace.",
        status=RequestStatus.COMPLETED,
        resolution_comment="Refunded by Oscar Opsworth.",
        processed_by_id=oscar.id,
    )
    await request_for(app, customer, "Move my delivery to the London office.")
    current = await request_for(app, customer, "My invoice shows the wrong VAT number; call 020 7946 0019.")
    other = await make_customer(app, first_name="Grace", last_name="Hopper")
    await request_for(app, other, "Grace's secret compiler licence question.")
    staff = await make_user(app, role)
    # when
    body = await gql(SUGGEST, {"id": gid("Request", current)}, token=staff.token)
    # then
    assert body["data"]["suggestRequestReply"] == {"text": ANSWER, "model": MODEL, "errors": []}
    prompt = provider.requests[0]["messages"][1]["content"]
    assert prompt.startswith("Request, PENDING: My invoice shows the wrong VAT number; call [phone].")
    assert prompt.index("delivery to the London office") < prompt.index("duplicate charge")  # newest first
    assert "(resolution: Refunded by [name] [name].)" in prompt
    assert "Grace" not in provider.prompt() and "compiler" not in provider.prompt()
    assert [p for p in PERSONAL if p.lower() in provider.prompt().lower()] == []
    [record] = await audit_rows(app, action="ai.suggested")
    assert (record.entity_type, record.entity_id, record.status) == ("Request", gid("Request", current), "SUCCESS")
    assert record.details["usage"]["totalTokens"] == 150 and "VAT" not in str(record.details)


async def test_the_history_is_trimmed_to_the_budget_newest_first(app, gql, ai, provider):
    # given
    await ai(prompt_budget_chars=300)
    customer = await make_customer(app)
    for n in range(20):
        await request_for(app, customer, f"Older request number {n} about an unrelated matter.")
    current = await request_for(app, customer, "The current request.")
    staff = await make_user(app, Role.OPERATOR)
    # when
    await gql(SUGGEST, {"id": gid("Request", current)}, token=staff.token)
    # then
    prompt = provider.requests[0]["messages"][1]["content"]
    assert "The current request." in prompt
    assert "number 19 " in prompt and "number 0 " not in prompt
    assert len(prompt) < 450


async def test_a_customer_is_forbidden(app, gql, ai, provider):
    # given
    me = await make_user(app, Role.CUSTOMER)
    async with app.state.sessionmaker() as session:
        from db import models

        own = await session.get(models.Customer, me.user.customer_id)
    request = await request_for(app, own, "Help me")
    # when
    body = await gql(SUGGEST, {"id": gid("Request", request)}, token=me.token)
    # then
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert provider.requests == []


async def test_an_unknown_request_is_not_found(app, gql, ai, provider):
    # given
    staff = await make_user(app, Role.SALES)
    # when
    body = await gql(SUGGEST, {"id": "UmVxdWVzdDo0MDQ="}, token=staff.token)
    # then
    assert [(e["code"], e["field"]) for e in body["data"]["suggestRequestReply"]["errors"]] == [
        ("NOT_FOUND", ["requestId"])
    ]
    assert provider.requests == []
