"""SendGrid v3 mail send through the official `sendgrid` package.

The package is synchronous (urllib): each call runs in a worker thread (`anyio.to_thread.run_sync`) with the
HTTP timeout set on the request, and an outer deadline a little longer, so a hung connection never holds the
relay. Each message carries its idempotency key as the SendGrid `custom_args.idempotency_key` (it comes back on
SendGrid's event webhook) and as an `X-Idempotency-Key` email header, so a receiver can drop a repeated delivery.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
from email.utils import parsedate_to_datetime
from typing import Any

import anyio
import anyio.to_thread
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from integrations.email import EmailMessage, PermanentFailure, TransientFailure

DEFAULT_HOST = "https://api.sendgrid.com"
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 413, 415})
logging.getLogger("python_http_client").setLevel(logging.WARNING)  # its DEBUG lines hold message bodies


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class SendGridBackend:
    name = "sendgrid"

    def __init__(self, *, api_key: str, sender: str, host: str | None = None, timeout_seconds: float = 10.0) -> None:
        self.client = SendGridAPIClient(api_key=api_key, host=(host or DEFAULT_HOST).rstrip("/"))
        self.sender = sender
        self.timeout = timeout_seconds

    def body(self, message: EmailMessage) -> dict[str, Any]:
        """The v3 `/mail/send` request: one personalization per recipient (no one sees the others' addresses)."""
        return {
            "personalizations": [{"to": [{"email": address}]} for address in message.to],
            "from": {"email": self.sender},
            "subject": message.subject,
            "content": [{"type": "text/plain", "value": message.text}, {"type": "text/html", "value": message.html}],
            "headers": {"X-Idempotency-Key": message.key, **message.headers},
            "custom_args": {"idempotency_key": message.key},
            "categories": [message.category],
        }

    async def send(self, message: EmailMessage) -> None:
        body = self.body(message)
        try:
            with anyio.fail_after(self.timeout + 2):
                await anyio.to_thread.run_sync(self._post, body, abandon_on_cancel=True)
        except TimeoutError:
            raise TransientFailure(f"SendGrid did not answer within {self.timeout:g} s")

    def _post(self, body: dict[str, Any]) -> None:
        try:
            response = self.client.client.mail.send.post(request_body=body, timeout=self.timeout)
        except HTTPError as error:
            raise _failure(error)
        except TimeoutError:
            raise TransientFailure(f"SendGrid did not answer within {self.timeout:g} s")
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise TransientFailure(f"SendGrid did not answer within {self.timeout:g} s")
            raise TransientFailure(f"SendGrid unreachable: {error.reason}")
        except (ConnectionError, OSError) as error:
            raise TransientFailure(f"SendGrid connection failed: {type(error).__name__}: {error}")
        if not 200 <= response.status_code < 300:
            raise TransientFailure(f"SendGrid answered {response.status_code}")


def _failure(error: HTTPError) -> PermanentFailure | TransientFailure:
    status = int(getattr(error, "status_code", 0) or 0)
    detail = _detail(getattr(error, "body", b""))
    reason = f"SendGrid answered {status}" + (f": {detail}" if detail else "")
    if status in PERMANENT_STATUSES:
        return PermanentFailure(reason)
    headers = getattr(error, "headers", None)
    retry_after = retry_after_seconds(headers.get("Retry-After") if headers is not None else None)
    return TransientFailure(reason, retry_after=retry_after)


def _detail(body: object) -> str:
    """SendGrid's error messages (`{"errors": [{"message": ...}]}`), or the start of the body."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    try:
        parsed = json.loads(text)
        messages = [str(e.get("message", "")) for e in parsed.get("errors", []) if isinstance(e, dict)]
        if messages:
            return "; ".join(m for m in messages if m)[:500]
    except (ValueError, AttributeError):
        pass
    return text.strip()[:200]
