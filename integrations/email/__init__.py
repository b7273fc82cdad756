"""Email behind one small interface: `EmailBackend.send(EmailMessage)`.

Backends: `file` (development, the default) writes each message as an `.eml` file under `<APP_DATA_DIR>/mail/`;
`sendgrid` calls SendGrid's v3 mail-send API. A backend raises `PermanentFailure` for what no retry can fix
(a bad recipient, 400, 401, 403) and `TransientFailure` for what may pass later (5xx, 429 with its `Retry-After`,
time-outs, connection errors); the outbox relay turns those into "dead" or "try again later".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class EmailMessage:
    """One email. `key` is the outbox message's idempotency key: every attempt to send it carries the same key."""

    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    key: str
    category: str = "transactional"
    headers: dict[str, str] = field(default_factory=dict)


class DeliveryError(Exception):
    """A message was not delivered; `reason` is kept on the outbox row (never the message body)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:1000]


class PermanentFailure(DeliveryError):
    """Retrying cannot help: the message is marked dead at once."""


class TransientFailure(DeliveryError):
    """Retry later; `retry_after` (seconds) when the other side said when."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class EmailBackend(Protocol):
    name: str

    async def send(self, message: EmailMessage) -> None: ...
