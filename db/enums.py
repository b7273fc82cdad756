"""Enumerations stored as constrained text columns (readable in psql, cheap to extend in a migration)."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "ADMIN"
    OPERATOR = "OPERATOR"
    SALES = "SALES"
    CUSTOMER = "CUSTOMER"


STAFF_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.SALES})


class RequestStatus(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"


OPEN_REQUEST_STATUSES = (RequestStatus.PENDING, RequestStatus.IN_PROGRESS)


class ChatSessionStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class MessageSender(StrEnum):
    CUSTOMER = "CUSTOMER"
    OPERATOR = "OPERATOR"
    ASSISTANT = "ASSISTANT"
    SYSTEM = "SYSTEM"


class AuditStatus(StrEnum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
