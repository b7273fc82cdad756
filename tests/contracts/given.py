"""Real files, multipart requests exactly as apollo-upload-client sends them, and a local GCS emulator."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from tests.identity.helpers import count, rows  # noqa: F401  (re-exported for the tests)

PREFLIGHT = {"Apollo-Require-Preflight": "true"}

UPLOAD = """
mutation Upload($input: UploadContractInput!) {
  uploadContract(input: $input) {
    contract { id title filename contentType size sha256 downloadUrl customer { id } uploadedBy { id } }
    errors { code message field retryAfter }
  }
}
"""
DELETE = """
mutation Delete($id: ID!) { deleteContract(id: $id) { contract { id filename } errors { code field retryAfter } } }
"""


def image(fmt: str, *, size: tuple[int, int] = (16, 12), color: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    """A real image (PNG, JPEG, WEBP, GIF) or a one-page PDF, made by Pillow."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def pdf() -> bytes:
    return image("PDF")


def padded_pdf(total: int) -> bytes:
    """A PDF of exactly `total` bytes (a real PDF, then a trailing comment, which readers ignore)."""
    head = pdf()
    return head + b"\n%" + b"x" * (total - len(head) - 2)


FILES = {
    "application/pdf": ("contract.pdf", pdf),
    "image/png": ("scan.png", lambda: image("PNG")),
    "image/jpeg": ("photo.jpg", lambda: image("JPEG")),
    "image/webp": ("picture.webp", lambda: image("WEBP")),
}


def multipart(
    query: str, variables: dict[str, Any], files: dict[str, tuple[str, bytes, str]]
) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    """The GraphQL multipart request spec as apollo-upload-client builds it: `operations` with each file variable
    null, `map` from field names "1", "2", ... to variable paths, then the files in that order.

    `files` maps a variable path ("variables.input.file") to (filename, content, declared type)."""
    operations = {"query": query, "variables": variables}
    mapping: dict[str, list[str]] = {}
    parts: dict[str, tuple[str, bytes, str]] = {}
    for n, (path, upload) in enumerate(files.items(), start=1):
        mapping[str(n)] = [path]
        parts[str(n)] = upload
        target: Any = operations
        *head, last = path.split(".")
        for key in head:
            target = target[key]
        target[last] = None
    return {"operations": json.dumps(operations), "map": json.dumps(mapping)}, parts


async def upload(
    client: httpx.AsyncClient,
    *,
    token: str | None,
    customer_id: str,
    content: bytes,
    filename: str = "contract.pdf",
    declared: str = "application/pdf",
    title: str | None = "Service agreement",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    data, files = multipart(
        UPLOAD,
        {"input": {"customerId": customer_id, "file": None, "title": title}},
        {"variables.input.file": (filename, content, declared)},
    )
    sent = dict(PREFLIGHT if headers is None else headers)
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return await client.post("/graphql", data=data, files=files, headers=sent)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def gcs_emulator(bucket: str):  # type: ignore[no-untyped-def]
    """`gcp-storage-emulator` on 127.0.0.1, in memory, with `bucket` created; yields its base URL."""
    port = free_port()
    exe = Path(sys.executable).with_name("gcp-storage-emulator")
    process = subprocess.Popen(
        [
            str(exe),
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
            "--default-bucket",
            bucket,
            "-q",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gcs_client(endpoint: str):  # type: ignore[no-untyped-def]
    """A second, independent google-cloud-storage client to look into the emulator."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint})
