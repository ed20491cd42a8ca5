"""A full reporting cycle over three levels (2021: wards → district → city) with a late ward and
a returned report; the two-tier structure (2025: wards straight to the city); every refusal; the
figures the platform prefills."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from hcmgov.audit.models import AuditEvent
from hcmgov.common.errors import DomainError
from hcmgov.core import selectors as core
from hcmgov.core.models import OutboxEvent
from hcmgov.reporting import selectors, services
from hcmgov.reporting.models import ReportStatus
from hcmgov.reporting.periods import period_containing

pytestmark = pytest.mark.django_db

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CITY, D1, D12 = "79", "760", "761"
TAN_DINH, DA_KAO, BEN_NGHE = "26734", "26737", "26740"


def at(day: int, hour: int = 9, month: int = 3) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, tzinfo=HCM)


def fill(report, received, on_time, late, actor=None, **extra):
    return services.report_save(
        report=report,
        actor=actor,
        values={"hs_tiep_nhan": received, "hs_da_giai_quyet": on_time + late, "hs_dung_han": on_time,
                "hs_qua_han": late, **extra},
    )  # fmt: skip


def refused(code, call, *args, **kwargs):
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    return caught.value


@pytest.fixture
def period(template):
    """March 2024 (cut-off 15 Feb – 14 Mar; wards due the 16th, districts the 18th, the city the
    20th), opened for the city, two districts and three wards of District 1."""
    return services.period_open(
        template=template, key="2024-M03", unit_codes=[CITY, D1, D12, TAN_DINH, DA_KAO, BEN_NGHE], now=at(1)
    )


def official(unit_code: str, role: str = "specialist"):
    """An official with ``role`` at the People's Committee of the unit."""
    from hcmgov.identity.tests.factories import RoleAssignmentFactory

    agency = core.agency_list(day=dt.date(2024, 3, 1)).filter(unit__code=unit_code, kind__endswith="_pc").first()
    return RoleAssignmentFactory(agency=agency, role=role).user


def get(period, code):
    return selectors.report_get(period=period, unit_code=code)


