"""The IoT ingestion's Prometheus metrics (exposed at ``/metrics`` with the platform's; an ingester
process serves its own with ``hcmgov iot ingest --metrics-port``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

STORED = Counter("hcmgov_iot_readings_stored_total", "Readings stored", ["channel"])
DUPLICATES = Counter("hcmgov_iot_readings_duplicate_total", "Readings already stored (redelivered)", ["channel"])
REJECTED = Counter(
    "hcmgov_iot_rejected_total",
    "Readings (or whole messages, when unreadable) refused by the ingestion, by reason",
    ["channel", "reason"],
)
MESSAGES = Counter("hcmgov_iot_messages_total", "Messages (MQTT) or batches (HTTP) received", ["channel"])
BATCH_SECONDS = Histogram(
    "hcmgov_iot_batch_seconds",
    "Time to check and commit one ingester batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
