"""The streaming upload limit against the real server (`customer-graph serve`, uvicorn) on 127.0.0.1: a 200 MB
upload is answered 413 early, the server never holds it, and the connection is not dropped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.contracts.given import free_port, wait_for_port

MB = 1024 * 1024
TOTAL = 200 * MB
BOUNDARY = b"----limit-test"
HEAD = (
    b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
    b'{"query":"mutation($f: Upload!) { uploadContract(input: {customerId: \\"1\\", file: $f}) { errors { code } } }",'
    b'"variables":{"f":null}}\r\n'
    b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"1":["variables.f"]}\r\n'
    b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="1"; filename="big.pdf"\r\n'
    b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
)


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory) -> Iterator[tuple[int, int]]:  # type: ignore[no-untyped-def]
    port = free_port()
    data = tmp_path_factory.mktemp("serve")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "APP_DATA_DIR": str(data),
        "STORAGE_LOCAL_PATH": str(data / "files"),
        "AUTH_JWT_SECRET": "wire-test-secret-" + "x" * 32,
        "APP_LOG_LEVEL": "WARNING",
    }
    exe = Path(sys.executable).with_name("customer-graph")
    process = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def read_response_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_200_mb_chunked_upload_is_cut_off_early_and_the_connection_survives(server):
    port, pid = server
    rss_before = rss_bytes(pid)
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nApollo-Require-Preflight: true\r\n"
        b"Content-Type: multipart/form-data; boundary=" + BOUNDARY + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    block = b"x" * MB
    sent, answered_after = 0, None
    sock.sendall(b"%x\r\n%s\r\n" % (len(HEAD), HEAD))
    sock.setblocking(False)
    head = b""
    while sent < TOTAL:
        try:
            head += sock.recv(65536)
        except BlockingIOError:
            pass
        if b"\r\n\r\n" in head and answered_after is None:
            answered_after = sent
        sock.setblocking(True)
        sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
        sock.setblocking(False)
        sent += len(block)
        if answered_after is not None and sent > answered_after + 8 * MB:
            break  # seen the answer; send a little more to show the server keeps reading and discarding
    sock.setblocking(True)
    if answered_after is None:
        head += read_response_head(sock)
        answered_after = sent
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    limit = 10 * MB + 1 * MB
    assert answered_after < limit + 16 * MB, f"answered only after {answered_after} bytes"
    # the connection is still usable: finish the body, then ask again on the same socket
    sock.sendall(b"0\r\n\r\n")
    time.sleep(0.2)
    try:
        sock.setblocking(False)
        sock.recv(1 << 20)  # the rest of the 413 body
    except BlockingIOError:
        pass
    sock.setblocking(True)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert read_response_head(sock).startswith(b"HTTP/1.1 200")
    sock.close()
    grown = rss_bytes(pid) - rss_before
    print(f"\nchunked: 413 after {answered_after / MB:.0f} MB sent of 200 MB; server RSS grew {grown / MB:.1f} MB")
    assert grown < 64 * MB


def test_a_200_mb_upload_with_content_length_is_refused_at_once_and_the_client_reads_413(server):
    port, pid = server
    rss_before = rss_bytes(pid)
    block = b"x" * MB

    def body() -> Iterator[bytes]:
        yield HEAD
        for _ in range(200):
            yield block

    started = time.monotonic()
    with httpx.Client(timeout=60) as client:
        response = client.post(
            f"http://127.0.0.1:{port}/graphql",
            content=body(),
            headers={
                "Content-Type": "multipart/form-data; boundary=" + BOUNDARY.decode(),
                "Content-Length": str(len(HEAD) + TOTAL),
                "Apollo-Require-Preflight": "true",
            },
        )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    elapsed = time.monotonic() - started
    grown = rss_bytes(pid) - rss_before
    print(f"\nContent-Length 200 MB: 413 read by the client after {elapsed:.2f} s; server RSS grew {grown / MB:.1f} MB")
    assert elapsed < 30
    assert grown < 64 * MB


def test_the_csrf_rule_holds_on_the_wire(server):
    port, _ = server
    with httpx.Client(timeout=30) as client:
        response = client.post(
            f"http://127.0.0.1:{port}/graphql",
            content=HEAD + b"\r\n--" + BOUNDARY + b"--\r\n",
            headers={"Content-Type": "multipart/form-data; boundary=" + BOUNDARY.decode()},
        )
    assert response.status_code == 400
