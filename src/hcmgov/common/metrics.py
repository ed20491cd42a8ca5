"""Prometheus metrics. With several server processes, PROMETHEUS_MULTIPROC_DIR makes
prometheus_client aggregate across them (the Makefile sets it when serving)."""

from __future__ import annotations

import bisect
import math
import os
from typing import Any

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
OUTBOX_RETRIED = Counter(
    "hcmgov_outbox_retried_total", "Outbox deliveries tried again after losing a race with another drain (deadlock)"
)
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


def observe_many(histogram: Any, values: list[float]) -> None:
    """``histogram.observe`` for each of ``values``, as one update per bucket and one of the sum
    (with several processes each update writes the metric's file: the edge ships thousands of
    calls a second). What ``Histogram.observe`` does, for prometheus_client's histograms; anything
    else is observed value by value."""
    buckets, bounds, total = getattr(histogram, "_buckets", None), getattr(histogram, "_upper_bounds", None), None
    if buckets is None or bounds is None or len(buckets) != len(bounds):
        for value in values:
            histogram.observe(value)
        return
    counts = [0] * len(bounds)
    for value in values:
        counts[bisect.bisect_left(bounds, value)] += 1  # the first bound >= value (the last is +Inf)
    total = math.fsum(values)
    histogram._raise_if_not_observable()
    histogram._sum.inc(total)
    for bucket, n in zip(buckets, counts, strict=True):
        if n:
            bucket.inc(n)


def scrape_allowed(authorization: str) -> bool:
    """Whether a scrape may read the metrics (ASVS 13.4.5): always when ``HCMGOV_METRICS_TOKEN`` is
    empty (one machine), else only with ``Authorization: Bearer <token>``."""
    import hmac

    from django.conf import settings

    expected = str(getattr(settings, "METRICS_TOKEN", "") or "")
    if not expected:
        return True
    return hmac.compare_digest(authorization.encode(), f"Bearer {expected}".encode())


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
