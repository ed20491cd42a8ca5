"""Demo dossiers in bulk: realistic spread over dates, agencies, procedures and statuses.

Used by ``hcmgov demo`` (a few thousand) and by benchmarks (a million). Goes around the services on
purpose — speed — but writes what they would have written had each dossier really been submitted
and processed:

* codes gap-free per agency and day, the day sequences left where the submission service will go
  on (stored with each batch: an interrupted fill leaves no sequence behind the codes issued);
* every dossier on its procedure's latest flow, with a step row (:class:`DossierStep`) for each
  step it went through along the flow's main path (the path the engine takes when every step is
  completed with the first of receive / forward / approve / sign / return it allows), each with
  its agency (inter-agency steps at the partner agency), the clock's due and reminder moments, its
  outcome, actor and timeliness; the history (:class:`DossierEvent`) the services write on the way;
* a dossier still being processed (new, received, in progress, awaiting a supplement, finished and
  awaiting return) has exactly one open step and a real engine state for that point, so officials
  can take it on in the back office: the state is made once per (procedure, form sample, open
  step) by running the engine, and each dossier gets it with fresh task ids;
* finished dossiers and done steps are counted into :class:`ProcessingStat` as the services count
  them (per agency / procedure / day, per official / step / day), one upsert per batch.

Closed dossiers (returned, refused, withdrawn, stopped) keep no engine state (``workflow_state``
NULL): their history is generated, like records migrated from an older system, and nothing will
ever act on them again. The services keep the finished (or cancelled) state of the dossiers they
close; no code path reads it after the end.

Also left out of generated history: documents (no files), outbox events and audit records,
answered supplement requests, send-backs, apology letters and comments.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import hashlib
import itertools
import json
import os
import queue
import random
import re
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from hcmgov.catalog import flows
from hcmgov.catalog import selectors as catalog
from hcmgov.common import jsonform
from hcmgov.common.text import fold
from hcmgov.core import selectors as core
from hcmgov.core import services as core_services
from hcmgov.core.workcalendar import WorkCalendar, default_calendar
from hcmgov.dossiers import engine
from hcmgov.dossiers.demo_copy import EPOCH_ORDINAL, StatKey, Writer, from_us, to_us, writer
from hcmgov.dossiers.models import (
    Channel,
    Dossier,
    DossierEvent,
    DossierStep,
    Status,
    StepState,
    SupplementRequest,
)
from hcmgov.dossiers.services import LOCAL_TZ, dossier_code
from hcmgov.identity import selectors as identity_read
from hcmgov.identity import services as identity

DEMO_PASSWORD = "demo-Matkhau-2026"  # noqa: S105 - the published password of the demo accounts
STAND_IN = "canbo.dulieumau"  # signs generated supplement requests where no demo official works
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
GOOD = ("receive", "forward", "approve", "sign", "return")  # the main path's decisions
LATE_SHARE = 0.06  # dossiers with one step well over its allotment
ASSIGNED_SHARE = 0.6  # open steps at a demo agency already taken by its demo official
REFUSAL = "Hồ sơ thiếu giấy tờ theo quy định."
WITHDRAWAL = "Công dân đề nghị rút hồ sơ để bổ sung, nộp lại sau."
STOP = "Hồ sơ thuộc trường hợp phải dừng xử lý theo quy định."
SUPPLEMENT_REASON = "Bản chụp không rõ nét; đề nghị nộp bản rõ nét hoặc bản điện tử có chữ ký số."
FINISHED_NOTE = "Hồ sơ đã xử lý xong, có kết quả."
SECRET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105 - the tracking secrets' (services.submission)
WRITERS = 2  # connections writing at once (PostgreSQL): one per core of the machine it was tuned on
MINUTE = 60_000_000  # microseconds
DOSSIER_COLUMNS = (
    "id", "code", "procedure_id", "procedure_version_id", "agency_id", "unit_id", "applicant_id", "applicant_name",
    "channel", "status", "form_data", "language", "submitted_at", "received_at", "due_at", "finished_at",
    "returned_at", "refusal_reason", "tracking_secret", "fingerprint", "idempotency_key", "flow_id",
    "workflow_state", "appointment_at", "suspended_at", "suspended_status", "suspended_days", "supplement_count",
    "timeliness", "updated_at", "applicant_search", "fee_required", "fee_paid_at", "fee_paid_online",
    "result_by_post", "delivery_to", "delivery_fee", "submitted_auth",
)  # fmt: skip
STEP_COLUMNS = (
    "id", "dossier_id", "task_id", "key", "name", "name_en", "role", "agency_id", "assignee_id", "state",
    "opened_at", "due_at", "remind_at", "finished_at", "outcome", "actor_id", "actor_label", "note", "timeliness",
    "reminded_at", "escalated_at", "waiting",
)  # fmt: skip
EVENT_COLUMNS = ("dossier_id", "at", "status_from", "status_to", "actor_label", "note")
SUPPLEMENT_COLUMNS = (
    "dossier_id", "step_id", "requested_at", "requested_by_id", "requested_by_label", "items", "note", "counts",
    "answered_at", "answer_note", "suspended_days",
)  # fmt: skip
_UUID = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
_TIMELINESS = {"early": 0, "on_time": 1, "late": 2}
_SECRET_TABLE = bytes(ord(SECRET_ALPHABET[b % 32]) for b in range(256))
Officials = dict[tuple[int, str], tuple[int, str]]  # (agency id, role) → (user id, label)


class _Weighted:
    """``rng.choices(items, weights)[0]``, with the sums made once."""

    def __init__(self, table: list[tuple[Any, int]]) -> None:
        self.items = [item for item, _ in table]
        self.sums = list(itertools.accumulate(weight for _, weight in table))

    def pick(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect(self.sums, rng.random() * self.sums[-1])]


_OLD, _RECENT = _Weighted(OLD_STATUSES), _Weighted(RECENT_STATUSES)
_CHANNEL = _Weighted([(Channel.ONLINE, 62), (Channel.IN_PERSON, 33), (Channel.POST, 5)])


# --- the working calendar, fast ----------------------------------------------------------------


class Clock:
    """The legal clock's arithmetic (``dossiers.clock``) on integer microseconds since the epoch,
    over a fixed range of days: the office periods are laid out once with the working time before
    each, so adding working time is two binary searches instead of a walk over the calendar.
    Gives exactly what :func:`clock.step_due`, :func:`clock.reminder_at`,
    ``WorkCalendar.appointment_date`` and :func:`clock.timeliness` give (tested)."""

    def __init__(self, calendar: WorkCalendar, first: dt.date, last: dt.date) -> None:
        self.per_day = len(calendar.office_hours)
        self.opens: list[int] = []
        self.closes: list[int] = []
        self.before: list[int] = []  # working time before each period
        self.through: list[int] = []  # working time up to each period's end
        self.midnights: list[int] = []  # of each working day
        total, day = 0, first
        while day <= last:
            if calendar.is_working_day(day):
                self.midnights.append(to_us(dt.datetime.combine(day, dt.time(0), tzinfo=calendar.tz)))
                for start, end in calendar.office_hours:
                    a = to_us(dt.datetime.combine(day, start, tzinfo=calendar.tz))
                    b = to_us(dt.datetime.combine(day, end, tzinfo=calendar.tz))
                    self.opens.append(a)
                    self.closes.append(b)
                    self.before.append(total)
                    total += b - a
                    self.through.append(total)
            day += dt.timedelta(days=1)
        cutoff = calendar.same_day_cutoff
        self.cutoff = (cutoff.hour * 3600 + cutoff.minute * 60 + cutoff.second) * 1_000_000
        self.offset = int(LOCAL_TZ.utcoffset(None).total_seconds()) * 1_000_000
        self.first, self.last = first, last

    def add(self, t: int, working: int) -> int:
        """``working`` (> 0) microseconds of office time after ``t`` (``WorkCalendar.add_working_hours``)."""
        i = bisect.bisect_right(self.opens, t) - 1
        if i < 0:
            at = 0
        elif t >= self.closes[i]:
            at = self.through[i]
        else:
            at = self.before[i] + t - self.opens[i]
        target = at + working
        j = bisect.bisect_left(self.through, target)
        if j >= len(self.opens):
            raise ValueError(f"the demo clock ends on {self.last}")
        return self.opens[j] + target - self.before[j]

    def appointment(self, t: int, working_days: int) -> int:
        """The due moment of a dossier received at ``t`` (``WorkCalendar.appointment_date``)."""
        i = bisect.bisect_right(self.opens, t) - 1
        if i < 0 or t >= self.closes[i]:  # out of hours: counts from the next opening
            i += 1
            t = self.opens[i]
        day = i // self.per_day
        if working_days:
            return self.closes[(day + working_days + 1) * self.per_day - 1]
        due = day if t - self.midnights[day] < self.cutoff else day + 1  # same day if received before 15:00
        return self.closes[(due + 1) * self.per_day - 1]

    def day(self, t: int) -> int:
        """The local day's ordinal (Asia/Ho_Chi_Minh: +07:00 all year, as ``services.LOCAL_TZ``)."""
        return EPOCH_ORDINAL + (t + self.offset) // 86_400_000_000

    def timeliness(self, finished: int, due: int) -> str:
        if finished > due:
            return "late"
        return "early" if self.day(finished) < self.day(due) else "on_time"


