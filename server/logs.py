"""JSON log lines. Request lines carry ids, names, timings and outcomes, never personal data."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

import orjson

from server.redact import RedactingFilter

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()


def json_handler(stream: TextIO | None = None) -> logging.Handler:
    """A handler writing JSON lines, every record first passed through the personal-data redaction (redact.py)."""
    handler = logging.StreamHandler(stream or sys.stdout)
    formatter = JsonFormatter()
    handler.setFormatter(formatter)
    handler.addFilter(RedactingFilter(formatter))
    return handler


def configure_logging(level: str = "INFO") -> None:
    # A JSON line carries none of the caller's file and line, thread or process names: not looked up per record
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = json_handler()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):  # our own request line replaces the access log
        logging.getLogger(noisy).disabled = True
