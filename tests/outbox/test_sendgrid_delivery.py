"""The relay with the real `sendgrid` client against a local server speaking SendGrid v3: delivered exactly
once; 5xx, 429 and time-outs retried until delivered; 400, 401 and bad recipients dead at once with the reason."""

from __future__ import annotations

from datetime import timedelta

from db.enums import Role
from tests.factories import make_user
from tests.outbox.conftest import SALES, SENDER, drain, outbox_rows, sendgrid_relay
from tests.outbox.sendgrid_stub import HANG, Answer

CREATE = """
mutation ($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } errors { code } }
}"""


async def given_new_customers(app, gql, n: int = 1, **fields) -> list[str]:
    sales = await make_user(app, Role.SALES)
    ids = []
    for i in range(n):
        body = await gql(CREATE, {"input": {"firstName": f"Ann{i}", "lastName": "Lee", **fields}}, token=sales.token)
        assert body["data"]["createCustomer"]["errors"] == []
        ids.append(body["data"]["createCustomer"]["customer"]["id"])
    return ids


async def test_a_new_customer_reaches_the_sales_list_exactly_once(app, gql, stub, clock):
    # given
    [customer_id] = await given_new_customers(app, gql, company="<b>Acme</b>")
    relay = sendgrid_relay(app, stub, clock)

    # when: the relay runs again and again
    for _ in range(3):
        await relay.run_once()
        clock.advance(3600)

    # then
    [row] = await outbox_rows(app)
    assert (row.state, row.attempts, row.last_error) == ("delivered", 1, None)
    assert stub.accepted() == [str(row.idempotency_key)]
    [request] = stub.received
    assert sorted(request.to) == sorted(SALES)
    assert request.body["from"] == {"email": SENDER}
    assert request.subject == "New customer: Ann0 Lee (<b>Acme</b>)"
    text, html = (c["value"] for c in request.body["content"])
    assert customer_id in text and "<b>Acme</b>" in text
    assert "&lt;b&gt;Acme&lt;/b&gt;" in html and "<b>Acme</b>" not in html
    assert request.body["headers"]["X-Idempotency-Key"] == str(row.idempotency_key)


async def test_server_errors_and_rate_limits_are_retried_until_delivered(app, gql, stub, clock):
    # given: SendGrid fails twice, then asks to wait 120 seconds
    await given_new_customers(app, gql)
    stub.answer(Answer(500), Answer(503), Answer(429, retry_after="120"))
    relay = sendgrid_relay(app, stub, clock)
    started = clock()

    # when
    await relay.run_once()
    await relay.run_once()  # not due yet: nothing is sent
    [after_first] = await outbox_rows(app)
    await drain(app, relay, clock)

    # then
    assert after_first.state == "pending" and after_first.last_error.startswith("SendGrid answered 500")
    assert after_first.available_at > started
    assert stub.statuses() == [500, 503, 429, 202]
    [row] = await outbox_rows(app)
    assert (row.state, row.attempts, row.last_error) == ("delivered", 4, None)
    assert stub.accepted() == [str(row.idempotency_key)]


async def test_retry_after_is_honoured(app, gql, stub, clock):
    # given
    await given_new_customers(app, gql)
    stub.answer(Answer(429, retry_after="300"))
    relay = sendgrid_relay(app, stub, clock)

    # when
    await relay.run_once()

    # then: the next attempt is 300 s away (plus at most 10 % spread), not the 2 s backoff
    [row] = await outbox_rows(app)
    wait = (row.available_at - clock()).total_seconds()
    assert 299 <= wait <= 330
    assert "429" in row.last_error
    clock.advance(299)
    await relay.run_once()
    assert len(stub.received) == 1


async def test_a_hanging_sendgrid_times_out_and_the_message_is_retried(app, gql, stub, clock):
    # given: the first request hangs past the client's 1 s timeout
    await given_new_customers(app, gql)
    stub.answer(HANG)
    relay = sendgrid_relay(app, stub, clock)

    # when
    await relay.run_once()
    [timed_out] = await outbox_rows(app)
    stub.release.set()
    await drain(app, relay, clock)

    # then
    assert timed_out.state == "pending" and "did not answer within 1 s" in timed_out.last_error
    [row] = await outbox_rows(app)
    assert row.state == "delivered"
    assert stub.accepted() == [str(row.idempotency_key)]


