"""The register of periodic reporting regimes and the plan's target read from it ("periodic reports
made on the reporting system", 80 %), against values computed by hand; the seeded register; the
reports due and sent per period; the register's page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from hcmgov.identity.tests.factories import RoleAssignmentFactory
from hcmgov.reporting import regimes, targets
from hcmgov.reporting.models import Period, Report, ReportingRegime, ReportTemplate

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 4, 10)
ALL = ["commune", "district", "city"]


def regime(code: str, *, channel: str = "paper", template: str = "", levels=None, start=dt.date(2021, 1, 1),
           end=None) -> ReportingRegime:  # fmt: skip
    return ReportingRegime.objects.create(
        code=code, name=f"Báo cáo {code}", name_en=f"Report {code}", legal_basis="Nghị định 09/2019/NĐ-CP",
        issuing_body="UBND Thành phố", frequency="quarterly", levels=levels or ALL, channel=channel,
        template_code=template, valid_from=start, valid_to=end,
    )  # fmt: skip


@pytest.fixture
def register(template):
    """In force on 10 Apr 2026: A (on the system, all levels), B (meant for the system but its
    template is not on the platform: outside; district and city), C (on paper; city). Not in force:
    D (ended 2025; commune) and E (from 2027; city).

    By hand: city 1 of 3 (A); city level A, B, C → 1/3; district A, B → 1/2; commune A → 1/1."""
    ReportingRegime.objects.all().delete()  # the seeded sample rows
    regime("A", channel="system", template=template.code)
    regime("B", channel="system", template="KHONG-CO", levels=["district", "city"])
    regime("C", levels=["city"])
    regime("D", channel="email", levels=["commune"], end=dt.date(2025, 12, 31))
    regime("E", levels=["city"], start=dt.date(2027, 1, 1))
    return template


def test_the_target_is_regimes_on_the_system_over_regimes_in_force(register):
    got = {(v.scope, v.key): (v.numerator, v.denominator) for v in targets.periodic_reports_on_system(day=DAY)}
    assert got == {("city", ""): (1, 3), ("level", "city"): (1, 3), ("level", "district"): (1, 2),
                   ("level", "commune"): (1, 1)}  # fmt: skip
    [city] = [v for v in targets.periodic_reports_on_system(day=DAY) if v.scope == "city"]
    assert (round(city.rate, 4), city.goal, city.met) == (0.3333, 0.8, False)
    # D in force in 2025: commune 2 of 2 regimes then, 1 on the system
    old = {(v.scope, v.key): (v.numerator, v.denominator)
           for v in targets.periodic_reports_on_system(day=dt.date(2025, 6, 1))}  # fmt: skip
    assert old[("level", "commune")] == (1, 2)


def test_the_target_is_measurable_on_the_dashboard_and_not_without_a_register(register):
    report = {r.target.key: r for r in targets.plan_targets()}["reports_online"]
    assert report.measurable
    assert report.values
    ReportingRegime.objects.all().delete()
    with pytest.raises(targets.NotMeasurableError):
        targets.periodic_reports_on_system(day=DAY)
    report = {r.target.key: r for r in targets.plan_targets()}["reports_online"]
    assert not report.measurable
    assert "danh mục" in report.reason_vi


def test_the_seeded_register_is_sample_data_with_the_platform_template_linked(template):
    seeded = {r.code: r for r in ReportingRegime.objects.filter(sample=True)}
    assert len(seeded) == 7
    on_system = [r for r in regimes.regime_list(day=DAY) if regimes.regime_on_system(r)]
    assert [r.code for r in on_system] == ["TTHC-THANG"]  # the demo template is loaded (fixture)
    assert {r.channel for r in seeded.values()} == {"system", "paper", "email", "other_system"}
    assert all(r.legal_basis and r.issuing_body and r.levels for r in seeded.values())


def test_a_regime_on_the_system_needs_a_template_and_one_outside_none():
    bad = ReportingRegime(code="X", name="x", name_en="x", legal_basis="x", issuing_body="x", frequency="yearly",
                          levels=["city"], channel="system", template_code="", valid_from=DAY)  # fmt: skip
    with pytest.raises(ValidationError):
        bad.full_clean()
    bad.channel, bad.template_code = "paper", "TTHC-THANG"
    with pytest.raises(ValidationError):
        bad.full_clean()
    bad.template_code = ""
    bad.full_clean()


def _report(period: Period, unit: str, deadline: dt.date, sent: dt.date | None, late: bool = False) -> Report:
    at = dt.datetime.combine(sent, dt.time(9), tzinfo=dt.UTC) if sent else None
    return Report.objects.create(period=period, unit_code=unit, unit_name=unit, level="commune", deadline=deadline,
                                 first_submitted_at=at, submitted_at=at, late=late)  # fmt: skip


def _period(template: ReportTemplate, key: str) -> Period:
    return Period.objects.create(
        template=template, key=key, structure_key="2025", cutoff_start=dt.date(2026, 3, 1),
        cutoff_end=dt.date(2026, 3, 31), opened_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
    )  # fmt: skip


def test_reports_sent_on_the_system_against_reports_due_per_period(register):
    """March 2026 of A's template: u1 sent on time, u2 sent late, u3 not sent (all due 5 Apr), u4
    due 20 Apr (not due on 10 Apr) → due 3, sent 2, on time 1. A template no regime links is left out."""
    period = _period(register, "2026-03")
    _report(period, "u1", dt.date(2026, 4, 5), dt.date(2026, 4, 3))
    _report(period, "u2", dt.date(2026, 4, 5), dt.date(2026, 4, 7), late=True)
    _report(period, "u3", dt.date(2026, 4, 5), None)
    _report(period, "u4", dt.date(2026, 4, 20), None)
    other = ReportTemplate.objects.create(code="KHAC", name="Khác", name_en="Other", period_kind="monthly",
                                          levels=["commune"])  # fmt: skip
    _report(_period(other, "2026-03"), "u1", dt.date(2026, 4, 5), None)
    [row] = regimes.report_submissions(today=DAY)
    assert (row.template, row.period, row.due, row.sent, row.sent_on_time) == (register.code, "2026-03", 3, 2, 1)
    assert round(row.rate, 4) == 0.6667


def test_the_register_page(client, register, agency):
    client.force_login(RoleAssignmentFactory(agency=agency, role="leader").user)
    html = re.sub(r"\s+", " ", client.get(reverse("dashboard_regimes")).content.decode())
    assert 'data-regime="A" data-on-system="1"' in html
    assert 'data-regime="B" data-on-system="0"' in html
    assert "Mẫu chưa có trên hệ thống" in html
    assert "hết hiệu lực" in html  # D and E are listed, marked
    assert "Chế độ báo cáo định kỳ của Thành phố" in html
    assert "33,3 %" in html
    assert "1 / 3" in html
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert 'data-target="reports_online">' in dashboard
