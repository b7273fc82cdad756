"""uploadContract over the GraphQL multipart request spec, on the local-disk backend (the embedded default)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from db import models
from db.enums import Role
from resolvers import files
from schema.ids import to_global_id
from tests.contracts.given import FILES, PREFLIGHT, count, image, multipart, padded_pdf, pdf, rows, upload
from tests.factories import make_customer, make_user


def gid(type_name: str, row) -> str:  # type: ignore[no-untyped-def]
    return to_global_id(type_name, row.id)


def stored_files(app) -> list[Path]:  # type: ignore[no-untyped-def]
    root = Path(app.state.services.storage.root)
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("content_type", list(FILES))
async def test_sales_uploads_each_accepted_type(app, client, content_type):
    # given
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    filename, make = FILES[content_type]
    content = make()
    before = set(stored_files(app))
    # when
    response = await upload(
        client, token=sales.token, customer_id=gid("Customer", customer), content=content, filename=filename
    )
    # then
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["uploadContract"]
    assert payload["errors"] == []
    contract = payload["contract"]
    assert contract["contentType"] == content_type
    assert contract["size"] == len(content)
    assert contract["sha256"] == hashlib.sha256(content).hexdigest()
    assert contract["filename"] == filename
    assert contract["title"] == "Service agreement"
    assert contract["customer"]["id"] == gid("Customer", customer)
    assert contract["uploadedBy"]["id"] == to_global_id("User", sales.id)
    new = set(stored_files(app)) - before
    assert len(new) == 1
    stored = new.pop()
    assert stored.read_bytes() == content
    assert filename not in str(stored)
    [row] = await rows(app, models.Contract)
    assert row.storage_key.endswith(stored.name)
    [record] = await rows(app, models.AuditRecord, models.AuditRecord.action == "contract.uploaded")
    assert record.entity_id == contract["id"]
    assert record.details["sha256"] == contract["sha256"]
    assert filename not in str(record.details)


async def test_the_type_comes_from_the_bytes_not_the_name_or_declared_type(app, client):
    customer = await make_customer(app)
    admin = await make_user(app, Role.ADMIN)
    response = await upload(
        client,
        token=admin.token,
        customer_id=gid("Customer", customer),
        content=image("PNG"),
        filename="contract.pdf",
        declared="application/pdf",
    )
    contract = response.json()["data"]["uploadContract"]["contract"]
    assert contract["contentType"] == "image/png"
    assert contract["filename"] == "contract.pdf"


@pytest.mark.parametrize(
    ("filename", "content", "declared"),
    [
        ("contract.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200, "application/pdf"),
        ("scan.png", image("GIF"), "image/png"),
        ("notes.pdf", b"Dear team, please find the contract attached.\n", "application/pdf"),
        ("empty.pdf", b"", "application/pdf"),
        ("fake.png", b"\x89PNG\r\n\x1a\n" + b"not a png at all", "image/png"),
        ("bitmap.jpg", image("BMP"), "image/jpeg"),
    ],
    ids=["executable-as-pdf", "gif-as-png", "text-as-pdf", "empty", "png-signature-only", "bmp-as-jpeg"],
)
async def test_other_types_are_unsupported_and_nothing_is_stored(app, client, filename, content, declared):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    before = stored_files(app)
    response = await upload(
        client,
        token=sales.token,
        customer_id=gid("Customer", customer),
        content=content,
        filename=filename,
        declared=declared,
    )
    payload = response.json()["data"]["uploadContract"]
    assert payload["contract"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("UNSUPPORTED_FILE_TYPE", ["file"])]
    assert await count(app, models.Contract) == 0
    assert stored_files(app) == before


async def test_a_file_over_the_file_limit_but_within_the_body_limit_is_file_too_large(app, client):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    limit = app.state.settings.storage.max_file_bytes
    before = stored_files(app)
    response = await upload(
        client, token=sales.token, customer_id=gid("Customer", customer), content=padded_pdf(limit + 1)
    )
    assert response.status_code == 200
    payload = response.json()["data"]["uploadContract"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("FILE_TOO_LARGE", ["file"])]
    assert await count(app, models.Contract) == 0
    assert stored_files(app) == before


async def test_a_file_of_exactly_the_limit_is_accepted(app, client):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    limit = app.state.settings.storage.max_file_bytes
    response = await upload(client, token=sales.token, customer_id=gid("Customer", customer), content=padded_pdf(limit))
    payload = response.json()["data"]["uploadContract"]
    assert payload["errors"] == []
    assert payload["contract"]["size"] == limit


async def test_a_declared_body_over_the_limit_is_413_and_nothing_runs(app, client):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    settings = app.state.settings
    too_big = settings.storage.max_file_bytes + settings.limits.max_body_bytes + 1
    response = await upload(
        client, token=sales.token, customer_id=gid("Customer", customer), content=padded_pdf(too_big)
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert await count(app, models.Contract) == 0


async def test_a_streamed_body_over_the_limit_is_cut_off_with_413(app, client):
    """No Content-Length (chunked): the guard counts the bytes as they arrive."""
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    settings = app.state.settings
    limit = settings.storage.max_file_bytes + settings.limits.max_body_bytes
    data, files = multipart(
        "mutation U($input: UploadContractInput!) { uploadContract(input: $input) { errors { code } } }",
        {"input": {"customerId": gid("Customer", customer), "file": None}},
        {"variables.input.file": ("big.pdf", padded_pdf(limit + 1024 * 1024), "application/pdf")},
    )
    request = client.build_request(
        "POST", "/graphql", data=data, files=files, headers={**PREFLIGHT, "Authorization": f"Bearer {sales.token}"}
    )
    body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
    pulled = 0

    async def chunks():  # type: ignore[no-untyped-def]
        nonlocal pulled
        for start in range(0, len(body), 64 * 1024):
            pulled += 64 * 1024
            yield body[start : start + 64 * 1024]

    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    response = await client.post("/graphql", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert await count(app, models.Contract) == 0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Apollo-Require-Preflight": ""}, {"X-Requested-With": "  "}],
    ids=["no-preflight-header", "empty-apollo-header", "blank-x-requested-with"],
)
async def test_multipart_without_a_csrf_safe_header_is_400_and_nothing_runs(app, client, headers):
    """Even with a valid bearer token: a browser form could carry it through cookies-less CSRF helpers."""
    sales = await make_user(app, Role.SALES)
    data, files = multipart(
        'mutation { createCustomer(input: {firstName: "Mallory", lastName: "Forged"}) { customer { id } } }',
        {},
        {},
    )
    response = await client.post(
        "/graphql",
        data=data,
        files={"0": ("x.txt", b"x", "text/plain")},
        headers={**headers, "Authorization": f"Bearer {sales.token}"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert await count(app, models.Customer) == 0


@pytest.mark.parametrize("header", ["Apollo-Require-Preflight", "GraphQL-Preflight", "X-Requested-With"])
async def test_each_csrf_safe_header_lets_a_multipart_request_through(app, client, header):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    response = await upload(
        client,
        token=sales.token,
        customer_id=gid("Customer", customer),
        content=pdf(),
        headers={header: "XMLHttpRequest" if header == "X-Requested-With" else "1"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["uploadContract"]["errors"] == []


async def test_the_filename_is_sanitised_for_display_and_never_a_storage_key(app, client):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    response = await upload(
        client,
        token=sales.token,
        customer_id=gid("Customer", customer),
        content=pdf(),
        filename="../../etc/passwd",
    )
    contract = response.json()["data"]["uploadContract"]["contract"]
    assert contract["filename"] == "passwd"
    [row] = await rows(app, models.Contract)
    assert "etc" not in row.storage_key and "pass" not in row.storage_key
    root = Path(app.state.services.storage.root)
    assert (root / row.storage_key).is_file()
    assert not (root.parent / "etc").exists()


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.CUSTOMER])
async def test_roles_that_may_not_upload_are_forbidden_and_nothing_is_stored(app, client, role):
    customer = await make_customer(app)
    viewer = await make_user(app, role, customer=customer if role == Role.CUSTOMER else None)
    before = stored_files(app)
    response = await upload(client, token=viewer.token, customer_id=gid("Customer", customer), content=pdf())
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert body["data"] is None
    assert stored_files(app) == before


async def test_an_unknown_customer_is_not_found_and_nothing_is_stored(app, client):
    sales = await make_user(app, Role.SALES)
    before = stored_files(app)
    response = await upload(client, token=sales.token, customer_id=to_global_id("Customer", 99999), content=pdf())
    payload = response.json()["data"]["uploadContract"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", ["customerId"])]
    assert stored_files(app) == before


async def test_a_too_long_title_is_a_validation_error(app, client):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    response = await upload(
        client, token=sales.token, customer_id=gid("Customer", customer), content=pdf(), title="t" * 201
    )
    payload = response.json()["data"]["uploadContract"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", ["title"])]


async def test_a_file_variable_sent_as_json_is_a_validation_error_not_a_crash(app, gql):
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    body = await gql(
        "mutation U($input: UploadContractInput!) { uploadContract(input: $input) { errors { code field } } }",
        {"input": {"customerId": gid("Customer", customer), "file": "not a file"}},
        token=sales.token,
    )
    assert body["data"]["uploadContract"]["errors"] == [{"code": "VALIDATION", "field": ["file"]}]


async def test_a_failed_insert_removes_the_stored_object(app, client):
    """Object first, then the row: when the row cannot be written, the object goes too."""
    customer = await make_customer(app)
    sales = await make_user(app, Role.SALES)
    before = stored_files(app)
    async with app.state.engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE FUNCTION refuse_contract() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'forced failure'; END $$"
        )
        await conn.exec_driver_sql(
            "CREATE TRIGGER refuse_contract BEFORE INSERT ON contracts FOR EACH ROW EXECUTE FUNCTION refuse_contract()"
        )
    try:
        response = await upload(client, token=sales.token, customer_id=gid("Customer", customer), content=pdf())
    finally:
        async with app.state.engine.begin() as conn:
            await conn.exec_driver_sql("DROP TRIGGER refuse_contract ON contracts")
            await conn.exec_driver_sql("DROP FUNCTION refuse_contract()")
    body = response.json()
    assert body["data"] is None or body["data"]["uploadContract"] is None
    assert await count(app, models.Contract) == 0
    assert stored_files(app) == before


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\Vertrag März.pdf", "Vertrag März.pdf"),
        ('in"voice\r\n;.pdf', "in_voice_.pdf"),
        ("\x00\x01", "contract.pdf"),
        ("...", "contract.pdf"),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
    ],
)
def test_display_names(raw, shown):
    assert files.display_name(raw, "application/pdf") == shown


def test_content_disposition_is_an_attachment_with_an_ascii_fallback():
    header = files.content_disposition("Vertrag März.pdf")
    assert header == "attachment; filename=\"Vertrag M_rz.pdf\"; filename*=UTF-8''Vertrag%20M%C3%A4rz.pdf"
