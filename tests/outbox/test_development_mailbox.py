"""The development mailbox: each message an `.eml` file under <APP_DATA_DIR>/mail/, one log line with its path and
no address or body; the verification link, the sales notice and the customer's request emails all land there."""

from __future__ import annotations

import email
import email.policy
import logging
from pathlib import Path

import anyio
from asgi_lifespan import LifespanManager

from db.enums import RequestStatus, Role
from server.app import create_app
from tests.conftest import test_settings as settings_for
from tests.factories import make_customer, make_user
from tests.outbox.conftest import CHANGE_STATUS, SALES, drain, mailbox_relay, outbox_rows
from tests.requests.given import gid, make_request

SIGNUP = """
mutation ($input: SignupInput!) { signup(input: $input) { user { id } errors { code } } }"""
VERIFY = """
mutation ($token: String!) { verifyEmail(token: $token) { user { emailVerified } errors { code } } }"""


def read(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return text, html


async def test_signup_mail_lands_in_the_mailbox_and_the_link_verifies(app, gql, clock, caplog):
    # given
    body = await gql(
        SIGNUP,
        {
            "input": {
                "email": "grace@example.com",
                "password": "a long password",
                "firstName": "Grace",
                "lastName": "<Hopper>",
            }
        },
    )
    assert body["data"]["signup"]["errors"] == []
    relay = mailbox_relay(app, clock)
    mail = Path(relay.settings.app.data_dir) / "mail"

    # when
    with caplog.at_level(logging.INFO, logger="customer_graph.email"):
        await drain(app, relay, clock)

    # then: two files, named by their idempotency keys
    verify, sales = await outbox_rows(app)
    assert [verify.state, sales.state] == ["delivered", "delivered"]
    welcome = read(mail / f"{verify.idempotency_key}.eml")
    assert welcome["To"] == "grace@example.com"
    assert welcome["Subject"] == "Confirm your email address for customer-graph"
    text, html = parts(welcome)
    link = next(line for line in text.splitlines() if "/verify-email?token=" in line).strip()
    assert f'href="{link}"' in html
    notice = read(mail / f"{sales.idempotency_key}.eml")
    assert sorted(a.strip() for a in notice["To"].split(",")) == sorted(SALES)
    assert notice["Subject"] == "New customer: Grace <Hopper>"
    text, html = parts(notice)
    assert "Grace <Hopper>" in text and "Grace &lt;Hopper&gt;" in html and "signed up themselves" in text
    # one line per message: the file's path, never an address or the body
    lines = [r for r in caplog.records if r.name == "customer_graph.email"]
    assert len(lines) == 2
    for record in lines:
        logged = record.getMessage() + str(record.__dict__)
        assert str(mail) in logged
        assert "grace@example.com" not in logged and "verify-email" not in logged and "Hopper" not in logged

    # and the link from the mail verifies the account
    token = link.split("token=", 1)[1]
    verified = await gql(VERIFY, {"token": token})
    assert verified["data"]["verifyEmail"] == {"user": {"emailVerified": True}, "errors": []}


async def test_a_message_delivered_twice_is_one_file(app, gql, clock):
    # given: a relay that delivered, and its row put back as if the relay died before recording it
    await gql(
        SIGNUP,
        {"input": {"email": "ada@example.com", "password": "a long password", "firstName": "Ada", "lastName": "L"}},
    )
    relay = mailbox_relay(app, clock)
    await drain(app, relay, clock)
    async with app.state.engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE outbox SET state = 'pending', delivered_at = NULL")

    # when
    await drain(app, relay, clock)

    # then
    assert len(list((Path(relay.settings.app.data_dir) / "mail").glob("*.eml"))) == 2


async def test_completed_and_rejected_requests_are_mailed_to_the_customer(app, gql, clock):
    # given
    admin = await make_user(app, Role.ADMIN)
    with_email = await make_customer(app, first_name="Bea", email="bea@example.com")
    without_email = await make_customer(app, email=None)
    done = await make_request(
        app, with_email, body="Printer <on fire>", status=RequestStatus.IN_PROGRESS, processed_by=admin.user
    )
    refused = await make_request(app, with_email, body="Free coffee", status=RequestStatus.PENDING)
    silent = await make_request(app, without_email, status=RequestStatus.IN_PROGRESS, processed_by=admin.user)
    back = await make_request(app, with_email, status=RequestStatus.IN_PROGRESS, processed_by=admin.user)

    # when
    for request, status, comment in (
        (done, "COMPLETED", None),
        (refused, "REJECTED", "We <never> do that."),
        (silent, "COMPLETED", None),
        (back, "PENDING", None),
    ):
        body = await gql(
            CHANGE_STATUS,
            {"input": {"requestId": gid("Request", request), "status": status, "resolutionComment": comment}},
            token=admin.token,
        )
        assert body["data"]["changeRequestStatus"]["errors"] == []
    relay = mailbox_relay(app, clock)
    await drain(app, relay, clock)

    # then: one email per resolved request of a customer with an address
    rows = await outbox_rows(app)
    assert [(r.topic, r.payload["id"], r.state) for r in rows] == [
        ("email.request_resolved", gid("Request", done), "delivered"),
        ("email.request_resolved", gid("Request", refused), "delivered"),
    ]
    mail = Path(relay.settings.app.data_dir) / "mail"
    completed, rejected = (read(mail / f"{r.idempotency_key}.eml") for r in rows)
    assert (completed["To"], completed["Subject"]) == ("bea@example.com", "Your support request was completed")
    assert rejected["Subject"] == "Your support request was rejected"
    text, html = parts(rejected)
    assert "We <never> do that." in text and "We &lt;never&gt; do that." in html
    assert "&lt;on fire&gt;" in parts(completed)[1]


async def test_the_server_runs_the_relay_itself_by_default(app, database_url, gql):
    # given: a second server on the same database, with the relay on (the default) and polling fast
    settings = settings_for(outbox__relay_in_server=True, outbox__poll_seconds=0.05)
    server = create_app(settings, database_url_override=database_url)
    await gql(
        SIGNUP,
        {"input": {"email": "lin@example.com", "password": "a long password", "firstName": "Lin", "lastName": "W"}},
    )

    # when
    async with LifespanManager(server):
        for _ in range(200):  # at most 10 s
            if {r.state for r in await outbox_rows(app)} == {"delivered"}:
                break
            await anyio.sleep(0.05)

    # then
    assert len(list((Path(settings.app.data_dir) / "mail").glob("*.eml"))) == 2


def test_a_mailbox_file_reads_back_as_sent_and_stays_readable(tmp_path):
    # given a message with non-ASCII text, markup, and a header value trying to start a header of its own
    from integrations.email import EmailMessage
    from integrations.email.mailbox import FileMailbox

    message = EmailMessage(
        to=("zoë@example.com", "sales@example.com"),
        subject="New customer: Zoë Ünal",
        text="Name: Zoë Ünal\nPlain ASCII line.\n",
        html="<p>Zoë &amp; <b>Ünal</b></p>",
        key="3f1c0d8e-0000-4000-8000-000000000001",
        headers={"X-Category": "sales\r\nBcc: attacker@example.com"},
    )

    # when the mailbox writes it
    path = FileMailbox(tmp_path, sender="Customer Graph <noreply@example.com>")._write(message)

    # then a mail parser reads back every header and both parts, and the file is text a person can read
    parsed = read(path)
    assert parsed["Subject"] == "New customer: Zoë Ünal"
    assert parsed["To"] == "zoë@example.com, sales@example.com"
    assert parsed["X-Idempotency-Key"] == message.key and parsed["Bcc"] is None
    assert parsed["X-Category"] == "sales Bcc: attacker@example.com"
    assert parts(parsed) == (message.text, message.html)
    raw = path.read_bytes()
    assert b"Plain ASCII line." in raw and b"Content-Type: multipart/alternative" in raw


def test_the_mailbox_makes_its_directory_again_when_it_was_removed(tmp_path):
    # given a mailbox that has written a message, whose directory is then removed
    import shutil

    from integrations.email import EmailMessage
    from integrations.email.mailbox import FileMailbox

    box = FileMailbox(tmp_path / "mail", sender="Customer Graph <noreply@example.com>")
    first = EmailMessage(to=("a@example.com",), subject="One", text="1\n", html="<p>1</p>", key="k-1")
    assert box._write(first).exists()
    shutil.rmtree(tmp_path / "mail")

    # when it writes the next one
    second = EmailMessage(to=("a@example.com",), subject="Two", text="2\n", html="<p>2</p>", key="k-2")
    path = box._write(second)

    # then the directory is there again, with the message in it
    assert path == (tmp_path / "mail").resolve() / "k-2.eml"
    assert read(path)["Subject"] == "Two"