def test_a_full_cycle_over_three_levels_with_a_late_ward_and_a_returned_report(period):
    assert period.structure_key == "2021"
    reports = {r.unit_code: r for r in selectors.report_list(period=period)}
    assert reports[TAN_DINH].parent.unit_code == D1
    assert reports[D1].parent.unit_code == CITY
    assert reports[D12].parent.unit_code == CITY
    assert reports[CITY].parent is None
    assert [reports[c].deadline.day for c in (TAN_DINH, D1, CITY)] == [16, 18, 20]
    # the platform knows no dossier of these units in the window: zeros, marked prefilled
    assert reports[TAN_DINH].values["hs_tiep_nhan"] == 0
    assert "hs_tiep_nhan" in reports[TAN_DINH].prefilled

    # wards: Tân Định and Đa Kao on time, Bến Nghé late (the 17th)
    fill(get(period, TAN_DINH), 10, 8, 1)  # 9 finished, 8 on time
    fill(get(period, DA_KAO), 20, 10, 10)  # 20 finished, 10 on time
    fill(get(period, BEN_NGHE), 5, 1, 0)
    services.report_submit(report=get(period, TAN_DINH), now=at(16, 16))
    services.report_submit(report=get(period, DA_KAO), now=at(14))
    assert selectors.late_reports(period=period, today=dt.date(2024, 3, 17)).filter(unit_code=BEN_NGHE).exists()
    services.report_submit(report=get(period, BEN_NGHE), now=at(17))
    assert get(period, BEN_NGHE).late
    assert not get(period, TAN_DINH).late

    # District 1 returns Đa Kao's report; Đa Kao corrects and sends it again (still not late:
    # lateness is judged by the first submission)
    district_leader = official(D1, "leader")
    returned = services.report_return(
        report=get(period, DA_KAO), reason="Số đúng hạn chưa khớp sổ theo dõi", actor=district_leader
    )
    assert returned.status == ReportStatus.RETURNED
    fill(get(period, DA_KAO), 20, 12, 8)
    services.report_submit(report=get(period, DA_KAO), now=at(17))
    assert not get(period, DA_KAO).late
    for code in (TAN_DINH, DA_KAO, BEN_NGHE):
        services.report_approve(report=get(period, code), now=at(17, 15))

    # District 1's own dossiers (its agencies), then its totals: own + the three wards
    fill(get(period, D1), 100, 70, 30)
    district = services.report_submit(report=get(period, D1), now=at(18))
    assert district.totals == {
        "hs_tiep_nhan": 135, "hs_da_giai_quyet": 130, "hs_dung_han": 91, "hs_qua_han": 39,
        "ty_le_dung_han": "70.00",  # 91 / 130
    }  # fmt: skip
    assert district.coverage == {"counted": sorted([D1, TAN_DINH, DA_KAO, BEN_NGHE]), "missing": []}
    services.report_approve(report=district, now=at(19))

    # District 12 never sends: late, and missing from the city's totals
    fill(get(period, CITY), 50, 45, 5)
    city = services.report_submit(report=get(period, CITY), now=at(20))
    assert city.totals == {
        "hs_tiep_nhan": 185, "hs_da_giai_quyet": 180, "hs_dung_han": 136, "hs_qua_han": 44,
        "ty_le_dung_han": "75.56",  # 136 / 180, not the mean of the units' rates
    }  # fmt: skip
    assert city.coverage["missing"] == [D12]
    late = selectors.late_reports(period=period, today=dt.date(2024, 3, 21))
    assert sorted(r.unit_code for r in late) == sorted([BEN_NGHE, D12])
    city = services.report_approve(report=city, now=at(20, 16))
    assert city.status == ReportStatus.APPROVED
    assert OutboxEvent.objects.filter(topic=services.TOPIC_APPROVED, key=str(city.pk)).exists()
    history = [(e.action, e.reason) for e in selectors.report_history(report=get(period, DA_KAO))]
    assert ("returned", "Số đúng hạn chưa khớp sổ theo dõi") in history
    returned_by = selectors.report_history(report=get(period, DA_KAO))[3]
    assert returned_by.actor == district_leader
    assert [a for a, _ in history] == ["opened", "saved", "submitted", "returned", "saved", "submitted", "approved"]
    assert selectors.period_status(period=period)["approved"] == 5
    audit = AuditEvent.objects.filter(object_id=str(returned.pk), object_type="reporting.report")
    assert list(audit.values_list("action", flat=True).order_by("id")) == [
        "reporting.report_save", "reporting.report_submit", "reporting.report_return", "reporting.report_save",
        "reporting.report_submit", "reporting.report_approve",
    ]  # fmt: skip


def test_who_may_keep_and_review_a_report(period, citizen):
    ward, district, city = get(period, TAN_DINH), get(period, D1), get(period, CITY)
    ward_official, ward_leader = official(TAN_DINH), official(TAN_DINH, "leader")
    district_leader, district_specialist = official(D1, "leader"), official(D1)
    other_leader, city_leader = official(D12, "leader"), official(CITY, "leader")
    for user in (citizen, district_leader, other_leader):
        refused("report_forbidden", fill, ward, 3, 1, 0, actor=user)
    fill(ward, 3, 1, 0, actor=ward_official)
    services.report_submit(report=get(period, TAN_DINH), actor=ward_official)
    for user in (citizen, ward_official, ward_leader, district_specialist, other_leader, city_leader):
        refused("report_forbidden", services.report_approve, report=get(period, TAN_DINH), actor=user)
    services.report_approve(report=get(period, TAN_DINH), actor=district_leader)
    refused("report_forbidden", services.report_reopen, report=get(period, TAN_DINH), reason="x", actor=ward_leader)
    fill(district, 0, 0, 0, actor=district_specialist)
    services.report_submit(report=get(period, D1), actor=district_leader)
    refused("report_forbidden", services.report_approve, report=get(period, D1), actor=district_leader)
    services.report_approve(report=get(period, D1), actor=city_leader)
    fill(city, 0, 0, 0, actor=city_leader)
    services.report_submit(report=get(period, CITY), actor=city_leader)
    refused("report_forbidden", services.report_approve, report=get(period, CITY), actor=district_leader)
    assert services.report_approve(report=get(period, CITY), actor=city_leader).status == ReportStatus.APPROVED


