"""Outbox fixtures: a SendGrid stub on 127.0.0.1, a clock the test moves, and relays built from the app's parts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from db import models
from integrations.email.mailbox import FileMailbox
from integrations.email.sendgrid_backend import SendGridBackend
from server.relay import Relay
from tests.conftest import test_settings
from tests.outbox.sendgrid_stub import API_KEY, SendGridStub

SENDER = "no-reply@customer-graph.example.com"
SALES = ["sales-team@example.com", "sales-lead@example.com"]


class Clock:
    """The real UTC time plus however far the test has moved it (jumps forward only)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def to(self, when: datetime) -> None:
        if when > self():
            self.offset += when - self()


@pytest.fixture
def stub() -> Iterator[SendGridStub]:
    with SendGridStub() as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


def relay_settings(**overrides: Any) -> Any:
    values = {
        "email__sender": SENDER,
        "email__sales_recipients": SALES,
        "email__timeout_seconds": 1.0,
        "outbox__lease_seconds": 30.0,
        "outbox__backoff_base_seconds": 2.0,
        "outbox__backoff_max_seconds": 600.0,
        "outbox__max_attempts": 30,
    }
    values.update(overrides)
    return test_settings(**values)


def sendgrid_relay(app: Any, stub: SendGridStub, clock: Clock, *, api_key: str = API_KEY, **overrides: Any) -> Relay:
    settings = relay_settings(**overrides)
    backend = SendGridBackend(
        api_key=api_key,
        sender=SENDER,
        host=stub.url,
        timeout_seconds=settings.email.timeout_seconds,
    )
    return Relay(app.state.sessionmaker, backend, settings, clock=clock, worker="test-relay")


def mailbox_relay(app: Any, clock: Clock, **overrides: Any) -> Relay:
    settings = relay_settings(**overrides)
    backend = FileMailbox(f"{settings.app.data_dir}/mail", sender=SENDER)
    return Relay(app.state.sessionmaker, backend, settings, clock=clock, worker="test-relay")


async def outbox_rows(app: Any) -> list[models.OutboxMessage]:
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(models.OutboxMessage).order_by(models.OutboxMessage.id))).all())


async def drain(app: Any, relay: Relay, clock: Clock, *, rounds: int = 200) -> int:
    """Run rounds, moving the clock to the next due attempt, until nothing is pending; the rounds used."""
    for used in range(1, rounds + 1):
        await relay.run_once()
        async with app.state.sessionmaker() as session:
            due = await session.scalar(
                select(func.min(models.OutboxMessage.available_at)).where(models.OutboxMessage.state == "pending")
            )
        if due is None:
            return used
        clock.to(due)
    raise AssertionError(f"still pending after {rounds} rounds")


# Documents the outbox tests send (each writes an outbox row).
CREATE_CUSTOMER = """
mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code } } }"""
CHANGE_STATUS = """
mutation ($input: ChangeRequestStatusInput!) {
  changeRequestStatus(input: $input) { request { status } errors { code } }
}"""
