"""A client that goes away before its request body arrives is logged as its own choice, not as a 500."""

import logging

from db.enums import Role
from tests.factories import make_user


async def test_a_client_gone_mid_request_is_logged_as_client_closed(app, caplog):
    # given a signed-in client whose connection drops before the body is sent
    user = await make_user(app, Role.ADMIN)
    caplog.set_level(logging.INFO, logger="customer_graph")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
            (b"authorization", f"Bearer {user.token}".encode()),
            (b"x-request-id", b"gone-1"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    # when the app serves it (no exception escapes to the server)
    await app(scope, receive, send)

    # then no 500 was sent and the request line says the client closed it
    assert not [m for m in sent if m.get("status", 0) >= 500]
    lines = [r for r in caplog.records if r.name == "customer_graph.http" and getattr(r, "request_id", "") == "gone-1"]
    assert len(lines) == 1
    assert lines[0].outcome == "client_closed"
    assert lines[0].status == 499
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
