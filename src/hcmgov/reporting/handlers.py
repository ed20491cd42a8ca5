"""Outbox reactions of the reporting app: an approved top-level report queued for the national
reporting system (``national.national_export_queue``; idempotent on its key)."""

from __future__ import annotations

from typing import Any

from hcmgov.core.services import event_subscribe
from hcmgov.reporting import (
    national,
    plan_rollup,  # noqa: F401 - its handler rolls up the partitions a refresh wrote (the plan's figures)
    quality_rollup,  # noqa: F401 - its handler rolls up the partitions a refresh wrote (the 766 index)
)
from hcmgov.reporting.services import TOPIC_APPROVED


@event_subscribe(TOPIC_APPROVED)
def _queue(event: Any) -> None:
    report_id, version = event.payload.get("report_id"), event.payload.get("version")
    if isinstance(report_id, int) and isinstance(version, int):
        national.national_export_queue(report_id=report_id, version=version)
