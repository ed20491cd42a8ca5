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


def test_e_id_logins_systems_connected_and_city_email(settings):
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

    settings.CITY_EMAIL_DOMAINS = []
    report = {r.target.key: r for r in targets.plan_targets()}
    assert not report["city_email"].measurable
    assert "CITY_EMAIL_DOMAINS" in report["city_email"].reason
    settings.CITY_EMAIL_DOMAINS = ["tphcm.gov.vn"]
    first = RoleAssignmentFactory(user__email="an@tphcm.gov.vn")
    RoleAssignmentFactory(agency=first.agency, user__email="binh@gmail.com")
    values = targets.city_email()
    assert by(values, "agency", first.agency.code) == [("", 1, 2)]


def test_targets_without_a_source_say_why():
    report = {r.target.key: r for r in targets.plan_targets()}
    assert set(report) == {t.key for t in targets.TARGETS}
    for key in ("online_integrated", "authenticated", "reports_online"):
        assert not report[key].measurable
        assert report[key].reason
        assert report[key].values == []
    assert targets.BY_KEY["work_records_online"].by_level == {"city": 0.9, "district": 0.8, "commune": 0.6}
    with pytest.raises(targets.NotMeasurableError):
        targets.periodic_reports_on_system()


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
