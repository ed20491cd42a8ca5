"""``hcmgov demo`` builds a coherent city: codes gap-free per agency and day, history per dossier,
and dossiers that look processed by the services — flow, steps, engine state, clock, statistics —
so that officials can take the open ones on (on SQLite through ``bulk_create``; on PostgreSQL
through COPY, tested at the end)."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter, defaultdict
from itertools import pairwise

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from hcmgov.catalog import selectors as catalog
from hcmgov.catalog.models import Procedure
from hcmgov.common import jsonform
from hcmgov.core import selectors as core
from hcmgov.core.models import DaySequence
from hcmgov.core.workcalendar import default_calendar
from hcmgov.documents.tests import crafted
from hcmgov.dossiers import clock, demo, engine, services
from hcmgov.dossiers.demo_copy import CopyWriter, OrmWriter, from_us, to_us, writer
from hcmgov.dossiers.files import Attachment
from hcmgov.dossiers.management.commands.demo import ROLE_LOGINS, TEAMS
from hcmgov.dossiers.management.commands.demo import Command as DemoCommand
from hcmgov.dossiers.models import (
    Dossier,
    DossierEvent,
    DossierStep,
    ProcessingStat,
    Status,
    StepState,
    SupplementRequest,
)
from hcmgov.identity.models import RoleAssignment, User
from hcmgov.identity.tests.factories import RoleAssignmentFactory

pytestmark = pytest.mark.django_db

VN = dt.timezone(dt.timedelta(hours=7))
OPEN = {Status.NEW, Status.RECEIVED, Status.IN_PROGRESS, Status.SUPPLEMENT_REQUESTED, Status.FINISHED}
FRONT_TEAMS = ("saigon", "benthanh", "tuphap", "congan", "congan.saigon")  # dossiers are received there


def test_demo_dossiers_are_coherent(city):
    call_command("demo", dossiers=400, quiet=True)
    assert Dossier.objects.count() == 400
    _codes_gap_free()
    assert not Dossier.objects.filter(events=None).exists()
    last_status = {}
    for dossier_id, status in DossierEvent.objects.order_by("dossier", "at", "id").values_list("dossier", "status_to"):
        last_status[dossier_id] = status  # ends with each dossier's latest event
    for dossier_id, status in Dossier.objects.values_list("id", "status"):
        assert last_status[dossier_id] == status
    # the open steps of dossiers awaiting a supplement wait with them, and only those
    open_steps = DossierStep.objects.filter(state=StepState.OPEN)
    assert open_steps.filter(dossier__status=Status.SUPPLEMENT_REQUESTED).exists()
    assert not open_steps.filter(dossier__status=Status.SUPPLEMENT_REQUESTED, waiting=False).exists()
    assert not open_steps.exclude(dossier__status=Status.SUPPLEMENT_REQUESTED).filter(waiting=True).exists()
    # a second run adds to the same days without breaking the sequences
    call_command("demo", dossiers=50, quiet=True, seed=7)
    assert Dossier.objects.count() == 450
    assert Dossier.objects.values("code").distinct().count() == 450


# --- the invariants of processed dossiers ---------------------------------------------------------


def _codes_gap_free() -> None:
    by_day = defaultdict(list)
    for code in Dossier.objects.values_list("code", flat=True):
        prefix, number = code.rsplit("-", 1)
        by_day[prefix].append(int(number))
    for prefix, numbers in by_day.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), prefix
        agency, yymmdd = prefix.rsplit("-", 1)
        day = dt.datetime.strptime(yymmdd, "%y%m%d").date()
        assert DaySequence.objects.get(scope=agency, day=day).last == len(numbers)


def _check_processed() -> dict[int, list[Dossier]]:
    """Every invariant of dossiers the services processed; returns the dossiers by status."""
    calendar = default_calendar()
    now = timezone.now()
    latest = {p: catalog.flow_latest(procedure_id=p).pk for p in Procedure.objects.values_list("pk", flat=True)}
    agencies = {a.pk: a for a in core.agency_list()}
    steps_of, events_of = defaultdict(list), defaultdict(list)
    for step in DossierStep.objects.order_by("opened_at", "id"):
        steps_of[step.dossier_id].append(step)
    for event in DossierEvent.objects.order_by("at", "id"):
        events_of[event.dossier_id].append(event)
    supplements = {s.dossier_id: s for s in SupplementRequest.objects.all()}
    by_status: dict[int, list[Dossier]] = defaultdict(list)
    expected: Counter = Counter()
    for d in Dossier.objects.select_related("procedure_version", "procedure"):
        by_status[d.status].append(d)
        spec = catalog.flow_spec(flow_id=d.flow_id)
        assert d.flow_id == latest[d.procedure_id]
        assert d.fingerprint == services.submission_fingerprint(
            procedure_code=d.procedure.code,
            agency_code=agencies[d.agency_id].code,
            form_data=d.form_data,
            attachments=[],
        )
        assert len(d.tracking_secret) == 8
        assert set(d.tracking_secret) <= set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        steps, events = steps_of[d.pk], events_of[d.pk]
        assert steps[0].opened_at == d.submitted_at
        assert steps[0].role == "receiver"
        for before, after in pairwise(steps):  # each step opens when the one before is done
            assert after.opened_at == before.finished_at
            assert before.state == StepState.DONE
        for s in steps:
            assert s.task_id.version == 4
            rule = spec.steps[s.key]
            assert (s.name, s.name_en, s.role) == (rule.name[:200], rule.name_en[:200], rule.role)
            opened = calendar.effective_receipt(s.opened_at) if rule.status != 1 else s.opened_at
            assert s.due_at == clock.step_due(calendar, opened_at=opened, allotment=rule.allotment)
            assert s.remind_at == clock.reminder_at(calendar, opened_at=opened, allotment=rule.allotment)
            home = agencies[d.agency_id]
            day = s.opened_at.astimezone(VN).date()
            where = core.agency_partner(selector=rule.agency, home=home, day=day) if rule.agency else home
            assert s.agency_id == where.pk, (s.key, rule.agency)
            assert s.opened_at <= now
            if s.state == StepState.DONE:
                assert s.outcome in rule.actions
                assert s.timeliness == clock.timeliness(calendar, finished_at=s.finished_at, due_at=s.due_at)
                assert s.opened_at <= s.finished_at <= now
                assert s.actor_label
                expected[
                    (s.finished_at.astimezone(VN).date(), "step", s.agency_id, d.procedure_id, s.actor_id or 0, s.key)
                ] += 1
            else:
                assert s.timeliness == ""
                assert s.actor_id is None
        open_steps = [s for s in steps if s.state == StepState.OPEN]
        if d.status in OPEN:
            assert len(open_steps) == 1
            assert open_steps[0] is steps[-1]
            wf = engine.load(spec, d.workflow_state)
            ready = engine.open_steps(wf, spec)
            assert [(r.task_id, r.spec.key) for r in ready] == [(open_steps[0].task_id, open_steps[0].key)]
            done_ids = {str(t.id) for t in wf.get_tasks() if t.task_spec.name in {s.key for s in steps[:-1]}}
            assert {str(s.task_id) for s in steps[:-1]} <= done_ids  # the done steps are the engine's tasks
            status_of_step = {1: Status.NEW, 9: Status.FINISHED}.get(spec.steps[steps[-1].key].status)
            if d.status == Status.NEW:
                assert len(steps) == 1
            elif d.status == Status.RECEIVED:
                assert len(steps) == 2
            elif d.status == Status.IN_PROGRESS:
                assert len(steps) >= 3
                assert status_of_step is None
            elif d.status == Status.FINISHED:
                assert status_of_step == Status.FINISHED
            if d.status == Status.SUPPLEMENT_REQUESTED:
                request = supplements[d.pk]
                assert request.step_id == open_steps[0].pk
                assert request.counts
                assert request.answered_at is None
                assert d.suspended_at == request.requested_at
                assert d.suspended_status in {Status.RECEIVED, Status.IN_PROGRESS}
                assert d.supplement_count == 1
            else:
                assert d.pk not in supplements
                assert d.suspended_at is None
                assert d.supplement_count == 0
        else:
            assert not open_steps
            assert d.workflow_state is None  # generated history: nothing acts on a closed dossier again
            if d.status in {Status.WITHDRAWN, Status.STOPPED}:
                assert steps[-1].state == StepState.CANCELLED
                assert steps[-1].outcome == {Status.WITHDRAWN: "withdraw", Status.STOPPED: "stop"}[d.status]
                assert d.finished_at == steps[-1].finished_at
            elif d.status == Status.NOT_RECEIVED:
                assert [s.outcome for s in steps] == ["refuse"]
                assert d.refusal_reason
                assert d.finished_at == steps[-1].finished_at
            else:
                assert d.status == Status.RETURNED
                assert steps[-1].outcome == "return"
                assert d.returned_at == steps[-1].finished_at
        if d.status in {Status.FINISHED, Status.RETURNED}:  # finished when the result was ready to return
            assert d.finished_at == next(s.opened_at for s in steps if spec.steps[s.key].status == Status.FINISHED)
        # the legal clock of the dossier
        assert d.submitted_at <= now
        start = d.received_at or d.submitted_at
        assert d.due_at == calendar.appointment_date(start, working_days=d.procedure_version.statutory_days)
        assert d.appointment_at == d.due_at
        if d.status in {Status.FINISHED, Status.RETURNED}:
            assert d.timeliness == clock.timeliness(
                calendar, finished_at=d.finished_at, due_at=d.due_at, supplements=d.supplement_count
            )
            expected[(d.finished_at.astimezone(VN).date(), "dossier", d.agency_id, d.procedure_id, 0, "")] += 1
        else:
            assert d.timeliness == ""
        # the history: from submission, each event from where the last one left
        assert (events[0].status_from, events[0].status_to, events[0].at) == (None, Status.NEW, d.submitted_at)
        for before, after in pairwise(events):
            assert after.status_from == before.status_to
            assert before.at <= after.at <= now
        assert events[-1].status_to == d.status
    # statistics: one count per finished dossier and per done step, on the day and by the official
    got: Counter = Counter()
    for row in ProcessingStat.objects.all():
        got[(row.day, row.kind, row.agency_id, row.procedure_id, row.official_id, row.step_key)] += (
            row.early + row.on_time + row.late
        )
    assert got == expected
    finished = Dossier.objects.filter(status__in=[Status.FINISHED, Status.RETURNED]).count()
    assert sum(n for k, n in got.items() if k[1] == "dossier") == finished
    return by_status


def _holder(step: DossierStep) -> User:
    found = RoleAssignment.objects.filter(agency_id=step.agency_id, role=step.role).select_related("user").first()
    return found.user if found else RoleAssignmentFactory(agency_id=step.agency_id, role=step.role).user


def _take_on(by_status: dict[int, list[Dossier]]) -> None:
    """Officials act on open generated dossiers as on any other: the step closes, the next opens."""
    rng = random.Random(1)
    statuses = [Status.NEW, Status.RECEIVED, Status.IN_PROGRESS, Status.FINISHED, Status.SUPPLEMENT_REQUESTED]
    acted = 0
    for status in statuses:
        for dossier in rng.sample(by_status[status], min(4, len(by_status[status]))):
            if status == Status.SUPPLEMENT_REQUESTED:  # the applicant answers first: the clock moves on
                due = dossier.due_at
                dossier = services.dossier_supplement(dossier=dossier, applicant=dossier.applicant, note="Đã bổ sung.")
                assert dossier.status in {Status.RECEIVED, Status.IN_PROGRESS}
                assert dossier.due_at >= due
            step = DossierStep.objects.get(dossier=dossier, state=StepState.OPEN)
            rule = catalog.flow_spec(flow_id=dossier.flow_id).steps[step.key]
            action = next(a for a in ("receive", "forward", "approve", "sign", "return") if a in rule.actions)
            after = services.dossier_act(
                dossier=dossier, official=_holder(step), step_id=step.pk, action=action, note="Demo."
            )
            step.refresh_from_db()
            assert step.state == StepState.DONE
            if after.status == Status.RETURNED:
                assert not DossierStep.objects.filter(dossier=after, state=StepState.OPEN).exists()
            else:
                following = DossierStep.objects.get(dossier=after, state=StepState.OPEN)
                spec = catalog.flow_spec(flow_id=after.flow_id)
                ready = engine.open_steps(engine.load(spec, after.workflow_state), spec)
                assert [r.task_id for r in ready] == [following.task_id]
            acted += 1
    assert acted >= 10


def _submit_after() -> None:
    """The services go on where the generator stopped: keys and day sequences are not behind."""
    agency = RoleAssignment.objects.get(user__username="canbo.saigon", role="receiver").agency
    procedure = Procedure.objects.filter(agency_kind="commune_pc").order_by("code").first()
    version = catalog.procedure_version_in_force(procedure=procedure, day=timezone.localdate())
    form = jsonform.sample_valid(version.form_schema, random.Random(3), tries=50)
    attachments = [
        Attachment(doc["code"], f"{doc['code']}.pdf", crafted.pdf())
        for doc in version.required_documents
        if doc.get("required", True) and doc.get("kind") != "present"
    ]
    dossier, created = services.dossier_submit(
        applicant=User.objects.filter(kind="citizen").first(),
        procedure_code=procedure.code,
        agency_code=agency.code,
        form_data=form,
        attachments=attachments,
    )
    assert created
    assert DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN).count() == 1
    _codes_gap_free()


def test_generated_dossiers_look_processed_and_can_be_taken_on(city):
    call_command("demo", dossiers=300, quiet=True)
    assert isinstance(writer(), CopyWriter if connection.vendor == "postgresql" else OrmWriter)
    _codes_gap_free()
    by_status = _check_processed()
    assert {Status.NEW, Status.IN_PROGRESS, Status.RETURNED} <= set(by_status)
    assert DossierStep.objects.filter(state=StepState.OPEN, assignee__isnull=False).exists()  # some are taken
    # the demo officials have open dossiers to work on
    teams = set(RoleAssignment.objects.filter(user__username__startswith="canbo.").values_list("agency_id", flat=True))
    assert Dossier.objects.filter(agency_id__in=teams, status__in=OPEN).count() >= 10
    _take_on(by_status)
    _submit_after()


def test_demo_teams_can_take_a_dossier_through_every_step(city):
    call_command("demo", dossiers=0, quiet=True)
    assignments = RoleAssignment.objects.count()
    call_command("demo", dossiers=0, quiet=True)  # idempotent: nobody and no role twice
    assert RoleAssignment.objects.count() == assignments
    today = timezone.localdate()
    for suffix in FRONT_TEAMS:
        home = RoleAssignment.objects.get(user__username=f"canbo.{suffix}", role="receiver").agency
        for prefix in ROLE_LOGINS.values():
            assert User.objects.filter(username=f"{prefix}.{suffix}", roles__agency=home).exists()
        procedures = Procedure.objects.filter(agency_kind=home.kind)
        if home.department:
            procedures = procedures.filter(agency_department=home.department)
        for procedure in procedures:
            spec = catalog.flow_spec(flow_id=catalog.flow_latest(procedure_id=procedure.pk).pk)
            for step in spec.steps.values():
                where = core.agency_partner(selector=step.agency, home=home, day=today) if step.agency else home
                holders = RoleAssignment.objects.filter(agency=where, role=step.role, user__username__contains=".")
                assert holders.exists(), (suffix, procedure.code, step.key, where.name)
    assert len(TEAMS) == User.objects.filter(username__startswith="vanthu.").count()


# --- the parts, against what they stand in for ----------------------------------------------------


def test_the_fast_clock_is_the_legal_clock():
    calendar = default_calendar()
    fast = demo.Clock(calendar, dt.date(2023, 12, 20), dt.date(2027, 12, 31))
    rng = random.Random(5)
    for _ in range(3000):
        moment = dt.datetime(2024, 1, 1, tzinfo=VN) + dt.timedelta(
            seconds=rng.randrange(3 * 365 * 24 * 3600), microseconds=rng.choice([0, 0, rng.randrange(10**6)])
        )
        allotment = dt.timedelta(hours=rng.choice([0.5, 1, 2, 3, 4, 8, 12, 16, 40, 96, 120]) * rng.choice([1, 0.75]))
        us = to_us(moment)
        assert from_us(fast.add(us, allotment // dt.timedelta(microseconds=1))) == clock.step_due(
            calendar, opened_at=moment, allotment=allotment
        )
        days = rng.choice([0, 0, 1, 3, 5, 15, 27])
        assert from_us(fast.appointment(us, days)) == calendar.appointment_date(moment, working_days=days)
        due = calendar.appointment_date(moment, working_days=days)
        done = moment + dt.timedelta(minutes=rng.randrange(30 * 24 * 60))
        assert fast.timeliness(to_us(done), to_us(due)) == clock.timeliness(calendar, finished_at=done, due_at=due)
        assert dt.date.fromordinal(fast.day(us)) == moment.date()


def test_the_columns_written_are_the_models(city):
    for model, columns in (
        (Dossier, demo.DOSSIER_COLUMNS),
        (DossierStep, demo.STEP_COLUMNS),
        (DossierEvent, ("id", *demo.EVENT_COLUMNS)),
        (SupplementRequest, ("id", *demo.SUPPLEMENT_COLUMNS)),
    ):
        assert sorted(columns) == sorted(f.column for f in model._meta.concrete_fields), model.__name__


# --- PostgreSQL: COPY, keys from the sequences, concurrent writers ------------------------------


def _generate(count: int, batch: int, seed: int) -> int:
    """What ``hcmgov demo --dossiers`` does, in small batches (many of them, written concurrently)."""
    _, officials = DemoCommand()._people(seed)
    today = timezone.localdate()
    procedures = list(catalog.procedure_search())
    for p in procedures:
        p.version = catalog.procedure_version_in_force(procedure=p, day=today)
    return demo.generate(
        procedures=procedures,
        applicants=list(User.objects.filter(kind="citizen")),
        count=count,
        start=dt.date(2024, 1, 2),
        end=today,
        seed=seed,
        batch=batch,
        officials=officials,
        focus={agency for agency, role in officials if role == "receiver"},
        focus_share=0.2,
    )


@pytest.fixture
def _postgres_outside_transactions(city):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by `make test` when PostgreSQL answers)")
    assert not connection.in_atomic_block  # so the fill runs its writer threads


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_postgres_outside_transactions")
def test_copy_path_on_postgresql():
    """Outside a transaction the fill writes by COPY on two more threads and connections."""
    assert _generate(600, batch=40, seed=2026) == 600
    assert Dossier.objects.count() == 600
    _codes_gap_free()
    _check_processed()
    state = Dossier.objects.exclude(workflow_state__isnull=True).values_list("workflow_state", flat=True).first()
    assert isinstance(state, dict)  # stored as JSON, not as a string of it
    assert isinstance(Dossier.objects.values_list("form_data", flat=True).first(), dict)
    with connection.cursor() as cursor:  # COPY bypasses the fields: the rows encrypt their forms and states
        cursor.execute("SELECT count(*) FROM dossiers_dossier WHERE form_data NOT LIKE 'v1:%%'")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM dossiers_dossier WHERE workflow_state NOT LIKE 'v1:%%'")
        assert cursor.fetchone()[0] == 0
    call_command("demo", dossiers=100, quiet=True, seed=9)  # and again, on the same days, in one batch
    assert Dossier.objects.count() == 700
    _codes_gap_free()
    by_status = _check_processed()
    _take_on(by_status)
    _submit_after()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_postgres_outside_transactions")
def test_a_failed_batch_leaves_the_committed_ones_whole(monkeypatch):
    """A batch that fails stops the fill: the batches after it are rolled back (their codes would
    follow a gap), those before it are whole, with their statistics and day sequences."""
    build, store, built = demo.Generator.build, demo.Generator.store, []

    def building(self, planned, sequences):
        built.append(build(self, planned, sequences))
        return built[-1]

    def failing(self, batch, turn=None):
        if len(built) > 3 and batch is built[3]:
            # fail once the generator has built a batch after this one (it builds on its own thread
            # while the writers store): that later batch must then be rolled back, not written
            deadline = time.monotonic() + 30
            while len(built) < 5 and time.monotonic() < deadline:
                time.sleep(0.01)
            raise RuntimeError("disk full")
        return store(self, batch, turn)

    monkeypatch.setattr(demo.Generator, "build", building)
    monkeypatch.setattr(demo.Generator, "store", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        _generate(600, batch=40, seed=5)
    assert len(built) >= 5
    assert Dossier.objects.count() == sum(len(b.dossiers) for b in built[:3])  # those before it, whole
    _codes_gap_free()
    issued = Counter(code.rsplit("-", 1)[0] for code in Dossier.objects.values_list("code", flat=True))
    for row in DaySequence.objects.filter(day__gte=dt.date(2024, 1, 2)):
        assert row.last == issued[f"{row.scope}-{row.day:%y%m%d}"], row  # no sequence ahead of its codes
    _check_processed()