# --- the flows' main paths and the engine's states along them ----------------------------------


@dataclass(frozen=True, slots=True)
class PathStep:
    key: str
    name: str
    name_en: str
    role: str
    allotment: int  # working microseconds
    remind: int  # three quarters of it, as clock.reminder_at
    selector: str  # "" at the receiving agency, else the partner agency's kind
    action: str  # the decision taken on the main path
    finishes: bool  # opening it finishes processing (the clerk's step, status 9)


class StateTemplate:
    """An engine state (JSON text) with its task ids cut out, to be filled with fresh ones."""

    def __init__(self, text: str, task_ids: set[str], step_ids: list[str]) -> None:
        parts = _UUID.split(text)
        self.literals = [parts[0]]
        self.sequence: list[int] = []
        slot: dict[str, int] = {}
        for found, literal in zip(parts[1::2], parts[2::2], strict=True):
            if found in task_ids:
                self.sequence.append(slot.setdefault(found, len(slot)))
                self.literals.append(literal)
            else:  # a UUID in the dossier's form, say: kept as it is
                self.literals[-1] += found + literal
        self.size = len(slot)
        self.step_slots = [slot[u] for u in step_ids]  # the tasks of the path's steps so far

    def fresh(self, uuids: Callable[[int], list[str]]) -> tuple[str, list[str]]:
        """The state with new task ids, and the new ids of the path's steps so far."""
        new = uuids(self.size)
        literals = self.literals
        out = [literals[0]]
        for index, literal in zip(self.sequence, literals[1:], strict=True):
            out.append(new[index])
            out.append(literal)
        return "".join(out), [new[s] for s in self.step_slots]


