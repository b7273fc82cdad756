"""Process tuning measured by `make bench`: the cyclic garbage collector and the counters the benchmark reads.

Why the collector is tuned: a request builds thousands of short-lived objects (parsed documents, result dicts,
rows) while the process holds a large, long-lived heap (the schema, SQLAlchemy's mappers, compiled caches).
With CPython's default thresholds (700, 10, 10) a full collection walks that whole heap every few hundred
requests. Three measures, each measured on its own (docs/PERFORMANCE.md):

- `gc.freeze()` once start-up is over moves every object alive then into a permanent generation that no
  collection walks again;
- a larger generation-0 threshold, so young collections run less often (a request's garbage is mostly freed
  by reference counting, the collector finds little);
- a timer on `gc.callbacks` that adds the CPU time spent in each collection to a Prometheus counter, so the
  benchmark reports collector time per request (CPU time: on a shared machine wall time mostly measures
  the neighbours).
"""

from __future__ import annotations

import gc
import time
from typing import Any

from db.statements import StatementTally
from server import metrics

_started: list[float] = []


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started.append(time.process_time())
    elif _started:
        elapsed = time.process_time() - _started.pop()
        metrics.GC_SECONDS.labels(str(info.get("generation", "?"))).inc(elapsed)


def time_collections() -> None:
    """Count the collector's time in `customer_graph_gc_seconds_total` (idempotent)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


def tune_collector(threshold0: int, threshold1: int, threshold2: int) -> None:
    """Thresholds from settings (APP_GC_THRESHOLD); 0 for threshold0 leaves the interpreter's defaults."""
    if threshold0 > 0:
        gc.set_threshold(threshold0, threshold1, threshold2)


def freeze_startup_heap() -> None:
    """Collect once, then exempt everything alive now (schema, mappers, caches) from later collections."""
    gc.collect()
    gc.freeze()


def instrument(engine: Any) -> None:
    """Collector timer and the SQL statement counter on `engine` (an AsyncEngine), for /metrics."""
    time_collections()
    StatementTally(lambda _statement: metrics.SQL_STATEMENTS.inc()).attach(engine.sync_engine)


# From `make bench` (docs/PERFORMANCE.md), collector CPU per request of query a, 1 worker: defaults 11 ms at
# 1 connection and 28 ms at 50; frozen start-up heap with these thresholds 6 and 13 ms. Generation 2 runs only
# after 1,000 generation-1 collections (it was most of the cost); generation-0 thresholds of 5,000, 20,000
# and 100,000 measured the same within the noise of the shared machine.
GC_THRESHOLDS = (20_000, 50, 1_000)


def after_startup() -> None:
    """Called once the app has started (per worker process): thresholds, then freeze what start-up built."""
    tune_collector(*GC_THRESHOLDS)
    freeze_startup_heap()
