"""Uploaded files: the type from the bytes, the display name, and a safe Content-Disposition.

The accepted types are decided from each format's own signature, never from the name or the declared type:

- PDF: `%PDF-` and a version digit at byte 0
- PNG: the 8-byte signature `89 50 4E 47 0D 0A 1A 0A` followed by an `IHDR` chunk
- JPEG: `FF D8 FF` followed by a marker byte
- WebP: `RIFF` <size> `WEBP` followed by a `VP8 `, `VP8L` or `VP8X` chunk
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

SNIFF_BYTES = 32
PDF, PNG, JPEG, WEBP = "application/pdf", "image/png", "image/jpeg", "image/webp"
ACCEPTED = (PDF, PNG, JPEG, WEBP)
FILENAME_MAX = 200

_PNG = b"\x89PNG\r\n\x1a\n"


def sniff(head: bytes) -> str | None:
    """The media type of a file starting with `head`, or None when it is none of the accepted ones."""
    if head.startswith(_PNG) and head[12:16] == b"IHDR":
        return PNG
    if len(head) >= 4 and head[:3] == b"\xff\xd8\xff" and head[3] >= 0xC0:
        return JPEG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:16] in (b"VP8 ", b"VP8L", b"VP8X"):
        return WEBP
    if head.startswith(b"%PDF-") and head[5:6].isdigit():
        return PDF
    return None


_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\/:*?<>|;]")
_SPACES = re.compile(r"\s+")


def display_name(raw: str | None, content_type: str) -> str:
    """The client's filename made safe to show and to put in a header: no path, no control characters, no quotes,
    at most 200 characters. It is only ever shown; storage keys are generated (`../../etc/passwd` is just a name)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _SPACES.sub(" ", _UNSAFE.sub("_", name)).strip(" .")
    if not name:
        name = "contract" + _EXTENSIONS[content_type]
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        name = (stem if keep else name)[: FILENAME_MAX - len(keep) - 1].rstrip(" .") + (f".{keep}" if keep else "")
    return name


_EXTENSIONS = {PDF: ".pdf", PNG: ".png", JPEG: ".jpg", WEBP: ".webp"}


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact name as RFC 5987 `filename*`."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
