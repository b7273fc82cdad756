"""`/files/{token}` downloads (no bearer token; signed, expiring) and deleteContract, on the local-disk backend."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from db import models
from db.enums import Role
from resolvers.contracts import sign_download_token
from schema.ids import decode_id, to_global_id
from tests.contracts.given import DELETE, count, image, rows, upload
from tests.factories import make_customer, make_user

CONTRACT_URL = "query C($id: ID!) { node(id: $id) { ... on Contract { downloadUrl } } }"


async def uploaded(app, client, *, content: bytes, filename: str = "Vertrag März.pdf"):  # type: ignore[no-untyped-def]
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    response = await upload(
        client,
        token=sales.token,
        customer_id=to_global_id("Customer", customer.id),  # type: ignore[arg-type]
        content=content,
        filename=filename,
    )
    contract = response.json()["data"]["uploadContract"]["contract"]
    return customer, sales, contract


def path_of(url: str) -> str:
    parsed = urlparse(url)
    assert parsed.path.startswith("/files/")
    return parsed.path


async def test_the_download_url_streams_the_file_without_a_bearer_token(app, client):
    content = image("PDF")
    _, _, contract = await uploaded(app, client, content=content)
    response = await client.get(path_of(contract["downloadUrl"]))
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Vertrag M_rz.pdf\"; filename*=UTF-8''Vertrag%20M%C3%A4rz.pdf"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-length"] == str(len(content))
    assert "no-store" in response.headers["cache-control"]


async def test_the_stored_content_type_is_served_not_the_declared_one(app, client):
    content = image("JPEG")
    _, _, contract = await uploaded(app, client, content=content, filename="x.pdf")
    response = await client.get(path_of(contract["downloadUrl"]))
    assert response.headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize("change", ["signature", "contract id", "expiry", "garbage", "empty signature"])
async def test_a_tampered_token_is_403(app, client, change):
    _, _, contract = await uploaded(app, client, content=image("PNG"))
    token = path_of(contract["downloadUrl"]).removeprefix("/files/")
    pk, expiry, signature = token.split(".")
    forged = {
        "signature": f"{pk}.{expiry}.{signature[:-2]}AA",
        "contract id": f"{int(pk) + 1}.{expiry}.{signature}",
        "expiry": f"{pk}.{int(expiry) + 3600}.{signature}",
        "garbage": "../../etc/passwd",
        "empty signature": f"{pk}.{expiry}.",
    }[change]
    response = await client.get(f"/files/{forged}")
    assert response.status_code in (403, 404) if change == "garbage" else response.status_code == 403
    assert response.content != image("PNG")


async def test_an_expired_token_is_403(app, client):
    _, _, contract = await uploaded(app, client, content=image("PNG"))
    pk = decode_id(contract["id"], "Contract")
    expired = sign_download_token(app.state.settings, contract_id=pk, expires_at=int(time.time()) - 1)  # type: ignore[arg-type]
    response = await client.get(f"/files/{expired}")
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"


async def test_the_url_expires_after_the_configured_lifetime(app, client):
    _, _, contract = await uploaded(app, client, content=image("PNG"))
    expiry = int(path_of(contract["downloadUrl"]).split(".")[1])
    ttl = app.state.settings.storage.url_ttl_seconds
    assert ttl == 900
    assert abs(expiry - (time.time() + ttl)) < 5


async def test_delete_contract_removes_row_and_object_and_the_link_stops_working(app, client, gql):
    content = image("WEBP")
    _, sales, contract = await uploaded(app, client, content=content)
    [row] = await rows(app, models.Contract)
    stored = Path(app.state.services.storage.root) / row.storage_key
    assert stored.is_file()
    # when
    body = await gql(DELETE, {"id": contract["id"]}, token=sales.token)
    # then
    assert body["data"]["deleteContract"] == {
        "contract": {"id": contract["id"], "filename": "Vertrag März.pdf"},
        "errors": [],
    }
    assert await count(app, models.Contract) == 0
    assert not stored.exists()
    assert (await client.get(path_of(contract["downloadUrl"]))).status_code == 404
    again = await gql(DELETE, {"id": contract["id"]}, token=sales.token)
    assert again["data"]["deleteContract"]["errors"] == [{"code": "NOT_FOUND", "field": ["id"], "retryAfter": None}]
    actions = [r.action for r in await rows(app, models.AuditRecord)]
    assert actions == ["contract.uploaded", "contract.deleted"]


async def test_delete_contract_of_a_row_whose_object_is_already_gone_still_works(app, client, gql):
    _, sales, contract = await uploaded(app, client, content=image("PNG"))
    [row] = await rows(app, models.Contract)
    (Path(app.state.services.storage.root) / row.storage_key).unlink()
    body = await gql(DELETE, {"id": contract["id"]}, token=sales.token)
    assert body["data"]["deleteContract"]["errors"] == []
    assert (await client.get(path_of(contract["downloadUrl"]))).status_code == 404


async def test_a_row_whose_object_is_missing_is_404_not_a_crash(app, client):
    _, _, contract = await uploaded(app, client, content=image("PNG"))
    [row] = await rows(app, models.Contract)
    (Path(app.state.services.storage.root) / row.storage_key).unlink()
    assert (await client.get(path_of(contract["downloadUrl"]))).status_code == 404