@dataclass(frozen=True, slots=True)
class Route:
    flow_id: int
    steps: tuple[PathStep, ...]
    finish: int  # the first step whose opening finishes processing


def _walk(
    spec: flows.FlowSpec, form_data: dict[str, Any], dump: bool = False
) -> tuple[list[Any], list[tuple[str, set[str]]]]:
    """Start the flow for a dossier with this form and complete its steps along the main path: the
    steps the engine made ready, in order, and (``dump``) its state while each was open (JSON and
    the ids of its tasks)."""
    wf = engine.start(spec, facts=flows.condition_facts(form_data))
    ready_seen: list[Any] = []
    states: list[tuple[str, set[str]]] = []
    while not engine.finished(wf):
        ready = engine.open_steps(wf, spec)
        if len(ready) != 1 or len(ready_seen) > 100:
            raise engine.EngineError(f"demo: {len(ready)} steps open after {[s.spec.key for s in ready_seen]}")
        ready_seen.append(ready[0])
        if dump:
            state = engine.dump(wf)
            states.append((json.dumps(state), set(state["tasks"])))
        action = next((a for a in GOOD if a in ready[0].spec.actions), None)
        if action is None:
            raise engine.EngineError(f"demo: step {ready[0].spec.key} allows none of {GOOD}")
        engine.complete(wf, task_id=ready[0].task_id, outcome=action)
    return ready_seen, states


def route_of(flow_id: int, spec: flows.FlowSpec, form_data: dict[str, Any]) -> Route:
    """The flow's main path for a dossier with this form, as the engine runs it."""
    ready, _ = _walk(spec, form_data)
    steps = tuple(
        PathStep(
            key=item.spec.key,
            name=item.spec.name[:200],
            name_en=item.spec.name_en[:200],
            role=item.spec.role,
            allotment=item.spec.allotment // dt.timedelta(microseconds=1),
            remind=(item.spec.allotment * 3 / 4) // dt.timedelta(microseconds=1),
            selector=item.spec.agency,
            action=next(a for a in GOOD if a in item.spec.actions),
            finishes=item.spec.status == Status.FINISHED,
        )
        for item in ready
    )
    if not steps or steps[0].action != "receive" or steps[-1].action != "return":
        raise engine.EngineError(f"demo: the main path {[s.key for s in steps]} is not receive … return")
    finish = next((i for i, s in enumerate(steps) if s.finishes), len(steps) - 1)
    return Route(flow_id=flow_id, steps=steps, finish=finish)


def states_of(spec: flows.FlowSpec, form_data: dict[str, Any]) -> list[StateTemplate]:
    """The engine's state of a dossier with this form while each step of the main path is open."""
    ready, states = _walk(spec, form_data, dump=True)
    ids = [str(item.task_id) for item in ready]
    return [StateTemplate(text, tasks, ids[: i + 1]) for i, (text, tasks) in enumerate(states)]


# --- inter-agency steps -------------------------------------------------------------------------


class Partners:
    """``core.selectors.agency_partner``, asked once per (selector, home agency, span of days in
    which none of the candidate agencies starts or ends): a fill asks for thousands of steps."""

    def __init__(self, agencies: list[Any]) -> None:
        self.agencies = {a.pk: a for a in agencies}
        self.breaks: dict[str, list[dt.date]] = {}
        self.found: dict[tuple[str, int, int], int | None] = {}

    def __call__(self, selector: str, home: int, day: dt.date) -> int | None:
        breaks = self.breaks.get(selector)
        if breaks is None:
            kind, _, department = selector.partition(":")
            days = set()
            for a in self.agencies.values():
                if a.kind == kind and (not department or a.department == department):
                    days.add(a.valid_from)
                    if a.valid_to:
                        days.add(a.valid_to + dt.timedelta(days=1))
            breaks = self.breaks[selector] = sorted(days)
        key = (selector, home, bisect.bisect_right(breaks, day))
        if key not in self.found:
            found = core.agency_partner(selector=selector, home=self.agencies[home], day=day)
            self.found[key] = found.pk if found else None
        return self.found[key]


