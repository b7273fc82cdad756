"""The Google Cloud Storage backend: the real google-cloud-storage client against `gcp-storage-emulator` on
127.0.0.1 (started here), and a loopback proxy that can cut the connection mid-upload."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from db import models
from db.enums import Role
from schema.ids import to_global_id
from server.app import create_app
from tests import conftest
from tests.chat.given import make_contract
from tests.contracts.given import DELETE, count, free_port, gcs_client, gcs_emulator, image, padded_pdf, rows, upload
from tests.factories import make_customer, make_user

BUCKET = "contracts-test"


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with gcs_emulator(BUCKET) as url:
        yield url


def objects(endpoint: str) -> dict[str, bytes]:
    client = gcs_client(endpoint)
    bucket = client.bucket(BUCKET)
    # by name, through this client's endpoint (a listed blob's media link names the host that uploaded it)
    return {blob.name: bucket.blob(blob.name).download_as_bytes(retry=None) for blob in client.list_blobs(BUCKET)}


@contextlib.asynccontextmanager
async def gcs_app(database_url: str, **overrides: Any) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    settings = conftest.test_settings(
        storage__backend="gcs", storage__gcs_bucket=BUCKET, storage__timeout_seconds=3, **overrides
    )
    application = create_app(settings, database_url_override=database_url)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield application, client


@pytest.fixture
async def emptied(emulator: str) -> AsyncIterator[str]:
    yield emulator
    client = gcs_client(emulator)
    for blob in client.list_blobs(BUCKET):
        client.bucket(BUCKET).blob(blob.name).delete(retry=None)


class CuttingProxy:
    """Forwards 127.0.0.1:<port> to the emulator; with `cut_after` set, drops each connection once the client has
    sent that many bytes (storage failing in the middle of an upload)."""

    def __init__(self, target: str, cut_after: int | None = None) -> None:
        self.target_port = int(urlparse(target).port or 80)
        self.cut_after = cut_after
        self.cuts = 0
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> CuttingProxy:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, upstream: bool) -> None:
            sent = 0
            try:
                while data := await src.read(65536):
                    sent += len(data)
                    if upstream and self.cut_after is not None and sent > self.cut_after:
                        self.cuts += 1
                        writer.transport.abort()
                        up_writer.transport.abort()
                        return
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))


async def test_upload_download_and_delete_through_gcs(app, database_url, emptied):
    content = image("PNG")
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    async with gcs_app(database_url, storage__gcs_endpoint=emptied) as (_, client):
        # upload: the object is in the bucket under a generated key, with the type decided from the bytes
        response = await upload(
            client,
            token=sales.token,
            customer_id=to_global_id("Customer", customer.id),
            content=content,
            filename="scan.pdf",
        )
        payload = response.json()["data"]["uploadContract"]
        assert payload["errors"] == []
        [row] = await rows(app, models.Contract)
        stored = objects(emptied)
        assert stored == {row.storage_key: content}
        blob = gcs_client(emptied).bucket(BUCKET).get_blob(row.storage_key)
        assert blob.content_type == "image/png"
        assert row.sha256 == hashlib.sha256(content).hexdigest()
        # download: anonymous emulator credentials cannot sign, so the app serves the file itself
        url = payload["contract"]["downloadUrl"]
        assert urlparse(url).path.startswith("/files/")
        download = await client.get(urlparse(url).path)
        assert download.status_code == 200
        assert download.content == content
        assert download.headers["content-type"] == "image/png"
        # delete: row and object go together
        body = (
            await client.post(
                "/graphql",
                json={"query": DELETE, "variables": {"id": payload["contract"]["id"]}},
                headers={"Authorization": f"Bearer {sales.token}"},
            )
        ).json()
        assert body["data"]["deleteContract"]["errors"] == []
        assert objects(emptied) == {}
        assert await count(app, models.Contract) == 0
        assert (await client.get(urlparse(url).path)).status_code == 404


async def test_a_large_upload_goes_through_the_resumable_path(app, database_url, emptied):
    content = padded_pdf(9 * 1024 * 1024)  # over google-cloud-storage's 8 MB multipart threshold
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    async with gcs_app(database_url, storage__gcs_endpoint=emptied) as (_, client):
        response = await upload(
            client, token=sales.token, customer_id=to_global_id("Customer", customer.id), content=content
        )
        assert response.json()["data"]["uploadContract"]["errors"] == []
        download = await client.get(urlparse(response.json()["data"]["uploadContract"]["contract"]["downloadUrl"]).path)
        assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(content).hexdigest()
    assert list(objects(emptied).values()) == [content]


async def test_storage_down_is_storage_unavailable_with_retry_after_and_no_row(app, database_url):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with gcs_app(database_url, storage__gcs_endpoint=closed) as (_, client):
        started = time.monotonic()
        response = await upload(
            client, token=sales.token, customer_id=to_global_id("Customer", customer.id), content=image("PDF")
        )
        elapsed = time.monotonic() - started
    payload = response.json()["data"]["uploadContract"]
    assert payload["contract"] is None
    assert payload["errors"] == [
        {
            "code": "STORAGE_UNAVAILABLE",
            "message": "File storage is unavailable; retry shortly.",
            "field": ["file"],
            "retryAfter": 30,
        }
    ]
    assert await count(app, models.Contract) == 0
    assert await count(app, models.AuditRecord) == 0
    assert elapsed < 10


async def test_storage_failing_mid_upload_leaves_no_row_and_no_orphan_after_the_retry(app, database_url, emptied):
    content = padded_pdf(3 * 1024 * 1024)
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    async with CuttingProxy(emptied, cut_after=512 * 1024) as proxy:
        async with gcs_app(database_url, storage__gcs_endpoint=proxy.url) as (_, client):
            failed = await upload(
                client, token=sales.token, customer_id=to_global_id("Customer", customer.id), content=content
            )
            assert [e["code"] for e in failed.json()["data"]["uploadContract"]["errors"]] == ["STORAGE_UNAVAILABLE"]
            assert proxy.cuts >= 1
            assert await count(app, models.Contract) == 0
            assert objects(emptied) == {}
            # the client retries once storage is back
            proxy.cut_after = None
            retried = await upload(
                client, token=sales.token, customer_id=to_global_id("Customer", customer.id), content=content
            )
            assert retried.json()["data"]["uploadContract"]["errors"] == []
    [row] = await rows(app, models.Contract)
    assert objects(emptied) == {row.storage_key: content}


async def test_a_failed_insert_deletes_the_object_from_the_bucket(app, database_url, emptied):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    async with app.state.engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE FUNCTION refuse_contract() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'forced failure'; END $$"
        )
        await conn.exec_driver_sql(
            "CREATE TRIGGER refuse_contract BEFORE INSERT ON contracts FOR EACH ROW EXECUTE FUNCTION refuse_contract()"
        )
    try:
        async with gcs_app(database_url, storage__gcs_endpoint=emptied) as (_, client):
            await upload(
                client, token=sales.token, customer_id=to_global_id("Customer", customer.id), content=image("PDF")
            )
    finally:
        async with app.state.engine.begin() as conn:
            await conn.exec_driver_sql("DROP TRIGGER refuse_contract ON contracts")
            await conn.exec_driver_sql("DROP FUNCTION refuse_contract()")
    assert await count(app, models.Contract) == 0
    assert objects(emptied) == {}


async def test_delete_while_storage_is_down_keeps_the_contract(app, database_url):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    contract = await make_contract(app, customer)
    closed = f"http://127.0.0.1:{free_port()}"
    async with gcs_app(database_url, storage__gcs_endpoint=closed) as (_, client):
        response = await client.post(
            "/graphql",
            json={"query": DELETE, "variables": {"id": to_global_id("Contract", contract.id)}},
            headers={"Authorization": f"Bearer {sales.token}"},
        )
    payload = response.json()["data"]["deleteContract"]
    assert payload["errors"] == [{"code": "STORAGE_UNAVAILABLE", "field": ["id"], "retryAfter": 30}]
    assert await count(app, models.Contract) == 1
    assert await count(app, models.AuditRecord) == 0


def service_account_file(tmp_path) -> str:  # type: ignore[no-untyped-def]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "test",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "uploader@test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    return str(path)


async def test_credentials_that_can_sign_give_a_v4_signed_gcs_url(app, database_url, emulator, tmp_path):
    customer = await make_customer(app)
    contract = await make_contract(app, customer)
    admin = await make_user(app, Role.ADMIN)
    async with gcs_app(
        database_url, storage__gcs_endpoint=emulator, storage__gcs_credentials_file=service_account_file(tmp_path)
    ) as (_, client):
        body = (
            await client.post(
                "/graphql",
                json={
                    "query": "query C($id: ID!) { node(id: $id) { ... on Contract { downloadUrl } } }",
                    "variables": {"id": to_global_id("Contract", contract.id)},
                },
                headers={"Authorization": f"Bearer {admin.token}"},
            )
        ).json()
    url = urlparse(body["data"]["node"]["downloadUrl"])
    query = parse_qs(url.query)
    assert url.path == f"/{BUCKET}/{contract.storage_key}"
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Expires"] == ["900"]
    assert query["X-Goog-Credential"][0].startswith("uploader@test.iam.gserviceaccount.com/")
    assert len(query["X-Goog-Signature"][0]) == 512  # hex of a 2048-bit RSA signature
    assert query["response-content-disposition"][0].startswith("attachment; filename=")
    assert query["response-content-type"] == [contract.content_type]