async def test_bad_request_is_dead_at_once_with_the_reason(app, gql, stub, clock):
    # given
    await given_new_customers(app, gql)
    stub.answer(Answer(400))
    relay = sendgrid_relay(app, stub, clock)

    # when
    await drain(app, relay, clock)
    clock.advance(86400)
    await relay.run_once()

    # then
    [row] = await outbox_rows(app)
    assert (row.state, row.attempts) == ("dead", 1)
    assert row.last_error == "SendGrid answered 400: The to array is required for all personalization objects."
    assert row.dead_at is not None
    assert stub.statuses() == [400]


async def test_a_wrong_api_key_is_dead_at_once_with_the_reason(app, gql, stub, clock):
    # given
    await given_new_customers(app, gql)
    relay = sendgrid_relay(app, stub, clock, api_key="SG.revoked")

    # when
    await drain(app, relay, clock)

    # then
    [row] = await outbox_rows(app)
    assert (row.state, row.attempts) == ("dead", 1)
    assert row.last_error.startswith("SendGrid answered 401: The provided authorization grant is invalid")
    assert stub.statuses() == [401]


async def test_an_invalid_recipient_is_dead_at_once_and_never_sent(app, gql, stub, clock):
    # given: the sales list holds an address that cannot be one
    await given_new_customers(app, gql)
    relay = sendgrid_relay(app, stub, clock, email__sales_recipients=["sales@example.com", "not an address"])

    # when
    await drain(app, relay, clock)

    # then
    [row] = await outbox_rows(app)
    assert (row.state, row.attempts) == ("dead", 1)
    assert row.last_error.startswith("recipient invalid:")
    assert stub.received == []


async def test_a_missing_recipient_is_dead_at_once(app, gql, stub, clock):
    await given_new_customers(app, gql)
    relay = sendgrid_relay(app, stub, clock, email__sales_recipients=[])

    await drain(app, relay, clock)

    [row] = await outbox_rows(app)
    assert row.state == "dead" and row.last_error.startswith("recipient missing")
    assert stub.received == []


async def test_sendgrid_down_for_an_hour_loses_nothing(app, gql, stub, clock):
    # given: five messages, and SendGrid answering 503 until an hour has passed
    await given_new_customers(app, gql, 5)
    started = clock()
    back_at = started + timedelta(hours=1)
    relay = sendgrid_relay(app, stub, clock)
    stub.default = Answer(503)

    # when: the relay runs whenever something is due, the clock jumping ahead
    while clock() < back_at:
        await relay.run_once()
        due = min(r.available_at for r in await outbox_rows(app))
        clock.to(due)
    stub.default = Answer(202)
    await drain(app, relay, clock)

    # then: everything delivered, once each, within a few attempts of SendGrid's return
    rows = await outbox_rows(app)
    assert [r.state for r in rows] == ["delivered"] * 5
    assert sorted(stub.accepted()) == sorted(str(r.idempotency_key) for r in rows)
    assert stub.statuses().count(503) >= 5 * 8
    assert clock() - back_at < timedelta(minutes=11)  # the backoff is capped at 600 s (plus jitter)


async def test_out_of_attempts_is_dead_keeping_the_last_error(app, gql, stub, clock):
    # given
    await given_new_customers(app, gql)
    stub.default = Answer(500)
    relay = sendgrid_relay(app, stub, clock, outbox__max_attempts=3)

    # when
    await drain(app, relay, clock)

    # then
    [row] = await outbox_rows(app)
    assert (row.state, row.attempts) == ("dead", 3)
    assert row.last_error == "SendGrid answered 500: error (gave up after 3 attempts)"
    assert stub.statuses() == [500, 500, 500]


async def test_retry_after_as_an_http_date_is_honoured(app, gql, stub, clock):
    # given: SendGrid names a moment two minutes ahead
    import time
    from email.utils import formatdate

    await given_new_customers(app, gql)
    stub.answer(Answer(429, retry_after=formatdate(time.time() + 120, usegmt=True)))
    relay = sendgrid_relay(app, stub, clock)

    # when
    await relay.run_once()

    # then
    [row] = await outbox_rows(app)
    assert 100 <= (row.available_at - clock()).total_seconds() <= 135
