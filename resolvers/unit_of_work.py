"""The unit of work: a mutation's one session and transaction, its audit and outbox rows, and what follows commit.

    async with unit_of_work(ctx) as uow:
        row = models.Customer(...)
        uow.session.add(row)
        await uow.session.flush()
        uow.audit(action="customer.created", entity="Customer", entity_id=row.id, details={...})
        uow.outbox("email.customer_created", {"id": ...})
        uow.prime(models.Customer, row)          # loader caches: applied only after a successful commit
        uow.children_changed(col(models.Note.customer_id), note.customer_id)  # drops cached lists of those notes
        uow.publish("customer_created", {...})  # pg_notify inside the transaction: delivered on commit only
        uow.after_commit(callback)              # runs after the commit, never after a rollback
    # committed here

What it owns, so mutations never repeat it by hand:

- **The session and its one transaction.** Leaving the block normally commits; any exception rolls everything
  back — the entity, its audit row, its outbox rows and its notifications appear together or not at all.
- **The audit row** (`uow.audit`): the only place an `AuditRecord` is built. The actor is the viewer of the request
  (or the system actor of a CLI command), keys in `SECRET_KEYS` never reach `details`, an integer `entity_id`
  becomes the entity's stored reference (db/refs.py).
- **The outbox row** (`uow.outbox`): the only place an `OutboxMessage` is built; the relay delivers it after
  commit, at least once. A commit that wrote one wakes this process's relay (`Services.outbox_written`).
- **Unique violations → CONFLICT.** An `IntegrityError` for a unique constraint, raised while flushing or at
  commit, becomes a `DomainError` with code CONFLICT: the one given for that constraint in `conflicts`, else a
  generic one. Other integrity errors stay bugs.
- **Loader caches.** The work records what it changed — a row (`prime`, `forget`: model and id) and the children
  of a parent (`children_changed`: e.g. the requests of customer 7, whatever list shows them) — and applies it to
  the request's loaders only after a successful commit: a rolled-back write never leaves a row in the cache, and
  exactly the cached lists that show those children are dropped (db/loaders.py), so a read later in the same
  request sees the write while other parents' lists stay cached.
- **After-commit hooks** (`uow.after_commit(fn)`, sync or async): run in order after the commit, after the loader
  changes; a failing hook is logged and does not undo or fail the committed mutation.
- **Notifications** (`await uow.publish(channel, payload)`): `SELECT pg_notify(...)` inside the transaction;
  PostgreSQL delivers a NOTIFY only when (and if) the transaction commits.

`unit_of_work(ctx)` is for resolvers (the actor and the loaders come from the request); `system_unit_of_work(
sessionmaker, label=...)` is for CLI commands such as `create-admin` and `seed`, which have no request.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped

from db.enums import AuditStatus
from db.loaders import Children, Loaders
from db.models import AuditRecord, OutboxMessage
from db.refs import entity_ref
from resolvers.context import RequestContext
from resolvers.errors import DomainError, ErrorCode

log = logging.getLogger("customer_graph.unit_of_work")

# Never written to an audit record, whatever a caller passes.
SECRET_KEYS = frozenset({"password", "password_hash", "token", "secret", "file", "content", "api_key"})

UNIQUE_VIOLATION = "23505"

AfterCommit = Callable[[], Awaitable[Any] | Any]


@dataclass(frozen=True)
class Actor:
    """Who acts: the user (None for the system or an anonymous caller) and a label without personal data."""

    user_id: int | None
    label: str
    request_id: str | None = None

    @classmethod
    def user(cls, *, user_id: int, role: str, request_id: str | None = None) -> Actor:
        return cls(user_id, f"{str(role).lower()}:{user_id}", request_id)


def actor_of(ctx: RequestContext) -> Actor:
    """The request's viewer as an actor: "<role>:<user id>", or "anonymous"."""
    viewer = ctx.viewer
    if viewer is None:
        return Actor(None, "anonymous", ctx.request_id)
    return Actor.user(user_id=viewer.user_id, role=viewer.role, request_id=ctx.request_id)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def changes(before: Mapping[str, Any], after: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """{field: {"from": old, "to": new}} for the fields whose value changed (secrets never)."""
    out: dict[str, Any] = {}
    for name in fields:
        if name in SECRET_KEYS:
            continue
        old, new = before.get(name), after.get(name)
        if old != new:
            out[name] = {"from": _plain(old), "to": _plain(new)}
    return out


def unique_constraint(error: IntegrityError) -> str | None:
    """The name of the unique constraint (or index) an IntegrityError violated; None when it is another kind."""
    orig = error.orig
    causes = [orig, getattr(orig, "__cause__", None)]
    if not any(str(getattr(c, "sqlstate", None) or getattr(c, "pgcode", None)) == UNIQUE_VIOLATION for c in causes):
        return None
    for cause in causes:
        name = getattr(cause, "constraint_name", None)
        if name:
            return str(name)
    return ""


class UnitOfWork:
    """One mutation's session and transaction; see the module docstring."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        actor: Actor,
        loaders: Loaders | None = None,
        outbox_written: Callable[[], None] | None = None,
    ) -> None:
        self.session = session
        self.actor = actor
        self._loaders = loaders
        self._outbox_written = outbox_written
        self._cache_changes: list[Callable[[Loaders], None]] = []
        self._after_commit: list[AfterCommit] = []
        self.audit_rows: list[AuditRecord] = []
        self.outbox_rows: list[OutboxMessage] = []

    # --- rows every mutation writes ---

    def audit(
        self,
        *,
        action: str,
        entity: str,
        entity_id: int | str | None = None,
        details: Mapping[str, Any] | None = None,
        status: AuditStatus = AuditStatus.SUCCESS,
        actor: Actor | None = None,
    ) -> AuditRecord:
        """Add the audit row for this work: `action` "<entity>.<verb>", `entity` the entity's type name,
        `entity_id` its primary key (made a reference, db/refs.py) or a reference. `actor` overrides the work's actor
        (signup: the new user acts on itself)."""
        who = actor or self.actor
        row = AuditRecord(
            action=action,
            entity_type=entity,
            entity_id=entity_ref(entity, entity_id) if isinstance(entity_id, int) else entity_id,
            actor_id=who.user_id,
            actor_label=who.label,
            status=AuditStatus(status).value,
            details={k: v for k, v in (details or {}).items() if k not in SECRET_KEYS},
            request_id=who.request_id or self.actor.request_id,
        )
        self.session.add(row)
        self.audit_rows.append(row)
        return row

    def outbox(self, topic: str, payload: Mapping[str, Any], **columns: Any) -> OutboxMessage:
        """Queue a side effect (an email, an event) for the relay; it is delivered after commit, at least once.
        `columns` sets further outbox columns (e.g. `available_at`)."""
        row = OutboxMessage(topic=topic, payload=dict(payload), **columns)
        self.session.add(row)
        self.outbox_rows.append(row)
        return row

    async def publish(self, channel: str, payload: Any) -> None:
        """NOTIFY `channel` with `payload` (a string, else JSON); listeners receive it only if this work commits."""
        body = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
        await self.session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": body})

    # --- after a successful commit ---

    def prime(self, model: Any, row: Any) -> None:
        """Put `row` in the request's by-id loader cache (after commit)."""
        self._cache_changes.append(lambda loaders: loaders.prime(model, row))

    def forget(self, model: Any, pk: int) -> None:
        """Drop a cached row (after commit)."""
        self._cache_changes.append(lambda loaders: loaders.forget(model, pk))

    def children_changed(self, column: Mapped[Any], *parent_ids: int | None) -> None:
        """Rows were added, changed or removed under these parents: `column` is the rows' parent column (e.g.
        `col(SupportRequest.processed_by_id)`), `parent_ids` its old and new values (None, no parent, is skipped).
        After commit every cached page and count showing those parents' children is dropped (any filter, any
        page); the lists of other parents stay cached."""
        changed = [Children.of(column, parent_id) for parent_id in parent_ids if parent_id is not None]
        self._cache_changes.append(lambda loaders: loaders.forget_children(*changed))

    def after_commit(self, fn: AfterCommit) -> None:
        """Call `fn()` (awaited when it returns an awaitable) once the transaction has committed."""
        self._after_commit.append(fn)

    async def _committed(self) -> None:
        if self._loaders is not None:
            for change in self._cache_changes:
                change(self._loaders)
        if self.outbox_rows and self._outbox_written is not None:
            self._outbox_written()
        for fn in self._after_commit:
            try:
                result = fn()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # the work is committed: a hook's failure must not turn it into an error
                log.exception("after-commit hook failed", extra={"request_id": self.actor.request_id})


@asynccontextmanager
async def _work(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    actor: Actor,
    loaders: Loaders | None,
    conflicts: Mapping[str, DomainError] | None,
    outbox_written: Callable[[], None] | None = None,
) -> AsyncIterator[UnitOfWork]:
    async with sessionmaker() as session:
        uow = UnitOfWork(session, actor=actor, loaders=loaders, outbox_written=outbox_written)
        try:
            async with session.begin():
                yield uow
        except IntegrityError as error:
            constraint = unique_constraint(error)
            if constraint is None:
                raise
            mapped = (conflicts or {}).get(constraint)
            if mapped is not None:
                raise DomainError(list(mapped.problems)) from error
            raise DomainError.one(ErrorCode.CONFLICT, "This conflicts with an existing record.") from error
    await uow._committed()


def unit_of_work(
    ctx: RequestContext, *, conflicts: Mapping[str, DomainError] | None = None
) -> AbstractAsyncContextManager[UnitOfWork]:
    """The unit of work of one mutation of this request: its viewer acts, its loaders are kept in step.

    `conflicts` maps a unique constraint's name to the CONFLICT error to report when it is violated."""
    return _work(
        ctx.sessionmaker,
        actor=actor_of(ctx),
        loaders=ctx.loaders,
        conflicts=conflicts,
        outbox_written=ctx.services.outbox_written,
    )


def system_unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    label: str,
    loaders: Loaders | None = None,
    conflicts: Mapping[str, DomainError] | None = None,
) -> AbstractAsyncContextManager[UnitOfWork]:
    """A unit of work outside a request (CLI commands, sign-in via SSO): `label` names the acting system."""
    return _work(sessionmaker, actor=Actor(None, label), loaders=loaders, conflicts=conflicts)
