"""Demo dossiers in bulk: realistic spread over dates, agencies, procedures and statuses.

Used by ``hcmgov demo`` (a few thousand) and by benchmarks (millions). Goes around the submission
service on purpose — speed — but keeps its invariants: codes are gap-free per agency and day and
the day sequences are left where the service will continue; every dossier has its history.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import transaction

from hcmgov.common import jsonform
from hcmgov.core import selectors as core
from hcmgov.core import services as core_services
from hcmgov.core.workcalendar import default_calendar
from hcmgov.dossiers.models import Channel, Dossier, DossierEvent, Status
from hcmgov.dossiers.services import LOCAL_TZ, dossier_code, new_tracking_secret

DEMO_PASSWORD = "demo-Matkhau-2026"  # noqa: S105 - the published password of the demo accounts
REFORM = dt.date(2025, 7, 1)
OLD_STATUSES = [
    (Status.RETURNED, 80),
    (Status.FINISHED, 8),
    (Status.NOT_RECEIVED, 4),
    (Status.WITHDRAWN, 3),
    (Status.STOPPED, 1),
    (Status.IN_PROGRESS, 4),
]
RECENT_STATUSES = [
    (Status.NEW, 25),
    (Status.RECEIVED, 20),
    (Status.IN_PROGRESS, 35),
    (Status.SUPPLEMENT_REQUESTED, 8),
    (Status.FINISHED, 7),
    (Status.RETURNED, 5),
]
PATH = [Status.NEW, Status.RECEIVED, Status.IN_PROGRESS, Status.FINISHED, Status.RETURNED]


def _weighted(rng: random.Random, table: list[tuple[Status, int]]) -> Status:
    return rng.choices([s for s, _ in table], weights=[w for _, w in table])[0]


def _history(status: Status) -> list[Status]:
    if status in PATH:
        return PATH[: PATH.index(status) + 1]
    if status == Status.NOT_RECEIVED:
        return [Status.NEW, Status.NOT_RECEIVED]
    return [Status.NEW, Status.RECEIVED, Status.IN_PROGRESS, status]


def generate(
    *,
    procedures: list[Any],
    applicants: list[Any],
    count: int,
    start: dt.date,
    end: dt.date,
    seed: int = 2026,
    batch: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Create ``count`` dossiers submitted between ``start`` and ``end``. Returns how many were made."""
    rng = random.Random(seed)
    calendar = default_calendar()
    agencies_by_kind: dict[tuple[str, str, bool], list[Any]] = defaultdict(list)
    for agency in core.agency_list():
        agencies_by_kind[(agency.kind, agency.department, agency.valid_from >= REFORM)].append(agency)
    samples: dict[int, list[dict[str, Any]]] = {}
    for p in procedures:
        good = [jsonform.sample_valid(p.version.form_schema, rng, tries=20) for _ in range(20)]
        samples[p.pk] = [g for g in good if g is not None] or [{}]
    days = (end - start).days + 1
    made = 0
    sequences = core.sequences_in(start=start, end=end)  # continue where earlier runs stopped
    while made < count:
        n = min(batch, count - made)
        planned = []
        for _ in range(n):
            day = start + dt.timedelta(days=rng.randrange(days))
            while day.weekday() >= 5 and rng.random() < 0.9:  # few weekend submissions
                day -= dt.timedelta(days=1)
            day = max(day, start)
            procedure = rng.choice(procedures)
            pool = agencies_by_kind.get(
                (procedure.agency_kind, procedure.agency_department, day >= REFORM)
            ) or agencies_by_kind.get((procedure.agency_kind, procedure.agency_department, not day >= REFORM))
            if not pool:
                continue
            agency = rng.choice(pool)
            moment = dt.datetime.combine(day, dt.time(rng.randint(7, 20), rng.randint(0, 59)), LOCAL_TZ)
            planned.append((agency, moment, procedure))
        planned.sort(key=lambda x: (x[0].code, x[1]))
        with transaction.atomic():
            made += _write(planned, rng, calendar, applicants, samples, sequences, end)
        if progress:
            progress(len(planned))
        if not planned:
            break
    core_services.sequences_store(values=sequences)
    return made


def _next_sequence(sequences: dict[tuple[str, dt.date], int], agency_code: str, day: dt.date) -> int:
    key = (agency_code, day)
    sequences[key] = sequences.get(key, 0) + 1
    return sequences[key]


def _write(
    planned: list[tuple[Any, dt.datetime, Any]],
    rng: random.Random,
    calendar: Any,
    applicants: list[Any],
    samples: dict[int, list[dict[str, Any]]],
    sequences: dict[tuple[str, dt.date], int],
    today: dt.date,
) -> int:
    dossiers, histories = [], []
    for agency, moment, procedure in planned:
        day = moment.date()
        recent = (today - day).days <= 30
        status = _weighted(rng, RECENT_STATUSES if recent else OLD_STATUSES)
        applicant = rng.choice(applicants)
        due = calendar.appointment_date(moment, working_days=procedure.version.statutory_days)
        steps = _history(status)
        times = [moment]
        for _ in steps[1:]:
            times.append(times[-1] + dt.timedelta(hours=rng.randint(1, 60)))
        late = rng.random() < 0.06
        if status in (Status.FINISHED, Status.RETURNED) and times[-1] > due and not late:
            span = (due - moment) / len(steps)
            times = [moment + span * i for i in range(len(steps))]
        dossier = Dossier(
            code=dossier_code(agency_code=agency.code, day=day, sequence=_next_sequence(sequences, agency.code, day)),
            procedure_id=procedure.pk,
            procedure_version_id=procedure.version.pk,
            agency_id=agency.pk,
            unit_id=agency.unit_id,
            applicant_id=applicant.pk,
            applicant_name=applicant.full_name,
            channel=rng.choices([Channel.ONLINE, Channel.IN_PERSON, Channel.POST], weights=[62, 33, 5])[0],
            status=status,
            form_data=rng.choice(samples[procedure.pk]),
            submitted_at=moment,
            received_at=times[1] if len(steps) > 1 and steps[1] == Status.RECEIVED else None,
            due_at=due,
            finished_at=times[steps.index(Status.FINISHED)]
            if Status.FINISHED in steps
            else (times[-1] if status in (Status.NOT_RECEIVED, Status.WITHDRAWN, Status.STOPPED) else None),
            returned_at=times[-1] if status == Status.RETURNED else None,
            refusal_reason="Hồ sơ thiếu giấy tờ theo quy định." if status == Status.NOT_RECEIVED else "",
            tracking_secret=new_tracking_secret(),
        )
        dossiers.append(dossier)
        histories.append(list(zip(steps, times, strict=True)))
    Dossier.objects.bulk_create(dossiers, batch_size=2000)
    events = []
    for dossier, history in zip(dossiers, histories, strict=True):
        previous = None
        for status, at in history:
            events.append(
                DossierEvent(
                    dossier_id=dossier.pk,
                    at=at,
                    status_from=previous,
                    status_to=status,
                    actor_label=dossier.applicant_name if previous is None else "Cán bộ một cửa",
                    note=dossier.refusal_reason if status == Status.NOT_RECEIVED else "",
                )
            )
            previous = status
    DossierEvent.objects.bulk_create(events, batch_size=5000)
    return len(dossiers)


def dossier_count() -> int:
    return Dossier.objects.count()
