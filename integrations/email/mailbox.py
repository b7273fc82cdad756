"""The development mailbox: each message becomes an `.eml` file, and one log line gives its path.

The file is named by the message's idempotency key, so a message delivered twice (at-least-once) is one file.
Open it with any mail client, or read it as text. The log line never holds an address or the body.

Building a message with the `email` package is pure Python (a few ms of CPU, mostly header parsing), so it runs in
a worker thread to keep the event loop free; one thread at a time (`CapacityLimiter(1)`): with the relay's
`OUTBOX_CONCURRENCY` threads all building messages they only fought over the GIL, about 15 % more CPU per message
(`python -m bench.outbox --relay-cpu 1000`).
"""

from __future__ import annotations

import email.message
import email.utils
import logging
import os
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

    def path_for(self, message: EmailMessage) -> Path:
        return self.directory / f"{message.key}.eml"

    async def send(self, message: EmailMessage) -> None:
        if self._one_thread is None:
            self._one_thread = anyio.CapacityLimiter(1)
        path = await anyio.to_thread.run_sync(self._write, message, limiter=self._one_thread)
        log.info("email written to %s", path, extra={"email_file": str(path), "category": message.category})

    def _write(self, message: EmailMessage) -> Path:
        mail = email.message.EmailMessage()
        mail["From"] = self.sender
        mail["To"] = ", ".join(message.to)
        mail["Subject"] = message.subject
        mail["Date"] = email.utils.formatdate(localtime=False)
        mail["Message-ID"] = f"<{message.key}@customer-graph.local>"
        mail["X-Idempotency-Key"] = message.key
        for name, value in message.headers.items():
            mail[name] = value
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(message)
        partial = path.with_suffix(".eml.partial")
        partial.write_bytes(bytes(mail))
        os.replace(partial, path)  # a reader never sees half a message
        return path.resolve()
