"""Prometheus metrics. With several server processes, PROMETHEUS_MULTIPROC_DIR makes
prometheus_client aggregate across them (the Makefile sets it when serving)."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("hcmgov_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "hcmgov_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DOSSIERS_SUBMITTED = Counter("hcmgov_dossiers_submitted_total", "Dossiers submitted", ["channel"])
OUTBOX_DELIVERED = Counter("hcmgov_outbox_delivered_total", "Outbox events delivered", ["topic"])
EXCHANGE_CALLS = Counter(
    "hcmgov_exchange_calls_total", "Calls through the data sharing gateway", ["service", "status", "error"]
)
EXCHANGE_LATENCY = Histogram(
    "hcmgov_exchange_call_seconds",
    "Time from a call's arrival at the gateway to the end of its answer",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(route).observe(seconds)


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
