"""Malformed multipart requests (the GraphQL multipart request spec broken in every usual way) are refused with
400 or answered with GraphQL errors: never a 500 or INTERNAL_SERVER_ERROR."""

import json

from db.enums import Role
from schema.ids import to_global_id
from tests.factories import make_customer, make_user

Q = "mutation U($input: UploadContractInput!) { uploadContract(input: $input) { errors { code } } }"


async def test_malformed_multipart_requests_never_crash(app, client):
    sales = await make_user(app, Role.SALES)
    c = await make_customer(app)
    cid = to_global_id("Customer", c.id)
    H = {"Apollo-Require-Preflight": "1", "Authorization": f"Bearer {sales.token}"}
    ops = json.dumps({"query": Q, "variables": {"input": {"customerId": cid, "file": None}}})
    cases = [
        ({"operations": ops}, {"1": ("a.pdf", b"%PDF-1.4 x", "application/pdf")}),  # no map
        ({"operations": ops, "map": "not json"}, {"1": ("a.pdf", b"%PDF-1.4 x", "application/pdf")}),
        ({"operations": ops, "map": json.dumps({"1": ["variables.input.file"]})}, {}),  # missing file
        (
            {"operations": ops, "map": json.dumps({"1": ["variables.nope.file"]})},
            {"1": ("a.pdf", b"%PDF-1.4", "application/pdf")},
        ),
        ({"operations": "{bad", "map": "{}"}, {"1": ("a.pdf", b"%PDF", "application/pdf")}),
        (
            {"operations": ops, "map": json.dumps({"1": "variables.input.file"})},
            {"1": ("a.pdf", b"%PDF-1.4", "application/pdf")},
        ),
        (
            {"operations": ops, "map": json.dumps({"1": ["variables.input.file", "variables.input.title"]})},
            {"1": ("a.pdf", b"%PDF-1.4", "application/pdf")},
        ),
        (
            {"operations": json.dumps([json.loads(ops)]), "map": json.dumps({"1": ["0.variables.input.file"]})},
            {"1": ("a.pdf", b"%PDF-1.4", "application/pdf")},
        ),
        ({"operations": "x" * (1024 * 1024 + 10), "map": "{}"}, {"1": ("a.pdf", b"%PDF", "application/pdf")}),
        (
            {
                "operations": json.dumps({"query": Q, "variables": {"input": {"customerId": cid, "file": None}}}),
                "map": json.dumps({"1": ["variables.input.customerId"]}),
            },
            {"1": ("a.pdf", b"%PDF-1.4", "application/pdf")},
        ),
    ]
    for data, files in cases:
        r = await client.post("/graphql", data=data, files=files or {"zz": ("x", b"", "text/plain")}, headers=H)
        assert r.status_code != 500
        assert "INTERNAL_SERVER_ERROR" not in r.text
    for body, content_type in (
        (b"--x\r\ngarbage", "multipart/form-data; boundary=x"),
        (b"garbage", "multipart/form-data"),
    ):
        r = await client.post("/graphql", content=body, headers={**H, "Content-Type": content_type})
        assert r.status_code == 400
