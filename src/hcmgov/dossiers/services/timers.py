"""Step timers (reminders before a step falls due, escalation to the unit head after) and the
hourly compaction of the processing statistics."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from hcmgov.core import services as core_services
from hcmgov.dossiers.models import (
    DossierStep,
    ProcessingStat,
    StepState,
)

# --- timers --------------------------------------------------------------------------------------


def step_timers_run(*, now: dt.datetime | None = None, batch: int = 500) -> tuple[int, int]:
    """Fire the reminders (before a step falls due) and escalations (after; to the unit's head)
    that are due, each exactly once: the claim is a conditional update committed with its outbox
    event, so a timer run twice — or by two workers at once — fires nothing the second time. Steps
    of a dossier awaiting a supplement wait with it. Returns (reminders, escalations) fired."""
    now = now or timezone.now()
    fired = [0, 0]
    for index, (time_field, mark, topic) in enumerate(
        (("remind_at", "reminded_at", "step.reminder"), ("due_at", "escalated_at", "step.escalation"))
    ):
        candidates = list(
            DossierStep.objects.filter(
                state=StepState.OPEN, waiting=False, **{f"{time_field}__lte": now, f"{mark}__isnull": True}
            )
            .values_list("pk", "dossier__code")
            .order_by(time_field)[:batch]
        )
        for pk, code in candidates:
            with transaction.atomic():
                if DossierStep.objects.filter(pk=pk, state=StepState.OPEN, **{f"{mark}__isnull": True}).update(
                    **{mark: now}
                ):
                    core_services.event_publish(topic=topic, key=code, payload={"step_id": pk})
                    fired[index] += 1
    return fired[0], fired[1]


# --- statistics ----------------------------------------------------------------------------------

STAT_KEY = ("day", "kind", "agency_id", "procedure_id", "official_id", "step_key")


def processing_stats_compact(*, before: dt.date | None = None, batch: int = 1000) -> int:
    """Fold the appended statistics rows of each key of the days before ``before`` (default: today
    in Ho Chi Minh City) into one row, so that a period's statistics stay a sum over about one row
    per key and day. Safe beside new counts and a second compaction: each key's rows are locked and
    summed from what is locked. Returns the number of rows removed."""
    before = before or timezone.localdate()
    removed = 0
    while True:
        groups = list(
            ProcessingStat.objects.filter(day__lt=before)
            .values(*STAT_KEY)
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .order_by()[:batch]
        )
        if not groups:
            return removed
        with transaction.atomic():
            for group in groups:
                key = {k: group[k] for k in STAT_KEY}
                rows = list(
                    ProcessingStat.objects.select_for_update()
                    .filter(**key)
                    .order_by("id")
                    .values_list("id", "early", "on_time", "late")
                )
                if len(rows) < 2:
                    continue
                ProcessingStat.objects.filter(pk=rows[0][0]).update(
                    early=sum(r[1] for r in rows), on_time=sum(r[2] for r in rows), late=sum(r[3] for r in rows)
                )
                removed += ProcessingStat.objects.filter(pk__in=[r[0] for r in rows[1:]]).delete()[0]