def test_refusals_name_the_field(period):
    ward = get(period, TAN_DINH)
    error = refused("report_invalid", services.report_save, report=ward, values={"hs_tiep_nhan": "mười"})
    assert [(e.field, e.code) for e in error.errors] == [("hs_tiep_nhan", "type")]
    assert "Số hồ sơ tiếp nhận" in error.message.vi
    assert "Dossiers received" in error.message.en
    refused("report_invalid", services.report_save, report=ward, values={"hs_tiep_nhan": 2.5})
    refused("report_invalid", services.report_save, report=ward, values={"khong_co": 1})
    error = refused("report_invalid", services.report_save, report=ward, values={"hs_tiep_nhan": -3})
    assert [(e.field, e.code) for e in error.errors] == [("hs_tiep_nhan", "range")]
    services.report_save(
        report=ward, values={"hs_tiep_nhan": 10, "hs_da_giai_quyet": 5, "hs_dung_han": 3, "hs_qua_han": 1}
    )
    error = refused("report_invalid", services.report_submit, report=get(period, TAN_DINH))
    assert [(e.field, e.code) for e in error.errors] == [("hs_da_giai_quyet", "sum")]  # 5 ≠ 3 + 1
    services.report_save(report=ward, values={"hs_da_giai_quyet": 4, "hs_tiep_nhan": 3})
    error = refused("report_invalid", services.report_submit, report=get(period, TAN_DINH))
    assert [(e.field, e.code) for e in error.errors] == [("hs_da_giai_quyet", "lte")]
    services.report_save(report=ward, values={"hs_tiep_nhan": 10, "hs_dung_han": None})
    error = refused("report_invalid", services.report_submit, report=get(period, TAN_DINH))
    assert [(e.field, e.code) for e in error.errors] == [("hs_dung_han", "required")]

    fill(get(period, TAN_DINH), 10, 3, 1)
    refused("report_not_submitted", services.report_approve, report=get(period, TAN_DINH))
    services.report_submit(report=get(period, TAN_DINH), now=at(14))
    refused("report_not_editable", services.report_save, report=get(period, TAN_DINH), values={"hs_tiep_nhan": 11})
    error = refused("reason_required", services.report_return, report=get(period, TAN_DINH), reason="  ")
    assert error.errors[0].field == "reason"
    services.report_approve(report=get(period, TAN_DINH), now=at(15))

    # after approval: no change, no second approval, no reopening without a reason
    refused("report_approved", services.report_save, report=get(period, TAN_DINH), values={"hs_tiep_nhan": 11})
    refused("report_approved", services.report_submit, report=get(period, TAN_DINH))
    refused("reason_required", services.report_reopen, report=get(period, TAN_DINH), reason="")
    reopened = services.report_reopen(report=get(period, TAN_DINH), reason="Bổ sung 1 hồ sơ tiếp nhận muộn")
    assert (reopened.status, reopened.version) == (ReportStatus.REOPENED, 2)
    services.report_save(report=reopened, values={"hs_tiep_nhan": 11})
    assert services.report_submit(report=get(period, TAN_DINH), now=at(16)).values["hs_tiep_nhan"] == 11
    refused("report_not_approved", services.report_reopen, report=get(period, TAN_DINH), reason="lần nữa")


def test_a_period_opens_once_and_for_its_kind(period, template):
    refused("period_open", services.period_open, template=template, key="2024-M03")
    refused("period_kind", services.period_open, template=template, key="2024-Q1")
    refused("period_key", services.period_open, template=template, key="2024-M13")
    error = refused("period_units", services.period_open, template=template, key="2024-M04", unit_codes=["79", "00000"])
    assert "00000" in error.message.en


def test_in_the_two_tier_structure_wards_report_straight_to_the_city(template):
    wards = list(core.unit_list(structure="2025", parent_code="79").order_by("code")[:2])
    codes = [u.code for u in wards]
    period = services.period_open(template=template, key="2025-M09", unit_codes=["79", *codes])
    assert period.structure_key == "2025"
    city = get(period, "79")
    for code, (received, on_time, late) in zip(codes, [(4, 2, 2), (6, 3, 0)], strict=True):
        report = get(period, code)
        assert report.parent_id == city.pk
        assert report.level == "commune"
        assert report.deadline == dt.date(2025, 9, 16)
        fill(report, received, on_time, late)
        services.report_submit(report=get(period, code), now=dt.datetime(2025, 9, 15, tzinfo=HCM))
        services.report_approve(report=get(period, code))
    fill(get(period, "79"), 0, 0, 0)
    city = services.report_submit(report=get(period, "79"), now=dt.datetime(2025, 9, 19, tzinfo=HCM))
    assert city.totals["hs_da_giai_quyet"] == 7
    assert city.totals["ty_le_dung_han"] == "71.43"
    assert city.coverage == {"counted": sorted(["79", *codes]), "missing": []}


