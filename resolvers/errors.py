"""The three kinds of failure.

- `DomainError`: an expected failure, returned as a `UserError` in the mutation's payload.
- `Unauthenticated`, `Forbidden`, `BadUserInput`, `ServiceUnavailable` (`CodedError`s): top-level errors with
  `extensions.code`; schema/extensions.py (`ErrorPolicy`) turns them into GraphQL errors.
- anything else is a bug: masked by schema/extensions.py, logged with the request id.

Plain Python exceptions: the resolvers know nothing of GraphQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class ErrorCode(StrEnum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    FORBIDDEN = "FORBIDDEN"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    UNSUPPORTED_FILE_TYPE = "UNSUPPORTED_FILE_TYPE"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    AI_NOT_CONFIGURED = "AI_NOT_CONFIGURED"
    AI_UNAVAILABLE = "AI_UNAVAILABLE"
    AI_AUTH_FAILED = "AI_AUTH_FAILED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    EMAIL_NOT_VERIFIED = "EMAIL_NOT_VERIFIED"
    TOKEN_INVALID = "TOKEN_INVALID"


@dataclass(frozen=True)
class Problem:
    """One expected failure; becomes a `UserError`."""

    code: ErrorCode
    message: str
    field: Sequence[str] | None = None
    retry_after: int | None = None


@dataclass
class DomainError(Exception):
    """Raised by resolvers for expected failures; carries one or more problems."""

    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def one(
        cls, code: ErrorCode, message: str, field: Sequence[str] | None = None, retry_after: int | None = None
    ) -> DomainError:
        return cls([Problem(code, message, list(field) if field else None, retry_after)])

    def __str__(self) -> str:
        return "; ".join(f"{p.code}: {p.message}" for p in self.problems)


def not_found(what: str = "Object", field: Sequence[str] | None = None) -> DomainError:
    return DomainError.one(ErrorCode.NOT_FOUND, f"{what} not found.", field)


class Validation:
    """Collects validation problems so a payload reports all of them at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, field: str | Sequence[str], message: str, code: ErrorCode = ErrorCode.VALIDATION) -> None:
        path = [field] if isinstance(field, str) else list(field)
        self.problems.append(Problem(code, message, path))

    def raise_if_any(self) -> None:
        if self.problems:
            raise DomainError(list(self.problems))


class CodedError(Exception):
    """A failure reported as a top-level error: `message`, and `extensions` whose "code" is the class's `code`."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, object] = {"code": self.code, **extensions}


class Unauthenticated(CodedError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "Authentication required.") -> None:
        super().__init__(message)


class Forbidden(CodedError):
    code = "FORBIDDEN"

    def __init__(self, message: str = "You are not allowed to do this.") -> None:
        super().__init__(message)


class BadUserInput(CodedError):
    code = "BAD_USER_INPUT"


class ServiceUnavailable(CodedError):
    code = "SERVICE_UNAVAILABLE"
