"""An embedded PostgreSQL (the `pgserver` package) for development and tests when DATABASE_URL is unset.

`pgserver` is an optional extra (`pip install 'customer-graph[embedded]'`; `.[dev]` includes it): the production
image does not have it, and a process without it that needs it says what to do in one line.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

MISSING = (
    "DATABASE_URL is unset and the embedded PostgreSQL (pgserver) is not installed: set DATABASE_URL to your "
    "PostgreSQL (postgresql://user:password@host:5432/db), or install the extra: pip install 'customer-graph[embedded]'"
)


class EmbeddedUnavailable(RuntimeError):
    """The embedded database is needed (DATABASE_URL unset) but `pgserver` is not installed."""


def load_pgserver() -> ModuleType:
    """The `pgserver` module, or EmbeddedUnavailable saying what to do."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine here.
        warnings.simplefilter("ignore")
        try:
            import pgserver  # imported lazily: production never needs it
        except ImportError:
            raise EmbeddedUnavailable(MISSING) from None
    return pgserver


def start_embedded(data_dir: str | Path, *, cleanup_mode: str | None = "stop") -> tuple[str, Any]:
    """Start (or reuse) a cluster whose data lives in `data_dir`; return (url, server handle)."""
    pgserver = load_pgserver()
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(path)
    server = pgserver.postgres_server.get_server(path, cleanup_mode=cleanup_mode)
    return server.get_uri(), server


def _forget_dead_handles(path: Path) -> None:
    """pgserver stops the cluster when the last process using it exits; a process that was killed never
    unregisters, and the cluster would then never be stopped again. Drop such dead processes from its list."""
    import psutil  # optional, like pgserver (the embedded extra): production never needs it

    handles = path / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
