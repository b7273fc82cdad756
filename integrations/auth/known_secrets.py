"""Signing keys that are public knowledge: placeholders and example values written in code or documentation.

No process signs or accepts tokens with one of these (TokenService refuses to be built with one)."""

from __future__ import annotations

PLACEHOLDER_SECRET = "change-me-in-production"

KNOWN_SECRETS = frozenset(
    {
        PLACEHOLDER_SECRET,
        "change-me",
        "changeme",
        "secret",
        "jwt-secret",
        "your-secret-key",
        "your-256-bit-secret",  # jwt.io's example
        "dev-secret",
        "development",
        "test",
    }
)


def is_known_secret(secret: str | None) -> bool:
    return secret is None or secret.strip() == "" or secret.strip().lower() in KNOWN_SECRETS
