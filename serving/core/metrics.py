"""Prometheus metrics: the registry, the request metrics and the exposition of ``/metrics``.

With several uvicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` (``serving.server.serve``
does it for ``workers > 1``) so every worker writes its samples there and ``/metrics``
aggregates all of them; the variable must be set before ``prometheus_client`` is imported.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "hot_http_requests_total",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "hot_http_request_duration_seconds",
    "HTTP request latency by route template, method and status.",
    ["route", "method", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
SNAPSHOT_AGE = Gauge(
    "hot_snapshot_age_seconds",
    "Age of the current snapshot (now - generatedAt), updated at scrape time.",
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
STALE_SECONDS = Gauge(
    "hot_stale_seconds",
    "Seconds the served snapshot has gone unconfirmed by Redis (0 when fresh, +Inf when the "
    "stale window is over), updated at scrape time.",
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
STALE_RESPONSES = Counter(
    "hot_stale_responses_total",
    "Feed responses served from memory while Redis was unreachable.",
    registry=REGISTRY,
)

_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one request and record its latency."""
    key = (route, method, status)
    pair = _children.get(key)
    if pair is None:
        labels = (route, method, str(status))
        pair = _children[key] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
    pair[0].inc()
    pair[1].observe(seconds)


def mark_worker_dead() -> None:
    """Drop this worker's live gauges from the multiprocess directory (at shutdown)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())


def exposition() -> bytes:
    """The Prometheus text of this process (of all workers in multiprocess mode)."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
