"""The development mailbox: each message becomes an `.eml` file, and one log line gives its path.

The file is named by the message's idempotency key, so a message delivered twice (at-least-once) is one file.
Open it with any mail client, or read it as text. The log line never holds an address or the body.

Building a message with the `email` package is pure Python (about a millisecond of CPU; see `eml`), so it runs in
a worker thread to keep the event loop free; one thread at a time (`CapacityLimiter(1)`): with the relay's
`OUTBOX_CONCURRENCY` threads all building messages they only fought over the GIL, about 15 % more CPU per message
(`python -m bench.outbox --relay-cpu 1000`).
"""

from __future__ import annotations

import email.utils
import logging
import os
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from pathlib import Path

import anyio
import anyio.to_thread

from integrations.email import EmailMessage

log = logging.getLogger("customer_graph.email")


class FileMailbox:
    name = "file"

    def __init__(self, directory: str | Path, *, sender: str) -> None:
        self.directory = Path(directory)
        self.sender = sender
        self._one_thread: anyio.CapacityLimiter | None = None
        self._resolved: Path | None = None

    async def send(self, message: EmailMessage) -> None:
        if self._one_thread is None:
            self._one_thread = anyio.CapacityLimiter(1)
        path = await anyio.to_thread.run_sync(self._write, message, limiter=self._one_thread)
        log.info("email written to %s", path, extra={"email_file": str(path), "category": message.category})

    def _write(self, message: EmailMessage) -> Path:
        if self._resolved is None:  # made and resolved once, not per message
            self.directory.mkdir(parents=True, exist_ok=True)
            self._resolved = self.directory.resolve()
        path = self._resolved / f"{message.key}.eml"
        partial = path.with_suffix(".eml.partial")
        data = eml(self.sender, message)
        try:
            partial.write_bytes(data)
        except FileNotFoundError:  # the directory was removed while the server ran: made again
            self._resolved.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(data)
        os.replace(partial, path)  # a reader never sees half a message
        return path


# UTF-8 bodies and headers as quoted-printable: ASCII text stays readable in the file.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP
_UTF8.header_encoding = QP


def _header(value: str) -> str:
    """A header value on one line (no CR/LF can start a header of its own); encoded when not ASCII."""
    value = " ".join(value.splitlines())
    return value if value.isascii() else Header(value, _UTF8).encode()


def _address(address: str) -> str:
    """One recipient as the modern API writes it: a non-ASCII local part as an encoded word, an IDN domain as
    its ASCII form, so a mail parser reads the address back."""
    address = " ".join(address.splitlines())
    if address.isascii():
        return address
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        local = Header(local, _UTF8).encode()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            domain = Header(domain, _UTF8).encode()
    return f"{local}@{domain}"


def eml(sender: str, message: EmailMessage) -> bytes:
    """The message as an RFC 5322 file: multipart/alternative, a text and an HTML part.

    Built with the `email` package's compat32 classes (`MIMEMultipart`, `MIMENonMultipart`): a third of the CPU of the
    modern `EmailMessage` API, whose header registry parses every header again (~1.2 against ~3.4 ms a message)."""
    mail = MIMEMultipart("alternative")
    mail["From"] = _header(sender)
    mail["To"] = ", ".join(_address(a) for a in message.to)
    mail["Subject"] = _header(message.subject)
    mail["Date"] = email.utils.formatdate(localtime=False)
    mail["Message-ID"] = f"<{message.key}@customer-graph.local>"
    mail["X-Idempotency-Key"] = _header(message.key)
    for name, value in message.headers.items():
        mail[name] = _header(value)
    for subtype, body in (("plain", message.text), ("html", message.html)):
        part = MIMENonMultipart("text", subtype)
        part.set_payload(body, _UTF8)  # sets the charset and Content-Transfer-Encoding, and encodes
        mail.attach(part)
    return mail.as_bytes()
