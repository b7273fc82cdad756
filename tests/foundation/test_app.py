"""The server boots and its plain routes answer."""

import pytest

from db.enums import Role
from tests.factories import make_user


async def test_root_describes_the_service(client):
    response = await client.get("/")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "customer-graph"
    assert body["links"]["graphql"] == "/graphql"
    assert body["links"]["health"] == "/health"


async def test_health_is_ok_without_io(client):
    response = await client.get("/health")
    assert response.json() == {"status": "ok"}


async def test_ready_when_migrated(client):
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


async def test_unknown_route_is_json_404(client):
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json()["path"] == "/nope"


async def test_request_id_is_honoured_and_returned(client):
    response = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"


async def test_metrics_count_graphql_operations(client, gql):
    await gql("query Hello { __typename }")
    text = (await client.get("/metrics")).text
    # a client-chosen operation name is not a label (unbounded); registered documents are (tests/persisted)
    assert 'customer_graph_requests_total{operation="other",outcome="ok",route="/graphql"}' in text
    assert 'operation="Hello"' not in text
    assert "customer_graph_db_pool_connections" in text
    assert "customer_graph_outbox_backlog" in text


async def test_anonymous_me_is_null(gql):
    assert (await gql("{ me { id } }")) == {"data": {"me": None}}


async def test_anonymous_other_fields_are_unauthenticated(gql):
    body = await gql('{ node(id: "x") { id } }')
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body.get("data") is None


@pytest.mark.parametrize("header", ["Bearer garbage", "Token abc", "Bearer "])
async def test_bad_authorization_is_unauthenticated(client, header):
    response = await client.post("/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": header})
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_me_for_signed_in_staff(app, gql):
    admin = await make_user(app, Role.ADMIN)
    body = await gql("{ me { email role operator { email } customer { id } } }", token=admin.token)
    assert body["data"]["me"] == {
        "email": admin.user.email,
        "role": "ADMIN",
        "operator": {"email": admin.user.email},
        "customer": None,
    }