# --- the generator ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Batch:
    dossiers: list[tuple[Any, ...]]
    steps: list[list[Any]]
    events: list[tuple[Any, ...]]
    supplements: list[list[Any]]  # step_id holds the index of the step row until keys are known
    stats: dict[StatKey, list[int]]
    sequences: dict[tuple[str, dt.date], int]  # the last numbers it used per agency and day


class Generator:
    """Plans submissions and turns them into the rows the services would have written; the work
    done once (forms, main paths, engine states, partner agencies, fingerprints) is kept."""

    def __init__(
        self,
        *,
        procedures: list[Any],
        applicants: list[Any],
        start: dt.date,
        end: dt.date,
        seed: int,
        officials: Officials,
        now: dt.datetime,
        out: Writer,
        focus: Collection[int] = (),
        focus_share: float = 0.0,
    ) -> None:
        self.rng = random.Random(seed)
        self.out = out
        self.ts = out.ts
        self.start, self.end, self.end_day = start, end, end.toordinal()
        self.now = to_us(now)
        self.clock = Clock(
            default_calendar(), start - dt.timedelta(days=7), max(end, now.date()) + dt.timedelta(days=500)
        )
        self.officials = officials
        self.focus, self.focus_share = frozenset(focus), focus_share
        self.stand_in = _stand_in()
        self.role_label = {role: label.vi for role, label in flows.ROLES.items()}
        self.applicants = [(a.pk, (a.full_name or a.get_username())[:150]) for a in applicants]
        self.folded = {name: fold(name)[:150] for _, name in self.applicants}
        self.procedures: list[Any] = []
        self.samples: dict[int, list[tuple[dict[str, Any], Any]]] = {}
        self.flow: dict[int, tuple[int, flows.FlowSpec]] = {}
        self.items: dict[int, tuple[str, Any]] = {}  # what a supplement request asks for: (document, items)
        for p in procedures:
            flow = catalog.flow_latest(procedure_id=p.pk)
            if flow is None:
                continue  # no flow: such dossiers are received and settled by hand, not generated
            self.procedures.append(p)
            self.flow[p.pk] = (flow.pk, catalog.flow_spec(flow_id=flow.pk))
            good = [jsonform.sample_valid(p.version.form_schema, self.rng, tries=20) for _ in range(20)]
            forms = [g for g in good if g is not None] or [{}]
            self.samples[p.pk] = [(f, out.js(json.dumps(f, ensure_ascii=False))) for f in forms]
            documents = [d for d in p.version.required_documents if d.get("required", True)] or [{"name": "Tờ khai"}]
            document = documents[0]["name"][:300]
            items = json.dumps([{"document": document, "reason": SUPPLEMENT_REASON}], ensure_ascii=False)
            self.items[p.pk] = (document, out.js(items))
        if not self.procedures:
            raise ValueError("no procedure has a flow")
        self.routes: dict[tuple[int, int], Route] = {}  # (procedure, form sample) → its main path
        self.paths: dict[tuple[int, tuple[Any, ...]], Route] = {}  # (flow, what its conditions read) → path
        self.states: dict[tuple[int, int], list[StateTemplate]] = {}  # (procedure, form sample) → per open step
        self.fingerprints: dict[tuple[int, str, int], str] = {}
        self.canonical: dict[tuple[int, int], str] = {}
        agencies = list(core.agency_list())
        self.agencies = {a.pk: a for a in agencies}
        self.by_kind: dict[tuple[str, str], list[Any]] = {}
        for a in agencies:
            self.by_kind.setdefault((a.kind, a.department), []).append(a)
        # validity changes only on these days: between two of them every agency is in force or not
        self.breaks = sorted(
            {a.valid_from for a in agencies} | {a.valid_to + dt.timedelta(days=1) for a in agencies if a.valid_to}
        )
        self.pools: dict[tuple[str, str, int], list[Any]] = {}
        self.partners = Partners(agencies)

    # -- caches ---------------------------------------------------------------------------------

    def route(self, procedure_id: int, sample: int) -> Route:
        found = self.routes.get((procedure_id, sample))
        if found is None:
            flow_id, spec = self.flow[procedure_id]
            form = self.samples[procedure_id][sample][0]
            facts = flows.condition_facts(form)
            key = (flow_id, tuple(repr(facts.get(name)) for name in sorted(spec.condition_names)))
            found = self.paths.get(key)
            if found is None:
                found = self.paths[key] = route_of(flow_id, spec, form)
            self.routes[(procedure_id, sample)] = found
        return found

    def state(self, procedure_id: int, sample: int, index: int) -> StateTemplate:
        found = self.states.get((procedure_id, sample))
        if found is None:
            spec, form = self.flow[procedure_id][1], self.samples[procedure_id][sample][0]
            found = self.states[(procedure_id, sample)] = states_of(spec, form)
        return found[index]

    def pool(self, kind: str, department: str, day: dt.date) -> list[Any]:
        """Agencies of this kind in force on ``day`` (where the submission service would accept)."""
        era = bisect.bisect_right(self.breaks, day)
        found = self.pools.get((kind, department, era))
        if found is None:
            found = self.pools[(kind, department, era)] = [
                a
                for a in self.by_kind.get((kind, department), [])
                if a.valid_from <= day and (a.valid_to is None or a.valid_to >= day)
            ]
        return found

    def partner(self, selector: str, home: int, t: int) -> int | None:
        """The agency an inter-agency step opened at ``t`` goes to."""
        return self.partners(selector, home, dt.date.fromordinal(self.clock.day(t)))

    def fingerprint(self, procedure: Any, agency: Any, sample: int) -> str:
        """``services.submission_fingerprint`` of the submission (no files): the SHA-256 of the
        canonical JSON of procedure, agency and form, whose form part is made once per sample."""
        key = (procedure.pk, agency.code, sample)
        found = self.fingerprints.get(key)
        if found is None:
            form = self.canonical.get((procedure.pk, sample))
            if form is None:
                form = self.canonical[(procedure.pk, sample)] = json.dumps(
                    self.samples[procedure.pk][sample][0], sort_keys=True, ensure_ascii=False, default=str
                )
            codes = json.dumps([procedure.code, agency.code], ensure_ascii=False)[:-1]  # '["…", "…"'
            text = f"{codes}, {form}]"
            found = self.fingerprints[key] = hashlib.sha256(text.encode()).hexdigest()
        return found

    # -- planning -------------------------------------------------------------------------------

    def batches(self, count: int, size: int) -> Iterator[list[tuple[Any, int, Any]]]:
        """``count`` submissions in batches of ``size``, in the order of their days: the tables grow
        as a real system's would (the time-ordered indexes only ever take entries at a few places,
        whose pages stay in memory), and a batch's statistics share their days."""
        left = count
        while left > 0:
            schedule, made = self.days(left), 0
            for k in range(0, len(schedule), size):
                planned = self.plan(schedule[k : k + size])
                made += len(planned)
                if planned:
                    yield planned
            if not made:
                return
            left -= made

    def days(self, n: int) -> list[int]:
        """``n`` submission days, spread over the period, few on weekends; a share of them for the
        focus agencies (the demo officials'), in the last weeks. Sorted; ``ordinal * 2 + focused``."""
        rng, span, out = self.rng, (self.end - self.start).days + 1, []
        for _ in range(n):
            focused = bool(self.focus) and rng.random() < self.focus_share
            day = max(self.start, self.end - dt.timedelta(days=rng.randrange(45) if focused else rng.randrange(span)))
            while day.weekday() >= 5 and rng.random() < 0.9:  # few weekend submissions
                day -= dt.timedelta(days=1)
            out.append(max(day, self.start).toordinal() * 2 + focused)
        out.sort()
        return out

    def plan(self, schedule: list[int]) -> list[tuple[Any, int, Any]]:
        """The submissions of these days: (agency, moment, procedure), by agency and moment."""
        rng, now = self.rng, self.now
        planned = []
        for item in schedule:
            day, focused = dt.date.fromordinal(item // 2), item % 2 == 1
            pool: list[Any] = []
            for attempt in range(40):
                procedure = rng.choice(self.procedures)
                pool = self.pool(procedure.agency_kind, procedure.agency_department, day)
                if focused and attempt < 20:
                    pool = [a for a in pool if a.pk in self.focus]
                if pool:
                    break
            if not pool:
                continue
            moment = to_us(dt.datetime.combine(day, dt.time(rng.randint(7, 20), rng.randint(0, 59)), LOCAL_TZ))
            if moment > now:  # today, later than now: earlier today (or yesterday)
                moment = now - rng.randint(1, 600) * MINUTE
            planned.append((rng.choice(pool), moment, procedure))
        planned.sort(key=lambda x: (x[0].code, x[1]))
        return planned

    # -- one batch -------------------------------------------------------------------------------

    def build(self, planned: list[tuple[Any, int, Any]], sequences: dict[tuple[str, dt.date], int]) -> _Batch:
        """The rows of a batch, keys included (taken from the tables' sequences beforehand)."""
        out = self.out
        ids = out.ids(Dossier, len(planned))
        batch = _Batch([], [], [], [], {}, {})
        secrets = os.urandom(8 * len(planned)).translate(_SECRET_TABLE).decode()
        for n, ((agency, moment, procedure), did) in enumerate(zip(planned, ids, strict=True)):
            day = dt.date.fromordinal(self.clock.day(moment))
            key = (agency.code, day)
            sequences[key] = batch.sequences[key] = sequences.get(key, 0) + 1
            code = dossier_code(agency_code=agency.code, day=day, sequence=sequences[key])
            self.dossier(batch, did, code, secrets[8 * n : 8 * n + 8], agency, moment, procedure)
        step_ids = out.ids(DossierStep, len(batch.steps))
        for row, sid in zip(batch.steps, step_ids, strict=True):
            row[0] = sid
        for row in batch.supplements:
            row[1] = step_ids[row[1]]
        return batch

    def store(self, batch: _Batch, turn: Callable[[], None] | None = None) -> int:
        """Write a batch in one transaction, with its statistics and the day sequences it used.
        ``turn`` (concurrent writers) returns once the batches before this one are committed: the
        new rows go in side by side, the counts and sequences (rows batches share) one at a time."""
        out = self.out
        with transaction.atomic():
            out.begin(checks_now=turn is not None)
            out.write(Dossier, DOSSIER_COLUMNS, batch.dossiers)
            out.write(DossierStep, STEP_COLUMNS, batch.steps)
            out.write(DossierEvent, EVENT_COLUMNS, batch.events)
            out.write(SupplementRequest, SUPPLEMENT_COLUMNS, batch.supplements)
            if turn is not None:
                turn()
            out.stats(batch.stats)
            core_services.sequences_store(values=batch.sequences)
        return len(batch.dossiers)

    def stat(self, stats: dict[StatKey, list[int]], key: StatKey, timeliness: str) -> None:
        counts = stats.get(key)
        if counts is None:
            counts = stats[key] = [0, 0, 0]
        counts[_TIMELINESS[timeliness]] += 1

    def dossier(
        self, batch: _Batch, did: int, code: str, secret: str, agency: Any, submitted: int, procedure: Any
    ) -> None:
        """One dossier: what the services would have written from its submission up to now."""
        rng, ck, ts, now = self.rng, self.clock, self.ts, self.now
        events, stats, officials, role_label = batch.events, batch.stats, self.officials, self.role_label
        sample = rng.randrange(len(self.samples[procedure.pk]))
        route = self.route(procedure.pk, sample)
        steps, n, finish = route.steps, len(route.steps), route.finish
        applicant_id, applicant_name = rng.choice(self.applicants)
        recent = self.end_day - ck.day(submitted) <= 30
        wanted = (_RECENT if recent else _OLD).pick(rng)
        # how far it goes: processing stops (waits) at step ``stop``, and what happens there
        end: str | None = None
        if wanted == Status.NEW:
            stop = 0
        elif wanted == Status.RECEIVED:
            stop = 1
        elif wanted == Status.IN_PROGRESS:
            stop = rng.randint(2, finish - 1) if finish > 2 else 1
        elif wanted == Status.SUPPLEMENT_REQUESTED:
            stop, end = rng.randint(1, max(1, finish - 1)), "supplement"
        elif wanted == Status.FINISHED:
            stop = rng.randint(finish, n - 1)
        elif wanted == Status.RETURNED:
            stop = n
        elif wanted == Status.NOT_RECEIVED:
            stop, end = 0, "refuse"
        elif wanted == Status.WITHDRAWN:
            stop, end = rng.randint(0, max(0, finish - 1)), "withdraw"
        else:  # STOPPED
            stop, end = rng.randint(1, max(1, finish - 1)), "stop"
        statutory = procedure.version.statutory_days
        home = agency.pk
        late_step = rng.randrange(1, n) if rng.random() < LATE_SHARE else -1

        status = Status.NEW
        events.append((did, ts(submitted), None, Status.NEW, applicant_name, ""))
        due = ck.appointment(submitted, statutory)
        received = finished = returned = suspended_at = suspended_status = None
        timeliness, refusal, supplements = "", "", 0
        done: list[tuple[Any, ...]] = []  # closed steps: (index, agency, opened, due, remind, finished, …)
        waiting: tuple[int, int, int, int, int, int, StepState, str, int | None] | None = None  # left open or cancelled
        where = (self.partner(steps[0].selector, home, submitted) if steps[0].selector else None) or home
        i, opened = 0, submitted
        while i < n:
            step = steps[i]
            step_due = ck.add(opened, step.allotment)
            remind = ck.add(opened, step.remind)
            if i == stop and end is None:
                waiting = (i, where, opened, step_due, remind, now, StepState.OPEN, "", None)
                break
            share = rng.uniform(1.2, 2.5) if i == late_step else rng.uniform(0.05, 0.9)
            at = ck.add(opened, max(MINUTE, int(step.allotment * share) // MINUTE * MINUTE))
            if at > now:  # not yet: the step is still open
                waiting = (i, where, opened, step_due, remind, now, StepState.OPEN, "", None)
                break
            who_id, who = officials.get((where, step.role)) or (None, role_label[step.role])
            if i == stop and end == "supplement":
                by_id, by = officials.get((where, step.role)) or (self.stand_in, role_label[step.role])
                waiting = (i, where, opened, step_due, remind, at, StepState.OPEN, "", None)
                document, items = self.items[procedure.pk]
                row = len(batch.steps) + len(done)  # the open step's row, appended below
                batch.supplements.append([did, row, ts(at), by_id, by, items, "", True, None, "", 0])
                suspended_at, suspended_status, supplements = at, status, 1
                events.append((did, ts(at), status, Status.SUPPLEMENT_REQUESTED, by, f"Cần bổ sung: {document}"))
                status = Status.SUPPLEMENT_REQUESTED
                break
            if i == stop and end in ("withdraw", "stop"):
                if end == "withdraw":
                    to, by, note = Status.WITHDRAWN, applicant_name, WITHDRAWAL
                else:
                    to, by, note = (
                        Status.STOPPED,
                        (officials.get((home, "leader")) or (0, role_label["leader"]))[1],
                        STOP,
                    )
                waiting = (i, where, opened, step_due, remind, at, StepState.CANCELLED, end, at)
                events.append((did, ts(at), status, to, by, note))
                status, finished = to, at
                break
            action = "refuse" if i == stop and end == "refuse" else step.action
            following = None
            if action != "refuse" and i + 1 < n:
                following = self.partner(steps[i + 1].selector, home, at) if steps[i + 1].selector else home
                if following is None:  # no partner agency in force: the engine could not go on
                    waiting = (i, where, opened, step_due, remind, now, StepState.OPEN, "", None)
                    break
            step_timeliness = ck.timeliness(at, step_due)
            done.append((i, where, opened, step_due, remind, at, action, who_id, who, step_timeliness))
            self.stat(stats, (ck.day(at), "step", where, procedure.pk, who_id or 0, step.key), step_timeliness)
            if action == "receive":
                events.append((did, ts(at), status, Status.RECEIVED, who, ""))
                status, received = Status.RECEIVED, at
                due = ck.appointment(at, statutory)
            elif action == "refuse":
                events.append((did, ts(at), status, Status.NOT_RECEIVED, who, REFUSAL))
                status, refusal, finished = Status.NOT_RECEIVED, REFUSAL, at
                break
            elif action == "return":
                if finished is None:
                    finished, timeliness = at, ck.timeliness(at, due)
                    self.stat(stats, (ck.day(at), "dossier", home, procedure.pk, 0, ""), timeliness)
                events.append((did, ts(at), status, Status.RETURNED, who, ""))
                status, returned = Status.RETURNED, at
            elif status == Status.RECEIVED:
                events.append((did, ts(at), status, Status.IN_PROGRESS, who, ""))
                status = Status.IN_PROGRESS
            if following is not None:
                if following != home:
                    name = self.agencies[following].name
                    note = f"Hồ sơ được chuyển đến {name} để phối hợp giải quyết ({steps[i + 1].name})."
                    events.append((did, ts(at), status, status, "", note))
                if status == Status.IN_PROGRESS and steps[i + 1].finishes:
                    finished, timeliness = at, ck.timeliness(at, due)  # no supplement before: never "late" by count
                    self.stat(stats, (ck.day(at), "dossier", home, procedure.pk, 0, ""), timeliness)
                    events.append((did, ts(at), status, Status.FINISHED, who, FINISHED_NOTE))
                    status = Status.FINISHED
                where = following
            i, opened = i + 1, at

        state = None
        if waiting is not None and waiting[6] == StepState.OPEN:
            text, task_ids = self.state(procedure.pk, sample, waiting[0]).fresh(_uuids)
            state = self.out.engine_state(text)  # encrypted at rest
        else:
            task_ids = _uuids(len(done) + (waiting is not None))
        rows = batch.steps
        for index, where, opened, step_due, remind, at, action, who_id, who, step_timeliness in done:
            step = steps[index]
            rows.append(
                [
                    None, did, task_ids[index], step.key, step.name, step.name_en, step.role, where, None,
                    StepState.DONE, ts(opened), ts(step_due), ts(remind), ts(at), action, who_id, who,
                    REFUSAL if action == "refuse" else "", step_timeliness,
                    ts(remind) if remind < at else None, ts(step_due) if step_due < at else None, False,
                ]
            )  # fmt: skip
        if waiting is not None:
            index, where, opened, step_due, remind, limit, state_of, outcome, closed = waiting
            step = steps[index]
            assignee = None
            if state_of == StepState.OPEN and step.role != "receiver" and (where, step.role) in officials:
                assignee = officials[(where, step.role)][0] if rng.random() < ASSIGNED_SHARE else None
            rows.append(
                [
                    None, did, task_ids[index], step.key, step.name, step.name_en, step.role, where, assignee,
                    state_of, ts(opened), ts(step_due), ts(remind), ts(closed), outcome, None, "", "", "",
                    ts(remind) if remind <= limit else None, ts(step_due) if step_due <= limit else None,
                    state_of == StepState.OPEN and status == Status.SUPPLEMENT_REQUESTED,
                ]
            )  # fmt: skip
        form_text = self.out.form(self.samples[procedure.pk][sample][1])  # encrypted at rest
        channel = _CHANNEL.pick(rng)
        # fees: a fee procedure's dossier that got past the desk was paid (online when filed online)
        fee_paid = procedure.has_fee and received is not None
        paid_at = ts(received) if fee_paid else None
        batch.dossiers.append(
            (
                did, code, procedure.pk, procedure.version.pk, home, agency.unit_id, applicant_id, applicant_name,
                channel, status, form_text, "vi", ts(submitted),
                ts(received), ts(due), ts(finished), ts(returned), refusal, secret,
                self.fingerprint(procedure, agency, sample), None, route.flow_id, state, ts(due),
                ts(suspended_at), suspended_status, 0, supplements, timeliness, ts(self.now),
                self.folded[applicant_name], procedure.has_fee, paid_at, fee_paid and channel == Channel.ONLINE,
                False, None, None,
                # how the applicant logged in to submit online: two in five with the e-ID (did, not the
                # random generator, so the draws above stay as they were)
                ("eid" if did % 5 < 2 else "password") if channel == Channel.ONLINE else "",
            )
        )  # fmt: skip


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def _uuids(n: int) -> list[str]:
    """``n`` random (version 4) UUIDs as text."""
    raw = os.urandom(16 * n).hex()
    return [
        f"{raw[k : k + 8]}-{raw[k + 8 : k + 12]}-4{raw[k + 13 : k + 16]}-{_VARIANT[raw[k + 16]]}"
        f"{raw[k + 17 : k + 20]}-{raw[k + 20 : k + 32]}"
        for k in range(0, 32 * n, 32)
    ]


def _stand_in() -> int:
    """The account generated supplement requests are signed with where no demo official works
    (the request must name an official); it holds no role and cannot log in."""
    user = identity_read.user_by_username(username=STAND_IN) or identity.user_create(
        username=STAND_IN, password=None, kind="official", full_name="Cán bộ (dữ liệu mẫu)"
    )
    return int(user.pk)


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
    officials: Officials | None = None,
    now: dt.datetime | None = None,
    focus: Collection[int] = (),
    focus_share: float = 0.0,
) -> int:
    """Create ``count`` dossiers submitted between ``start`` and ``end`` (not after ``now``), each
    processed as far as its status says. ``procedures`` carry the version to use (``.version``);
    ``officials`` maps (agency id, role) to the demo official (user id, label) who does those steps
    there (the others are done by officials outside the demo: no actor, the role as the label).
    ``focus_share`` of the dossiers go to the ``focus`` agencies, submitted in the last weeks (so
    that the demo officials have work in every state). Returns how many were made."""
    gen = Generator(
        procedures=procedures,
        applicants=applicants,
        start=start,
        end=end,
        seed=seed,
        officials=officials or {},
        now=now or timezone.now(),
        out=writer(),
        focus=focus,
        focus_share=focus_share,
    )
    sequences = core.sequences_in(start=start, end=end)  # continue where earlier runs stopped
    if connection.vendor != "postgresql" or connection.in_atomic_block:  # SQLite, or inside a test's transaction
        made = 0
        for planned in gen.batches(count, batch):
            with transaction.atomic():  # keys taken and used in one transaction (SQLite: under its write lock)
                made += gen.store(gen.build(planned, sequences))
            if progress:
                progress(len(planned))
        return made
    return _pipelined(gen, count, batch, sequences, progress)


class _Abandoned(Exception):
    """A batch before this one failed: this one is rolled back (its codes would follow a gap)."""


def _pipelined(
    gen: Generator,
    count: int,
    size: int,
    sequences: dict[tuple[str, dt.date], int],
    progress: Callable[[int], None] | None,
    writers: int = WRITERS,
) -> int:
    """Generate batches on this thread while ``writers`` threads (each with its own connection,
    so PostgreSQL works on as many cores) write them: each batch copies its new rows while the
    one before it is being written, then waits for that one's commit before it adds to the
    statistics and day sequences they may share and commits. Commits are thus in batch order, and
    the day sequences only ever go up. If a batch fails, those before it are still committed and
    those after it rolled back: what is left is whole (codes gap-free, sequences not ahead)."""
    handoff: queue.Queue[tuple[int, _Batch] | None] = queue.Queue(maxsize=writers)
    made, committed = [0], [-1]
    failed: list[tuple[int, BaseException]] = []  # (batch, what went wrong)
    turns = threading.Condition()

    def wait_turn(n: int) -> None:
        with turns:
            turns.wait_for(lambda: committed[0] == n - 1 or any(m < n for m, _ in failed))
            if committed[0] != n - 1:
                raise _Abandoned

    def writer_loop() -> None:
        try:
            while (item := handoff.get()) is not None:
                n, batch = item
                try:
                    done = gen.store(batch, turn=functools.partial(wait_turn, n))
                except BaseException as exc:
                    with turns:
                        failed.append((n, exc))
                        turns.notify_all()
                    while handoff.get() is not None:  # let the generator finish handing over
                        pass
                    return
                with turns:
                    made[0] += done
                    committed[0] = n
                    turns.notify_all()
                if progress:
                    progress(done)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=writer_loop, name=f"demo-writer-{i}", daemon=True) for i in range(writers)]
    for thread in threads:
        thread.start()
    try:
        for n, planned in enumerate(gen.batches(count, size)):
            if failed:
                break
            handoff.put((n, gen.build(planned, sequences)))
    finally:
        for _ in threads:
            handoff.put(None)
        for thread in threads:
            thread.join()
    if failed:
        raise min(failed, key=lambda f: f[0])[1]  # the first to fail; those after it were abandoned
    return made[0]


def dossier_count() -> int:
    return Dossier.objects.count()


__all__ = [
    "DEMO_PASSWORD",
    "Clock",
    "Generator",
    "Officials",
    "Partners",
    "dossier_count",
    "from_us",
    "generate",
    "route_of",
    "states_of",
]
