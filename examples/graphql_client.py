"""A small GraphQL-over-HTTP client for the example scripts: bearer token, retries of retryable failures.

Retryable: the server or network is unreachable, HTTP 502/503/504, a top-level error with code
SERVICE_UNAVAILABLE (database down), and UserErrors that carry `retryAfter` (AI_UNAVAILABLE, STORAGE_UNAVAILABLE).
Everything else is final and returned to the caller."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRYABLE_STATUS = {502, 503, 504}
RETRYABLE_CODES = {"SERVICE_UNAVAILABLE"}


class GraphQLError(Exception):
    """A final top-level error: `code` is its extensions.code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Client:
    url: str
    token: str | None = None
    max_attempts: int = 5
    max_wait: float = 30.0
    timeout: float = 30.0
    retries: int = 0  # how many retries this client made, for the summary
    _http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self._http = httpx.Client(timeout=self.timeout)

    def close(self) -> None:
        self._http.close()

    def login(self, email: str, password: str) -> dict[str, Any]:
        payload = self.execute(
            "mutation Login($input: LoginInput!) { login(input: $input) {"
            " token user { id email role } errors { code message retryAfter } } }",
            {"input": {"email": email, "password": password}},
        )["login"]
        if payload["errors"]:
            error = payload["errors"][0]
            raise GraphQLError(error["code"], error["message"])
        self.token = payload["token"]
        return payload["user"]  # type: ignore[no-any-return]

    def execute(self, query: str, variables: dict[str, Any] | None = None, *, retry_payload: str | None = None) -> Any:
        """Run one operation; returns `data`. Retries retryable failures with backoff (honouring retryAfter).
        `retry_payload` names a payload field whose UserErrors with retryAfter are retried too."""
        attempt = 0
        while True:
            attempt += 1
            wait, data, error = self._attempt(query, variables or {}, retry_payload)
            if wait is None:
                if error is not None:
                    raise error
                return data
            if attempt >= self.max_attempts:
                if error is not None:
                    raise error
                return data
            self.retries += 1
            time.sleep(min(wait, self.max_wait))

    def _attempt(
        self, query: str, variables: dict[str, Any], retry_payload: str | None
    ) -> tuple[float | None, Any, GraphQLError | None]:
        """(seconds to wait before a retry or None when final, data, final error)."""
        backoff = 0.5
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self._http.post(self.url, json={"query": query, "variables": variables}, headers=headers)
        except httpx.TransportError as error:
            return backoff, None, GraphQLError("NETWORK", f"{type(error).__name__}: {error}")
        try:
            body = response.json()
        except ValueError:
            body = None
        errors = (body or {}).get("errors") or []
        if response.status_code in RETRYABLE_STATUS or any(
            (e.get("extensions") or {}).get("code") in RETRYABLE_CODES for e in errors
        ):
            hints = [(e.get("extensions") or {}).get("retryAfter") for e in errors]
            after = next((h for h in hints if h), None)
            after = after or _retry_after_header(response) or backoff
            return float(after), None, GraphQLError("SERVICE_UNAVAILABLE", f"HTTP {response.status_code}")
        if body is None:
            return None, None, GraphQLError("BAD_RESPONSE", f"HTTP {response.status_code}: not JSON")
        if errors:
            first = errors[0]
            code = (first.get("extensions") or {}).get("code", "UNKNOWN")
            return None, body.get("data"), GraphQLError(code, first.get("message", ""))
        data = body.get("data")
        if retry_payload and data and data.get(retry_payload):
            retry_after = [e.get("retryAfter") for e in data[retry_payload].get("errors") or [] if e.get("retryAfter")]
            if retry_after:
                return float(retry_after[0]), data, None
        return None, data, None


def _retry_after_header(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
