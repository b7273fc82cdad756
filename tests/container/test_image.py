"""The production image, built from the Dockerfile and run as a deploy runs it: the migration step
(`customer-graph migrate upgrade`) against a fresh database, then the server, whose /ready must answer 200.

It takes minutes (the build installs every dependency), so it runs only when asked: `make container-check`
(CONTAINER_TEST=1). It needs a container engine (podman or docker) that can run containers here, and the base image
python:3.11-slim in its local store or pullable; otherwise it is skipped and says which is missing.
CONTAINER_ENGINE picks the engine; where crun cannot set up containers (cgroup v1 hybrid), podman runs with runc."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import _admin, _with_database

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "docker.io/library/python:3.11-slim"
LIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]


def engine() -> list[str]:
    if os.environ.get("CONTAINER_TEST") != "1":
        pytest.skip("the image test runs only when asked: make container-check (CONTAINER_TEST=1)")
    name = os.environ.get("CONTAINER_ENGINE") or ("podman" if shutil.which("podman") else "docker")
    if not shutil.which(name):
        pytest.skip("no container engine (podman or docker) on this machine: the image test needs one")
    command = [name]
    if name == "podman" and shutil.which("runc"):
        command += ["--runtime", "runc"]
    probe = subprocess.run([*command, "info"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"{name} cannot run here: {probe.stderr.strip().splitlines()[-1:]}")
    has_base = subprocess.run([*command, "image", "inspect", BASE_IMAGE], capture_output=True, timeout=60)
    if has_base.returncode != 0:
        pulled = subprocess.run([*command, "pull", BASE_IMAGE], capture_output=True, text=True, timeout=300)
        if pulled.returncode != 0:
            pytest.skip(f"the base image {BASE_IMAGE} is not in {name}'s store and cannot be pulled here")
    return command


class TcpToUnix:
    """127.0.0.1:<port> → a PostgreSQL unix socket, for a container on the host network (the embedded
    cluster listens only on a socket inside its data directory, which the image's non-root user cannot enter)."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.socket_path)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        self.server.close()


@pytest.fixture
def container_database(server_url: str) -> Iterator[str]:
    """A fresh, empty database, as a URL the container can reach over TCP on 127.0.0.1."""
    name = f"cg_image_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    url = make_url(_with_database(server_url, name))
    forwarder = None
    socket_dir = url.query.get("host")
    if socket_dir or not url.host:
        port = url.port or 5432
        forwarder = TcpToUnix(os.path.join(str(socket_dir or "/var/run/postgresql"), f".s.PGSQL.{port}"))
        url = url.set(host="127.0.0.1", port=forwarder.port, query={})
    yield url.render_as_string(hide_password=False)
    if forwarder:
        forwarder.close()
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_image_migrates_a_fresh_database_and_serves_ready(container_database: str) -> None:
    command = engine()
    tag = f"customer-graph:test-{uuid.uuid4().hex[:8]}"
    build = [*command, "build", "--pull=never", "--format", "docker", *LIMITS, "-t", tag, str(ROOT)]
    if command[0] == "podman":
        build[-3:-3] = ["--network", "host"]
        # this machine reaches PyPI through its own CA: lend pip its configuration and CA bundle for the build
        for path in ("/etc/pip.conf", "/etc/ssl/certs/ca-certificates.crt"):
            if os.path.exists(path):
                build[-3:-3] = ["-v", f"{path}:{path}:ro"]
    started = time.monotonic()
    built = subprocess.run(build, capture_output=True, text=True, timeout=1200)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    build_seconds = time.monotonic() - started

    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    app_port = str(port.getsockname()[1])
    port.close()
    env = {
        "DATABASE_URL": container_database,
        "AUTH_JWT_SECRET": uuid.uuid4().hex + uuid.uuid4().hex,
        "APP_PORT": app_port,
        "APP_CORS_ORIGINS": '["https://app.example.com"]',
    }
    env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    run = [*command, "run", "--rm", "--network", "host", *LIMITS, *env_args]
    name = f"cg-image-{uuid.uuid4().hex[:8]}"
    try:
        # the release step: migrations, once, before the new version serves
        migrated = subprocess.run([*run, tag, "customer-graph", "migrate", "upgrade"], capture_output=True,
                                  text=True, timeout=300)  # fmt: skip
        assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]

        # then the server (the image's command, on loopback only: the container shares the host's network)
        serve = ["customer-graph", "serve", "--host", "127.0.0.1"]
        subprocess.run([*run, "-d", "--name", name, tag, *serve], check=True, capture_output=True, timeout=120)
        deadline, ready = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{app_port}/ready", timeout=5)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        logs = subprocess.run([*command, "logs", name], capture_output=True, text=True, timeout=60)
        assert ready is not None and ready.status_code == 200, (ready and ready.text, logs.stdout[-3000:])
        assert ready.json()["status"] == "ready"
        user = subprocess.run([*command, "exec", name, "id", "-u"], capture_output=True, text=True, timeout=60)
        assert user.stdout.strip() == "10001"  # not root
        print(f"image built in {build_seconds:.0f} s; ready: {ready.json()}")
    finally:
        subprocess.run([*command, "rm", "-f", name], capture_output=True, timeout=120)
        subprocess.run([*command, "rmi", "-f", tag], capture_output=True, timeout=120)
