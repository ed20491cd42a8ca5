# ruff: noqa: F811 - the fixtures imported from other tests are parameters of the tests
"""Indicators 4.2 (digitised dossier components) and 4.3 (electronic certified copies) of the
service-quality index against values computed by hand.

4.2, May 2026, one agency, the factory's procedure (TOKHAI required and handed in; KHAC optional).
Dossiers submitted through the platform carry a file for every required document (the submission
refuses them otherwise), so the paper dossiers of the desk are made by removing that file, as a
dossier received on paper (or imported) has none:

| dossier | channel | received | TOKHAI held electronically | counted | digitised |
|---|---|---|---|---|---|
| b1 | online | yes | uploaded | yes | yes |
| b2 | in person | yes | scanned at the desk | yes | yes |
| b3 | in person | yes | no | yes | no |
| b4 | in person | yes | scanned, then the scan revoked | yes | no |
| b5 | in person | no | — | no | — |

4.2 = 2 of 4 → 4 × 2/4 = 2.0; after the desk scans b3 (an incremental refresh): 3 of 4 → 3.0.

4.3, certifications at the agency: 30 May paper, 31 May 23:30 (city) electronic, 31 May paper,
1 June 00:30 (city; still 31 May in UTC) electronic. May: 1 of 3 → 2 × 1/3 = 0.6667; June: 1 of 1
→ 2.0.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache

from hcmgov.documents import certification, desk, selectors
from hcmgov.documents.models import Component, ComponentState
from hcmgov.documents.tests.signing_fixtures import no_tsa, pki_folder  # noqa: F401 - fixtures
from hcmgov.dossiers import services as dossiers
from hcmgov.dossiers.models import Channel, Dossier, DossierDocument, DossierStep, StepState
from hcmgov.identity.tests.factories import RoleAssignmentFactory
from hcmgov.reporting import quality, quality_certification
from hcmgov.warehouse import services as warehouse

pytestmark = pytest.mark.django_db
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: int, hour: int = 9, month: int = 5) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=VN)


@pytest.fixture
def receiver(agency):
    return RoleAssignmentFactory(agency=agency, role="receiver").user


def _receive(dossier: Dossier, official, now: dt.datetime) -> Dossier:
    step = DossierStep.objects.get(dossier=dossier, state=StepState.OPEN)
    with time_machine.travel(now, tick=False):
        return dossiers.dossier_act(dossier=dossier, official=official, step_id=step.pk, action="receive", now=now)


@pytest.fixture
def may(submit, receiver, settings, pdf_bytes):
    settings.WAREHOUSE_OVERLAP_SECONDS = 0
    made: dict[str, Dossier] = {}
    for key, channel in (("b1", Channel.ONLINE), ("b2", Channel.IN_PERSON), ("b3", Channel.IN_PERSON),
                         ("b4", Channel.IN_PERSON), ("b5", Channel.IN_PERSON)):  # fmt: skip
        with time_machine.travel(at(4, 8), tick=False):
            made[key], _ = submit(now=at(4, 8), idempotency_key=key, channel=channel)
        if key != "b5":
            made[key] = _receive(made[key], receiver, at(4, 9))
        if channel == Channel.IN_PERSON:
            DossierDocument.objects.filter(dossier=made[key]).delete()  # received on paper: no file
    for key in ("b2", "b4"):
        desk.desk_component_scan(
            official=receiver, dossier=made[key], requirement="TOKHAI", filename="to-khai.pdf", data=pdf_bytes
        )
    Component.objects.filter(source_dossier_code=made["b4"].code).update(state=ComponentState.REVOKED)
    warehouse.warehouse_refresh()
    cache.clear()
    return made


def _figure(key: str, agency, period: str = "2026-05", month: int = 5):
    rows = quality.service_index(period="month", as_of=at(28, 12, month=month + 1), use_cache=False)
    [row] = [r for r in rows if r.period == period and r.key == agency.code]
    figure = row.figures[key]
    return figure.denominator, figure.numerator, figure.points


def test_4_2_against_the_value_computed_by_hand(may, agency):
    assert quality.BY_KEY["4.2"].measurable
    assert quality.BY_KEY["4.3"].measurable
    assert _figure("4.2", agency) == (4, 2, 2.0)
    missing = quality.index_dossiers(indicator="4.2", key=agency.code, period_start=dt.date(2026, 5, 1))
    assert missing == sorted([may["b3"].code, may["b4"].code])
    digitised = quality.index_dossiers(indicator="4.2", key=agency.code, period_start=dt.date(2026, 5, 1), meeting=True)
    assert digitised == sorted([may["b1"].code, may["b2"].code])


def test_a_desk_scan_rewrites_only_its_dossiers_month_and_moves_4_2(may, agency, receiver, pdf_bytes):
    assert selectors.warehouse_digitised_changed(since=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) >= {may["b2"].code}
    rows = [r for r in desk.dossier_desk_rows(dossier=may["b3"]) if r.component]
    assert [(r.code, r.how) for r in rows] == [("TOKHAI", "")]
    desk.desk_component_scan(
        official=receiver, dossier=may["b3"], requirement="TOKHAI", filename="to-khai.pdf", data=pdf_bytes
    )
    refreshed = {t.table: t for t in warehouse.warehouse_refresh()}
    assert refreshed["dossiers"].status != "failed"
    cache.clear()
    assert _figure("4.2", agency) == (4, 3, 3.0)


def test_the_desk_refuses_what_is_not_a_component_or_already_held(may, receiver, pdf_bytes):
    from hcmgov.common.errors import DomainError

    for requirement, code in (("KHAC", "unknown_document"), ("NOPE", "unknown_document")):
        with pytest.raises(DomainError) as caught:
            desk.desk_component_scan(
                official=receiver, dossier=may["b3"], requirement=requirement, filename="a.pdf", data=pdf_bytes
            )
        assert caught.value.code == code
        assert caught.value.status == 422
    with pytest.raises(DomainError) as caught:
        desk.desk_component_scan(
            official=receiver, dossier=may["b1"], requirement="TOKHAI", filename="a.pdf", data=pdf_bytes
        )
    assert caught.value.code == "already_digitised"
    assert "Thu hồi" in caught.value.message.vi
    assert "Revoke" in caught.value.message.en
    assert not Component.objects.filter(source_dossier_code__in=[may["b1"].code, may["b3"].code]).exists()


def test_4_3_against_the_value_computed_by_hand(agency, pki_folder, no_tsa, png_bytes):
    from hcmgov.documents import pki

    with time_machine.travel(at(1, 8, month=4), tick=False):  # in force from April
        pki.certificate_issue_demo(agency_id=agency.pk)
    official = RoleAssignmentFactory(agency=agency, role="leader").user
    paper = certification.CertificationInput(requester_name="An", document_title="Giấy khai sinh", pages=1, copies=1)
    scan = certification.CertificationInput(requester_name="Bình", document_title="Bằng tốt nghiệp")
    for kind, moment in (("paper", at(30)), ("electronic", at(31, 23)), ("paper", at(31, 22)),
                         ("electronic", dt.datetime(2026, 6, 1, 0, 30, tzinfo=VN))):  # fmt: skip
        certification.certification_record(
            official=official, agency_id=agency.pk, kind=kind, given=scan if kind == "electronic" else paper,
            original=png_bytes if kind == "electronic" else b"", filename="ban-chinh.png", now=moment,
        )  # fmt: skip
    assert quality_certification.SCHEMA == quality.PARTS_SCHEMA
    warehouse.warehouse_refresh()  # no dossier: the warehouse's tables exist, empty
    cache.clear()
    table = quality.service_index_table(period="month", use_cache=False)
    got = {(r["period"], r["indicator"]): (r["denominator"], r["numerator"], r["points"])
           for r in table.to_pylist() if r["key"] == agency.code and r["indicator"] == "4.3"}  # fmt: skip
    assert got == {("2026-05", "4.3"): (3, 1, round(2 / 3, 4)), ("2026-06", "4.3"): (1, 1, 2.0)}
    quarter = quality.service_index_table(period="quarter", use_cache=False).to_pylist()
    [q2] = [r for r in quarter if r["key"] == agency.code and r["indicator"] == "4.3"]
    assert (q2["period"], q2["denominator"], q2["numerator"]) == ("2026-Q2", 4, 2)
    by_unit = quality.service_index_table(period="month", by="unit", use_cache=False).to_pylist()
    unit = agency.unit.code if agency.unit_id else ""
    assert [(r["denominator"], r["numerator"]) for r in by_unit
            if r["key"] == unit and r["indicator"] == "4.3" and r["period"] == "2026-05"] == [(3, 1)]  # fmt: skip
