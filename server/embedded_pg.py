"""An embedded PostgreSQL (the `pgserver` package) for development and tests when DATABASE_URL is unset."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def start_embedded(data_dir: str | Path, *, cleanup_mode: str | None = "stop") -> tuple[str, Any]:
    """Start (or reuse) a cluster whose data lives in `data_dir`; return (url, server handle)."""
    import pgserver  # imported lazily: production never needs it

    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(path, cleanup_mode=cleanup_mode)
    return server.get_uri(), server
