"""apollo-upload-client against the live server: uploads as that library sends them (upload.test.mjs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from db import models
from db.enums import Role
from schema.ids import to_global_id
from tests.clients.test_node_clients import node_modules, run  # noqa: F401  (the fixture and the runner)
from tests.contracts.given import pdf, rows
from tests.factories import make_customer, make_user


async def test_apollo_upload_client_uploads_a_contract(
    node_modules: Path,  # noqa: F811
    app: Any,
    live_server: str,
    tmp_path: Path,
) -> None:
    sales = await make_user(app, Role.SALES)
    customer = await make_customer(app)
    path = tmp_path / "contract.pdf"
    path.write_bytes(pdf())
    output = run(
        ["node", "--test", "--test-reporter=tap", "upload.test.mjs"],
        env={
            "API_URL": f"{live_server}/graphql",
            "TOKEN": sales.token,
            "CUSTOMER_ID": to_global_id("Customer", customer.id),  # type: ignore[arg-type]
            "PDF_PATH": str(path),
        },
    )
    assert "# fail 0" in output, output
    assert "# pass 3" in output, output
    [contract] = await rows(app, models.Contract)
    assert contract.filename == "Rahmenvertrag 2026.pdf"
