"""One JSON log line per request: request id, operation, duration, outcome, viewer id — never personal data."""

import logging

import orjson

from db.enums import Role
from server.logs import JsonFormatter
from tests.factories import make_user

CREATE = """
mutation AddCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } errors { code } }
}
"""
PERSONAL = {
    "firstName": "Arya",
    "lastName": "Stark",
    "email": "arya.stark@winterfell.example",
    "phone": "+442083661172",
}


async def test_request_line_is_json_and_free_of_personal_data(app, client, caplog):
    # given a SALES user creating a customer with personal details
    sales = await make_user(app, Role.SALES)
    caplog.set_level(logging.INFO, logger="customer_graph")

    # when the request is served
    response = await client.post(
        "/graphql",
        json={"query": CREATE, "variables": {"input": PERSONAL}, "operationName": "AddCustomer"},
        headers={"Authorization": f"Bearer {sales.token}", "X-Request-ID": "log-test-1"},
    )
    assert response.json()["data"]["createCustomer"]["errors"] == []

    # then exactly one request line describes it, as JSON, without any personal value
    records = [r for r in caplog.records if r.name == "customer_graph.http" and r.getMessage() == "request"]
    mine = [r for r in records if getattr(r, "request_id", None) == "log-test-1"]
    assert len(mine) == 1
    line = JsonFormatter().format(mine[0])
    entry = orjson.loads(line)
    assert entry["operation"] == "AddCustomer"
    assert entry["outcome"] == "ok" and entry["status"] == 200
    assert entry["viewer_id"] == sales.id
    assert entry["duration_ms"] >= 0
    every_line = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for value in PERSONAL.values():
        assert value not in every_line
