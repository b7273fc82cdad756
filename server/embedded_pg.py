"""An embedded PostgreSQL (the `pgserver` package) for development and tests when DATABASE_URL is unset."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any


def start_embedded(data_dir: str | Path, *, cleanup_mode: str | None = "stop") -> tuple[str, Any]:
    """Start (or reuse) a cluster whose data lives in `data_dir`; return (url, server handle)."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine here.
        warnings.simplefilter("ignore")
        import pgserver.postgres_server  # imported lazily: production never needs it

    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(path)
    server = pgserver.postgres_server.get_server(path, cleanup_mode=cleanup_mode)
    return server.get_uri(), server


def _forget_dead_handles(path: Path) -> None:
    """pgserver stops the cluster when the last process using it exits; a process that was killed never
    unregisters, and the cluster would then never be stopped again. Drop such dead processes from its list."""
    import psutil

    handles = path / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
