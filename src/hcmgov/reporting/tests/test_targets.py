"""The plan's targets against values counted by hand on a small dataset."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from hcmgov.catalog.models import Procedure
from hcmgov.dossiers.models import Channel
from hcmgov.dossiers.tests.conftest import VALID_FORM
from hcmgov.exchange.tests.factories import InformationSystemFactory
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory
from hcmgov.reporting import targets
from hcmgov.warehouse import services as warehouse

pytestmark = pytest.mark.django_db
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def by(values, scope, key=""):
    return [(v.month, v.numerator, v.denominator) for v in values if v.scope == scope and v.key == key]


def test_dossiers_handled_online_per_month_agency_and_level(submit, agency, version):
    def on(month: int, day: int) -> dt.datetime:
        return dt.datetime(2026, month, day, 9, tzinfo=VN)

    plan = [(on(3, 2), Channel.ONLINE), (on(3, 3), Channel.IN_PERSON), (on(3, 4), Channel.ONLINE),
            (on(4, 1), Channel.IN_PERSON)]  # fmt: skip
    for n, (when, channel) in enumerate(plan):
        with time_machine.travel(when, tick=False):
            submit(form_data=dict(VALID_FORM), channel=channel, idempotency_key=f"t{n}", now=when)
    warehouse.warehouse_refresh()
    values = targets.dossiers_online()
    assert by(values, "city") == [("2026-03", 2, 3), ("2026-04", 0, 1)]
    assert by(values, "agency", agency.code) == [("2026-03", 2, 3), ("2026-04", 0, 1)]
    assert by(values, "level", version.procedure.level) == [("2026-03", 2, 3), ("2026-04", 0, 1)]
    march = next(v for v in values if v.scope == "city" and v.month == "2026-03")
    assert (march.rate, march.goal, march.met) == (2 / 3, 0.5, True)


def test_procedures_offered_online_per_level():
    values = targets.procedures_online()
    for level in ("city", "district", "commune"):
        qs = Procedure.objects.filter(level=level)
        expected = [("", qs.filter(online_level__in=("full", "partial")).count(), qs.count())]
        assert by(values, "level", level) == (expected if qs.exists() else [])
    assert by(values, "city") == [("", Procedure.objects.exclude(online_level="").count(), Procedure.objects.count())]


def test_e_id_logins_and_systems_connected():
    before = {v.key: (v.numerator, v.denominator) for v in targets.eid_login() if v.scope == "kind"}
    UserFactory(eid_subject="sub-1")
    UserFactory()
    UserFactory(kind="business", eid_subject="sub-2")
    after = {v.key: (v.numerator, v.denominator) for v in targets.eid_login() if v.scope == "kind"}
    assert after["citizen"] == (before["citizen"][0] + 1, before["citizen"][1] + 2)
    assert after["business"] == (before["business"][0] + 1, before["business"][1] + 1)

    start = targets.systems_connected()[0]
    InformationSystemFactory(state="connected")
    InformationSystemFactory(state="planned")
    now = targets.systems_connected()[0]
    assert (now.numerator - start.numerator, now.denominator - start.denominator) == (1, 2)


def test_officials_using_the_city_email_per_level_from_their_city_mailboxes():
    """Active officials with an active city mailbox ÷ active officials, per level of their
    agencies and for the city (each official once): from the city e-mail (citymail)."""
    from hcmgov.citymail import services as citymail
    from hcmgov.core.models import UnitLevel
    from hcmgov.core.tests.factories import AgencyFactory

    def counts():
        return {(v.scope, v.key): (v.numerator, v.denominator) for v in targets.city_email()}

    before = counts()
    department = AgencyFactory(level=UnitLevel.CITY, kind="department", unit=None)
    ward = AgencyFactory(level=UnitLevel.COMMUNE)
    with_box = RoleAssignmentFactory(agency=department, user__full_name="Nguyễn Văn Đức").user
    RoleAssignmentFactory(agency=ward, user=with_box)  # roles at two levels: counted at each
    RoleAssignmentFactory(agency=ward)  # no mailbox
    RoleAssignmentFactory(agency=ward, user__is_active=False)  # inactive: not counted
    citymail.mailbox_open_for_official(official=with_box)
    after = counts()
    report = {r.target.key: r for r in targets.plan_targets()}
    assert report["city_email"].measurable

    def delta(key):
        old = before.get(key, (0, 0))
        return after[key][0] - old[0], after[key][1] - old[1]

    assert delta(("city", "")) == (1, 2)
    assert delta(("level", "city")) == (1, 1)
    assert delta(("level", "commune")) == (1, 2)
    value = next(v for v in targets.city_email() if v.scope == "level" and v.key == "city")
    assert value.goal == 1.0


def test_targets_without_a_source_say_why():
    report = {r.target.key: r for r in targets.plan_targets()}
    assert set(report) == {t.key for t in targets.TARGETS}
    # full-process services on the national portal: no dossier's portal state known yet
    for key in ("online_integrated",):
        assert not report[key].measurable
        assert report[key].reason
        assert report[key].values == []
    assert targets.BY_KEY["work_records_online"].by_level == {"city": 0.9, "district": 0.8, "commune": 0.6}
    # periodic reports: measurable from the register of reporting regimes (test_regimes.py)
    assert report["reports_online"].measurable


def test_every_unmeasurable_target_says_why_in_vietnamese():
    for target in targets.TARGETS:
        assert bool(target.reason_vi) == bool(target.reason), target.key


def test_work_records_handled_online_per_level_from_the_electronic_office():
    """Closed records of the year per level of their agency; a record is online when it holds a
    document and every one is electronic and handled here (an imported one is not)."""
    from hcmgov.core.models import UnitLevel
    from hcmgov.core.tests.factories import AgencyFactory
    from hcmgov.office.models import RecordState
    from hcmgov.office.tests.factories import OutgoingDocumentFactory, WorkRecordFactory

    city = AgencyFactory(level=UnitLevel.CITY, unit=None)
    ward = AgencyFactory(level=UnitLevel.COMMUNE)

    def record(agency, *, online, state=RecordState.CLOSED):
        r = WorkRecordFactory(agency=agency, year=2026, state=state)
        OutgoingDocumentFactory(agency=agency, record=r, electronic=True)
        if not online:
            OutgoingDocumentFactory(agency=agency, record=r, electronic=False)
        return r

    record(city, online=True)
    record(city, online=True)
    record(city, online=False)
    record(ward, online=True)
    record(ward, online=False)
    record(ward, online=True, state=RecordState.OPEN)  # not over: not counted
    values = {(v.scope, v.key): (v.numerator, v.denominator) for v in targets.work_records_online(year=2026)}
    assert values == {("city", ""): (3, 5), ("level", "city"): (2, 3), ("level", "commune"): (1, 2)}
    by_key = {(v.scope, v.key): v for v in targets.work_records_online(year=2026)}
    assert by_key[("level", "commune")].goal == 0.6
    assert by_key[("level", "city")].goal == 0.9
    assert by_key[("level", "commune")].met is False  # 50 % against 60 %


def test_full_process_services_integrated_with_the_national_portal_per_month(submit, agency, version):
    """By hand: March, the full-process procedure has two dossiers, one held by the portal → 1 of
    1 procedure; April, its one dossier is still waiting to be sent → 0 of 1."""
    from hcmgov.warehouse.tests.test_facts import push

    version.procedure.online_level = "full"
    version.procedure.save(update_fields=["online_level"])
    made = []
    for n, when in enumerate((dt.datetime(2026, 3, 2, 9, tzinfo=VN), dt.datetime(2026, 3, 3, 9, tzinfo=VN),
                              dt.datetime(2026, 4, 1, 9, tzinfo=VN))):  # fmt: skip
        with time_machine.travel(when, tick=False):
            made.append(submit(form_data=dict(VALID_FORM), idempotency_key=f"p{n}", now=when)[0])
    push(made[0], sent=True)
    push(made[1], sent=False)
    push(made[2], sent=False)
    warehouse.warehouse_refresh()
    values = targets.online_integrated()
    assert by(values, "city") == [("2026-03", 1, 1), ("2026-04", 0, 1)]
    assert by(values, "agency", agency.code) == [("2026-03", 1, 1), ("2026-04", 0, 1)]
    report = {r.target.key: r for r in targets.plan_targets()}
    assert report["online_integrated"].measurable


def test_transactions_authenticated_electronically_per_month_from_the_audit_trail(submit, citizen):
    """By hand: March, one dossier submitted after an e-ID login and one by the system (no login)
    → 1 of 2; April, one after a password login → 1 of 1; February, nothing: no value."""
    from hcmgov.common import context

    def as_user(method: str) -> context.Actor:
        return context.Actor(user_id=citizen.pk, label="x", auth_method=method, assurance_level=context.ONE_FACTOR)

    plan = [(dt.datetime(2026, 3, 2, 9, tzinfo=VN), as_user(context.AuthMethod.EID)),
            (dt.datetime(2026, 3, 5, 9, tzinfo=VN), context.Actor.system("import")),
            (dt.datetime(2026, 4, 1, 9, tzinfo=VN), as_user(context.AuthMethod.PASSWORD))]  # fmt: skip
    for n, (when, actor) in enumerate(plan):
        with time_machine.travel(when, tick=False), context.acting_as(actor):
            submit(form_data=dict(VALID_FORM), idempotency_key=f"a{n}", now=when)
    values = targets.authenticated_transactions(today=dt.date(2026, 4, 30), months=3)
    assert by(values, "city") == [("2026-03", 1, 2), ("2026-04", 1, 1)]
    assert [v.met for v in values] == [False, True]
