"""The unit of work itself, used as resolvers use it: commit or roll back everything, map unique violations to
CONFLICT, change loader caches and run hooks only after a successful commit, NOTIFY only on commit."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import col

from db import models
from db.enums import AuditStatus
from db.loaders import Loaders
from resolvers.errors import DomainError, ErrorCode
from resolvers.notes import NotesOfCustomerKey
from resolvers.unit_of_work import system_unit_of_work
from schema.ids import to_global_id
from tests.identity.helpers import count, rows


class Boom(Exception):
    pass


def work(app: Any, loaders: Loaders | None = None, **kwargs: Any) -> Any:
    return system_unit_of_work(app.state.sessionmaker, label="system (test)", loaders=loaders, **kwargs)


async def test_leaving_the_block_commits_the_row_its_audit_and_its_outbox_row(app):
    # when
    async with work(app) as uow:
        customer = models.Customer(first_name="Ada", last_name="Lovelace")
        uow.session.add(customer)
        await uow.session.flush()
        uow.audit(action="customer.created", entity="Customer", entity_id=customer.id, details={"password": "x"})
        uow.outbox("email.customer_created", {"customer_id": customer.id})
    # then
    [record] = await rows(app, models.AuditRecord)
    assert record.entity_type == "Customer" and record.entity_id == to_global_id("Customer", customer.id)
    assert record.actor_label == "system (test)" and record.actor_id is None
    assert record.status == AuditStatus.SUCCESS.value
    assert "password" not in record.details
    [message] = await rows(app, models.OutboxMessage)
    assert message.payload == {"customer_id": customer.id}
    assert await count(app, models.Customer) == 1


async def test_an_exception_rolls_everything_back(app):
    # when
    with pytest.raises(Boom):
        async with work(app) as uow:
            uow.session.add(models.Customer(first_name="Ada", last_name="Lovelace"))
            await uow.session.flush()
            uow.audit(action="customer.created", entity="Customer")
            uow.outbox("email.customer_created", {})
            await uow.session.flush()
            raise Boom
    # then
    assert (await count(app, models.Customer), await count(app, models.AuditRecord)) == (0, 0)
    assert await count(app, models.OutboxMessage) == 0


async def test_a_unique_violation_is_the_conflict_given_for_its_constraint(app):
    # given
    mine = DomainError.one(ErrorCode.CONFLICT, "Taken.", ["email"])
    async with work(app) as uow:
        uow.session.add(models.User(email="a@example.com", first_name="A", last_name="B", role="OPERATOR"))
    # when
    with pytest.raises(DomainError) as caught:
        async with work(app, conflicts={"uq_users_email_lower": mine}) as uow:
            uow.session.add(models.User(email="A@example.com", first_name="A", last_name="B", role="OPERATOR"))
            uow.audit(action="operator.created", entity="Operator")
    # then
    assert [(p.code, p.field, p.message) for p in caught.value.problems] == [(ErrorCode.CONFLICT, ["email"], "Taken.")]
    assert await count(app, models.User) == 1 and await count(app, models.AuditRecord) == 0


async def test_an_unnamed_unique_violation_is_a_generic_conflict(app):
    # given
    async with work(app) as uow:
        uow.session.add(models.User(email="a@example.com", first_name="A", last_name="B", role="OPERATOR"))
    # when
    with pytest.raises(DomainError) as caught:
        async with work(app) as uow:
            uow.session.add(models.User(email="a@example.com", first_name="A", last_name="B", role="OPERATOR"))
    # then
    assert [p.code for p in caught.value.problems] == [ErrorCode.CONFLICT]


async def test_loader_caches_change_only_after_a_successful_commit(app):
    # given: a loader that has cached "no such customer" for id 1
    loaders = Loaders(app.state.sessionmaker)
    assert await loaders.by_id(models.Customer).load(1) is None
    # when: a failed work primed it
    with pytest.raises(Boom):
        async with work(app, loaders) as uow:
            doomed = models.Customer(first_name="Doomed", last_name="Row")
            uow.session.add(doomed)
            await uow.session.flush()
            uow.prime(models.Customer, doomed)
            raise Boom
    # then: the cache still holds the old answer, not a row that never existed
    assert await loaders.by_id(models.Customer).load(doomed.id) is None
    # when: a committed work primes it
    async with work(app, loaders) as uow:
        kept = models.Customer(first_name="Kept", last_name="Row")
        uow.session.add(kept)
        await uow.session.flush()
        uow.prime(models.Customer, kept)
        # not yet: before the commit the loader (its own session) does not see the row, and it is not primed
        assert await loaders.by_id(models.Customer).load(kept.id) is None
    # then
    assert (await loaders.by_id(models.Customer).load(kept.id)) is kept


async def test_changed_children_drop_cached_nested_pages_after_commit(app):
    # given: a cached count of customer 1's notes
    loaders = Loaders(app.state.sessionmaker)
    key = NotesOfCustomerKey(customer_id=1)
    assert await loaders.count(key) == 0
    counter = loaders.cached_count(key)  # each count() is its own shield around this cached future
    assert counter is not None
    # when
    async with work(app, loaders) as uow:
        uow.children_changed(col(models.Note.customer_id), 1)
        assert loaders.cached_count(key) is counter
    # then
    fresh = loaders.count(key)
    assert loaders.cached_count(key) is not counter
    assert await fresh == 0


async def test_after_commit_hooks_run_after_the_commit_in_order_and_never_after_a_rollback(app):
    # given
    seen: list[Any] = []

    async def async_hook() -> None:
        seen.append(("async", await count(app, models.Customer)))

    # when
    async with work(app) as uow:
        uow.session.add(models.Customer(first_name="Ada", last_name="Lovelace"))
        uow.after_commit(lambda: seen.append(("sync", None)))
        uow.after_commit(async_hook)
        assert seen == []
    with pytest.raises(Boom):
        async with work(app) as uow:
            uow.after_commit(lambda: seen.append(("rolled back", None)))
            raise Boom
    # then: the async hook saw the committed row (a separate session)
    assert seen == [("sync", None), ("async", 1)]


async def test_a_failing_hook_does_not_undo_or_fail_the_committed_work(app, caplog):
    # given
    def broken() -> None:
        raise RuntimeError("hook broke")

    ran: list[str] = []
    # when
    async with work(app) as uow:
        uow.session.add(models.Customer(first_name="Ada", last_name="Lovelace"))
        uow.after_commit(broken)
        uow.after_commit(lambda: ran.append("next"))
    # then
    assert await count(app, models.Customer) == 1
    assert ran == ["next"]
    assert "after-commit hook failed" in caplog.text


async def _listener(database_url: str, channel: str) -> tuple[Any, asyncio.Queue[str]]:
    u = make_url(database_url)
    conn = await asyncpg.connect(
        user=u.username,
        password=u.password or None,
        host=u.host or u.query.get("host"),
        port=u.port,
        database=u.database,
    )
    queue: asyncio.Queue[str] = asyncio.Queue()
    await conn.add_listener(channel, lambda _c, _pid, _channel, payload: queue.put_nowait(payload))
    return conn, queue


async def test_publish_notifies_listeners_only_when_the_work_commits(app, database_url):
    # given
    conn, queue = await _listener(database_url, "customer_created")
    try:
        # when: a rolled-back work publishes
        with pytest.raises(Boom):
            async with work(app) as uow:
                await uow.publish("customer_created", {"id": "rolled-back"})
                raise Boom
        # and a committed one publishes, once while the transaction is still open
        async with work(app) as uow:
            await uow.publish("customer_created", {"id": "Q3VzdG9tZXI6MQ=="})
            await asyncio.sleep(0.2)
            assert queue.empty()  # nothing is delivered before the commit
            await uow.publish("customer_created", "plain text")
        # then
        first = await asyncio.wait_for(queue.get(), 5)
        second = await asyncio.wait_for(queue.get(), 5)
        assert (first, second) == ('{"id":"Q3VzdG9tZXI6MQ=="}', "plain text")
        await asyncio.sleep(0.2)
        assert queue.empty()
    finally:
        await conn.close()