def test_the_figures_the_platform_knows_are_prefilled(template, submit, receiver):
    from hcmgov.dossiers import services as dossiers

    dossier, _ = submit()
    dossiers.dossier_receive(dossier=dossier, official=receiver)
    unit = dossier.unit
    key = period_containing(kind="monthly", day=dt.datetime.now(HCM).date())
    period = services.period_open(template=template, key=key, structure=unit.structure.key, unit_codes=[unit.code])
    report = get(period, unit.code)
    assert report.values == {"hs_tiep_nhan": 1, "hs_da_giai_quyet": 0, "hs_dung_han": 0}
    assert sorted(report.prefilled) == ["hs_da_giai_quyet", "hs_dung_han", "hs_tiep_nhan"]
    services.report_save(report=report, values={"hs_tiep_nhan": 5})  # typed over: no longer the platform's
    assert "hs_tiep_nhan" not in get(period, unit.code).prefilled

    # another dossier received after the period opened: a refill reads it, but leaves the typed figure
    services.report_save(report=get(period, unit.code), values={"hs_da_giai_quyet": None})
    second, _ = submit()
    dossiers.dossier_receive(dossier=second, official=receiver)
    refilled = services.report_refill(report=get(period, unit.code))
    assert refilled.values == {"hs_tiep_nhan": 5, "hs_da_giai_quyet": 0, "hs_dung_han": 0}
    assert "hs_da_giai_quyet" in refilled.prefilled


def test_prefilled_figures_follow_the_crosswalk_and_count_finished_dossiers(template, submit, receiver):
    """A dossier received by a 2021 ward, finished on time in the window of 2025-Q3 (cut-off
    15 Jun – 14 Sep 2025, the 2025 structure): counted under the 2025 unit the ward went into."""
    from hcmgov.dossiers import services as dossiers
    from hcmgov.dossiers.models import Dossier

    old = core.unit_list(structure="2021").get(code=TAN_DINH)
    new = core.unit_in_force(unit=old, day=dt.date(2025, 7, 1))
    assert new.structure.key == "2025"
    dossier, _ = submit()
    dossiers.dossier_receive(dossier=dossier, official=receiver)
    Dossier.objects.filter(pk=dossier.pk).update(  # test data: a dossier of the old ward, settled in the window
        unit=old,
        received_at=dt.datetime(2025, 6, 20, 9, tzinfo=HCM),
        finished_at=dt.datetime(2025, 7, 2, 9, tzinfo=HCM),
        timeliness="on_time",
    )
    template.period_kind = "quarterly"
    template.save()
    period = services.period_open(template=template, key="2025-Q3", unit_codes=["79", new.code])
    assert get(period, new.code).values == {"hs_tiep_nhan": 1, "hs_da_giai_quyet": 1, "hs_dung_han": 1}
    assert get(period, "79").values == {"hs_tiep_nhan": 0, "hs_da_giai_quyet": 0, "hs_dung_han": 0}


def test_the_command(template, capsys):
    call_command("reporting", "periods", "--dates", "2024-Q1")
    call_command("reporting", "open", "TTHC-THANG", "2024-M01")
    call_command("reporting", "status", "TTHC-THANG", "2024-M01")
    call_command("reporting", "refill", "TTHC-THANG", "2024-M01")
    call_command("reporting", "late", "TTHC-THANG", "2024-M01")
    call_command("reporting", "periods")
    out = capsys.readouterr().out
    assert "2023-12-15 – 2024-03-14" in out
    assert "opened TTHC-THANG 2024-M01 (2021): 335" in out  # 1 city, 22 district-level, 312 communes
    assert "draft      335" in out
    assert "refilled: 335" in out
    assert "26734" in out  # every unit is late: the deadlines of January 2024 passed
