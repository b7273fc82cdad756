"""The HS256 signing key when none is configured: never a known value.

Outside production, an unset or placeholder `AUTH_JWT_SECRET` is replaced by a random key generated once and
kept in `APP_DATA_DIR/jwt-secret` (mode 0600), so tokens survive restarts and every process using that data
directory shares it. Production refuses to start without a real key (Settings.problems)."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from integrations.auth.known_secrets import is_known_secret

log = logging.getLogger("customer_graph.auth")
KEY_FILE = "jwt-secret"


def _read_or_create(path: Path) -> str:
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if len(existing) >= 32 and not is_known_secret(existing):
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    if existing:  # unusable content (too short, or a known value): replace it
        os.replace(temporary, path)
    else:
        try:
            os.link(temporary, path)  # another process may have created it meanwhile: keep theirs
        except FileExistsError:
            temporary.unlink(missing_ok=True)
            return path.read_text().strip()
        temporary.unlink(missing_ok=True)
    log.info("generated a development token signing key", extra={"path": str(path)})
    return value


def ensure_signing_key(settings: Any) -> None:
    """Replace an unset or publicly known HS256 secret by the data directory's random key (not in production)."""
    auth = settings.auth
    if auth.jwt_algorithm != "HS256" or not is_known_secret(auth.jwt_secret):
        return
    if settings.is_production:
        raise ValueError("AUTH_JWT_SECRET is a placeholder")  # Settings.problems() reports it first
    auth.jwt_secret = _read_or_create(Path(settings.app.data_dir) / KEY_FILE)
