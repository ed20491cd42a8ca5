"""Step timers: reminders before a step falls due, escalation to the unit head after."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from hcmgov.core import services as core_services
from hcmgov.dossiers.models import (
    DossierStep,
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
