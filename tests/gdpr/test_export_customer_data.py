"""exportCustomerData: everything stored about a customer, for an ADMIN or the customer itself."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlparse

from db.enums import Role
from schema.ids import decode_id, to_global_id
from tests.factories import make_user
from tests.gdpr.given import (
    CHAT_TITLE,
    COMPANY,
    CONTRACT_TITLE,
    EMAIL,
    ERASE,
    EXPORT,
    FILENAME,
    FIRST,
    MESSAGE,
    NOTE,
    PHONE,
    REQUEST_BODY,
    call,
    customer_with_everything,
)


async def test_an_admin_exports_everything_about_a_customer(app, client):
    story = await customer_with_everything(app, client)
    data = (await call(client, EXPORT, {"id": story.customer_id}, story.admin.token))["exportCustomerData"]
    assert set(data) == {"exportedAt", "customer", "requests", "chatSessions", "contracts", "notes", "auditRecords"}
    assert datetime.fromisoformat(data["exportedAt"])
    customer = data["customer"]
    assert (customer["id"], customer["firstName"], customer["email"], customer["phone"], customer["company"]) == (
        story.customer_id,
        FIRST,
        EMAIL,
        PHONE,
        COMPANY,
    )
    assert [(r["id"], r["body"], r["status"]) for r in data["requests"]] == [
        (story.request_id, REQUEST_BODY, "PENDING")
    ]
    [chat] = data["chatSessions"]
    assert chat["id"] == story.session_id and chat["title"] == CHAT_TITLE
    assert [(m["sender"], m["body"]) for m in chat["messages"]] == [("OPERATOR", MESSAGE)]
    [contract] = data["contracts"]
    assert (contract["id"], contract["title"], contract["filename"], contract["contentType"]) == (
        story.contract["id"],
        CONTRACT_TITLE,
        FILENAME,
        "application/pdf",
    )
    download = await client.get(urlparse(contract["downloadUrl"]).path)
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")
    assert [n["body"] for n in data["notes"]] == [NOTE]
    actions = [a["action"] for a in data["auditRecords"]]
    assert actions == [
        "contract.uploaded",
        "note.added",
        "chat_message.posted",
        "chat_session.started",
        "request.created",
        "customer.updated",
        "customer.created",
    ]


async def test_a_customer_exports_its_own_data(app, client):
    story = await customer_with_everything(app, client)
    own = await make_user(app, Role.CUSTOMER)
    own_id = f"{own.user.customer_id}"
    gid = to_global_id("Customer", int(own_id))
    data = (await call(client, EXPORT, {"id": gid}, own.token))["exportCustomerData"]
    assert data["customer"]["id"] == gid
    assert data["requests"] == [] and data["chatSessions"] == []
    other = (await call(client, EXPORT, {"id": story.customer_id}, own.token))["exportCustomerData"]
    assert other is None


async def test_an_export_after_erasure_holds_only_the_tombstone(app, client):
    story = await customer_with_everything(app, client)
    await call(client, ERASE, {"id": story.customer_id}, story.admin.token)
    data = (await call(client, EXPORT, {"id": story.customer_id}, story.admin.token))["exportCustomerData"]
    assert data["customer"]["firstName"] == "Erased" and data["customer"]["email"] is None
    assert data["notes"] == [] and data["contracts"] == []
    assert [r["body"] for r in data["requests"]] == ["[erased]"]
    assert "Philippa" not in str(data) and "Wrenfield" not in str(data)


async def test_an_unknown_or_malformed_id_is_null(app, client):
    admin = await make_user(app, Role.ADMIN)
    assert (await call(client, EXPORT, {"id": to_global_id("Customer", 987654)}, admin.token))[
        "exportCustomerData"
    ] is None
    assert (await call(client, EXPORT, {"id": "garbage"}, admin.token))["exportCustomerData"] is None
    assert decode_id("garbage", "Customer") is None
