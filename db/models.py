"""The data model as SQLModel tables. Migrations import only `SQLModel.metadata` from here.

Primary keys are bigint identities: they double as stable keyset cursors. They are typed `int`, not
`int | None`: PostgreSQL assigns them on flush, and nothing reads an id before that. Timestamps are UTC
`timestamptz`. Enumerations are text with CHECK constraints. Relationships are not declared:
nested data always goes through per-request dataloaders (db/loaders.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from db.enums import AuditStatus, ChatSessionStatus, MessageSender, RequestStatus, Role

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


def _pk() -> Any:
    return Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))


def _ts(*, nullable: bool = False, default: bool = True) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    return Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def _fk(target: str, *, nullable: bool = True, ondelete: str | None = None) -> Any:
    return Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey(target, ondelete=ondelete), nullable=nullable),
    )


def _in(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class User(SQLModel, table=True):
    """A login: staff (ADMIN, OPERATOR, SALES) or a customer's own account."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", Role), name="role"),
        Index("uq_users_email_lower", text("lower(email)"), unique=True),
        Index("ix_users_customer_id", "customer_id", unique=True, postgresql_where=text("customer_id IS NOT NULL")),
        Index("ix_users_role", "role"),
    )

    id: int = _pk()
    email: str = Field(sa_column=Column(String(320), nullable=False))
    password_hash: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    first_name: str = Field(sa_column=Column(String(100), nullable=False))
    last_name: str = Field(sa_column=Column(String(100), nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    email_verified: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    is_active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=text("true")))
    customer_id: int | None = _fk("customers.id")
    sso_subject: str | None = Field(default=None, sa_column=Column(String(255), nullable=True, unique=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (
        # Unique case-insensitively among customers not erased (archived included).
        Index(
            "uq_customers_email_live",
            text("lower(email)"),
            unique=True,
            postgresql_where=text("email IS NOT NULL AND erased_at IS NULL"),
        ),
        Index("ix_customers_created_at_id", "created_at", "id"),
        Index("ix_customers_last_name_id", "last_name", "id"),
        Index("ix_customers_phone", "phone"),
    )

    id: int = _pk()
    first_name: str = Field(sa_column=Column(String(100), nullable=False))
    last_name: str = Field(sa_column=Column(String(100), nullable=False))
    email: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    phone: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    company: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default=text("1")))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    archived_at: datetime | None = _ts(nullable=True)
    erased_at: datetime | None = _ts(nullable=True)


class SupportRequest(SQLModel, table=True):
    """A customer's support request, moving PENDING → IN_PROGRESS → COMPLETED/REJECTED."""

    __tablename__ = "requests"
    __table_args__ = (
        CheckConstraint(_in("status", RequestStatus), name="status"),
        Index("ix_requests_customer_id_id", "customer_id", "id"),
        Index("ix_requests_processed_by_id_status", "processed_by_id", "status"),
        Index("ix_requests_status_id", "status", "id"),
        Index("ix_requests_created_by_id", "created_by_id"),
    )

    id: int = _pk()
    customer_id: int = _fk("customers.id", nullable=False)
    created_by_id: int | None = _fk("users.id", ondelete="SET NULL")
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(
        default=RequestStatus.PENDING.value,
        sa_column=Column(String(16), nullable=False, server_default=RequestStatus.PENDING.value),
    )
    processed_by_id: int | None = _fk("users.id", ondelete="SET NULL")
    resolution_comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default=text("1")))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    archived_at: datetime | None = _ts(nullable=True)


class ChatSession(SQLModel, table=True):
    """A chat; `message_count` and `last_message_at` are kept in the same transaction as each post."""

    __tablename__ = "chat_sessions"
    __table_args__ = (
        CheckConstraint(_in("status", ChatSessionStatus), name="status"),
        Index("ix_chat_sessions_customer_id_id", "customer_id", "id"),
        Index("ix_chat_sessions_started_by_id", "started_by_id"),
    )

    id: int = _pk()
    customer_id: int = _fk("customers.id", nullable=False)
    started_by_id: int | None = _fk("users.id", ondelete="SET NULL")
    title: str = Field(sa_column=Column(String(200), nullable=False))
    status: str = Field(
        default=ChatSessionStatus.OPEN.value,
        sa_column=Column(String(16), nullable=False, server_default=ChatSessionStatus.OPEN.value),
    )
    message_count: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default=text("0")))
    last_message_at: datetime | None = _ts(nullable=True)
    started_at: datetime = _ts()
    closed_at: datetime | None = _ts(nullable=True)


class ChatMessage(SQLModel, table=True):
    __tablename__ = "chat_messages"
    __table_args__ = (
        CheckConstraint(_in("sender", MessageSender), name="sender"),
        Index("ix_chat_messages_session_id_id", "session_id", "id"),
        Index("ix_chat_messages_author_id", "author_id"),
    )

    id: int = _pk()
    session_id: int = _fk("chat_sessions.id", nullable=False, ondelete="CASCADE")
    sender: str = Field(sa_column=Column(String(16), nullable=False))
    author_id: int | None = _fk("users.id", ondelete="SET NULL")
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _ts()


