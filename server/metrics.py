"""Prometheus metrics: requests and latency per operation and outcome, DB pool figures, outbox backlog."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "customer_graph_requests_total",
    "HTTP requests by route, GraphQL operation name and outcome.",
    ["route", "operation", "outcome"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "customer_graph_request_duration_seconds",
    "Request latency by route, GraphQL operation name and outcome.",
    ["route", "operation", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
POOL = Gauge("customer_graph_db_pool_connections", "Database pool connections by state.", ["state"], registry=REGISTRY)
OUTBOX_BACKLOG = Gauge("customer_graph_outbox_backlog", "Outbox messages not yet delivered.", registry=REGISTRY)
OUTBOX_MESSAGES = Gauge(
    "customer_graph_outbox_messages",
    "Outbox messages not delivered, by state: pending (waiting or due), in_flight (claimed by a relay), dead.",
    ["state"],
    registry=REGISTRY,
)
OUTBOX_OLDEST_PENDING_AGE = Gauge(
    "customer_graph_outbox_oldest_pending_age_seconds",
    "Age of the oldest outbox message not yet delivered (0 when none is pending).",
    registry=REGISTRY,
)
OUTBOX_DELIVERIES = Counter(
    "customer_graph_outbox_deliveries_total",
    "Outbox messages delivered by this process, by topic.",
    ["topic"],
    registry=REGISTRY,
)
OUTBOX_FAILURES = Counter(
    "customer_graph_outbox_failures_total",
    "Failed delivery attempts in this process, by topic and outcome (retry: tried again later; dead: given up).",
    ["topic", "outcome"],
    registry=REGISTRY,
)
GC_SECONDS = Counter(
    "customer_graph_gc_seconds_total",
    "Time spent in the cyclic garbage collector, by generation collected.",
    ["generation"],
    registry=REGISTRY,
)
SQL_STATEMENTS = Counter(
    "customer_graph_sql_statements_total",
    "Statements sent to PostgreSQL, including the BEGIN/COMMIT/ROLLBACK the driver sends for transactions.",
    registry=REGISTRY,
)

# Subscriptions (server/websocket.py, db/events.py)
EVENT_LISTENER_UP = Gauge(
    "customer_graph_event_listener_up", "1 while this process LISTENs for events, else 0.", registry=REGISTRY
)
EVENT_LISTENER_RECONNECTS = Counter(
    "customer_graph_event_listener_reconnects_total",
    "Times the event listener re-established its lost database connection.",
    registry=REGISTRY,
)
EVENT_LISTENER_LOSSES = Counter(
    "customer_graph_event_listener_losses_total", "Times the event listener lost its connection.", registry=REGISTRY
)
EVENTS_RECEIVED = Counter(
    "customer_graph_events_received_total", "Notifications received, by channel.", ["channel"], registry=REGISTRY
)
EVENTS_DROPPED = Counter(
    "customer_graph_events_dropped_total",
    "Events not queued for a subscriber that fell too far behind, by channel.",
    ["channel"],
    registry=REGISTRY,
)
WEBSOCKETS = Gauge("customer_graph_websockets", "Open graphql-transport-ws connections.", registry=REGISTRY)
SUBSCRIPTIONS = Gauge("customer_graph_subscriptions", "Subscriptions being served.", registry=REGISTRY)