class Contract(SQLModel, table=True):
    __tablename__ = "contracts"
    __table_args__ = (
        Index("ix_contracts_customer_id_id", "customer_id", "id"),
        Index("ix_contracts_uploaded_by_id", "uploaded_by_id"),
    )

    id: int = _pk()
    customer_id: int = _fk("customers.id", nullable=False, ondelete="CASCADE")
    title: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    filename: str = Field(sa_column=Column(String(255), nullable=False))
    content_type: str = Field(sa_column=Column(String(100), nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    storage_key: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    uploaded_by_id: int | None = _fk("users.id", ondelete="SET NULL")
    created_at: datetime = _ts()


class Note(SQLModel, table=True):
    """An internal note on a customer (staff only)."""

    __tablename__ = "notes"
    __table_args__ = (
        Index("ix_notes_customer_id_id", "customer_id", "id"),
        Index("ix_notes_author_id", "author_id"),
    )

    id: int = _pk()
    customer_id: int = _fk("customers.id", nullable=False, ondelete="CASCADE")
    author_id: int | None = _fk("users.id", ondelete="SET NULL")
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _ts()


class AuditRecord(SQLModel, table=True):
    """One row per mutation, written in the mutation's own transaction. Never secrets or file contents."""

    __tablename__ = "audit_records"
    __table_args__ = (
        CheckConstraint(_in("status", AuditStatus), name="status"),
        Index("ix_audit_records_entity", "entity_type", "entity_id", "id"),
        Index("ix_audit_records_actor_id_id", "actor_id", "id"),
        Index("ix_audit_records_action_id", "action", "id"),
        Index("ix_audit_records_occurred_at", "occurred_at"),
    )

    id: int = _pk()
    occurred_at: datetime = _ts()
    action: str = Field(sa_column=Column(String(64), nullable=False))
    entity_type: str = Field(sa_column=Column(String(64), nullable=False))
    entity_id: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    actor_id: int | None = _fk("users.id", ondelete="SET NULL")
    actor_label: str = Field(sa_column=Column(String(200), nullable=False))
    status: str = Field(
        default=AuditStatus.SUCCESS.value,
        sa_column=Column(String(16), nullable=False, server_default=AuditStatus.SUCCESS.value),
    )
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    )
    request_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class OutboxMessage(SQLModel, table=True):
    """Side effects (email, events) written in the mutation's transaction and delivered after commit.

    `state`: pending -> delivered, or dead (a permanent failure, or out of attempts; `last_error` says why).
    A relay claims a pending row by setting `claimed_until` (a lease); `available_at` is the next attempt.
    `idempotency_key` travels with every delivery attempt of the message, so a receiver can drop repeats.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_undelivered", "state", "available_at", postgresql_where=text("state <> 'delivered'")),
        Index("ix_outbox_topic", "topic"),
        CheckConstraint("state IN ('pending', 'delivered', 'dead')", name="state"),
    )

    id: int = _pk()
    topic: str = Field(sa_column=Column(String(64), nullable=False))  # e.g. "email.customer_created"
    payload: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    )
    state: str = Field(default="pending", sa_column=Column(String(16), nullable=False, server_default="pending"))
    idempotency_key: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        sa_column=Column(Uuid, nullable=False, unique=True, server_default=text("gen_random_uuid()")),
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default=text("0")))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _ts()
    available_at: datetime = _ts()
    claimed_until: datetime | None = _ts(nullable=True)
    claimed_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    delivered_at: datetime | None = _ts(nullable=True)
    dead_at: datetime | None = _ts(nullable=True)


class LoginThrottle(SQLModel, table=True):
    """Failed-login counters per key ("account:<email>" or "address:<ip>"), shared by every server process."""

    __tablename__ = "login_throttle"

    key: str = Field(sa_column=Column(String(400), primary_key=True))
    failures: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default=text("0")))
    window_started_at: datetime = _ts()
    locked_until: datetime | None = _ts(nullable=True)


class EmailVerificationToken(SQLModel, table=True):
    """Single-use record of a signed verification token (the token itself is never stored)."""

    __tablename__ = "email_verification_tokens"
    __table_args__ = (Index("ix_email_verification_tokens_user_id", "user_id"),)

    jti: str = Field(sa_column=Column(String(64), primary_key=True))
    user_id: int = _fk("users.id", nullable=False, ondelete="CASCADE")
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class PersistedQuery(SQLModel, table=True):
    """Automatic persisted queries: the document stored under its SHA-256."""

    __tablename__ = "persisted_queries"

    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    query: str = Field(sa_column=Column(Text, nullable=False))
    # registered with `customer-graph register-documents` (runs in trusted-documents mode; its name is a metric label)
    trusted: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    operation_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    created_at: datetime = _ts()
    last_used_at: datetime = _ts()
