"""The procedure-level indicators of the service-quality index (1.1, 1.2, 1.3, 3.2) against
values computed by hand.

Two commune People's Committees (A1, A2) and the Department of Justice (D); A1 alone has a
beneficiary account (the national payment platform's bill can be made for its fees). The ministry's
decisions are all of Mon 28 Apr 2025; Wed 30 Apr – Sun 4 May 2025 are days off, so 5 working days
from 28 Apr end Thu 8 May, and 5 working days from Thu 8 May end Thu 15 May.

| procedure | carried out by | fee | parts | decision | 1.1 | on the national DB | 1.2 | desk posting |
|---|---|---|---|---|---|---|---|---|
| P1 | A1, A2 | yes | all | Thu 8 May | on time (last day) | Thu 15 May | on time (last day) | v1, 10 May |
| P2 | A1, A2 | no | no steps | Fri 9 May | late (a day after) | Mon 19 May | late | v1, 12 May |
| P3 | D | yes | all | Tue 6 May | on time | not yet | left out | none: left out of 1.3 |

P1 gets a version 2 from 1 June that the desks never post: at the end of June (and of Q2) the desks
show an out-of-date version. By hand, May 2025 (read at 31 May):
A1: 1.1 = 1/2 → 3; 1.2 = 1/2 → 2; 1.3 = 1/2 → 1; 3.2 = 1/1 → 2. A2: the same but 3.2 = 0/1 → 0.
D: 1.1 = 1/1 → 6; no 1.2; no 1.3; 3.2 = 0/1 → 0. Q2 (read at 30 Jun): 1.3 of A1 = 0/2.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache

from hcmgov.catalog.models import DeskPosting, Publication
from hcmgov.catalog.tests.factories import ProcedureFactory, ProcedureVersionFactory
from hcmgov.core.models import Agency, AgencyKind
from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.payments.models import Beneficiary
from hcmgov.reporting import quality, quality_catalogue

pytestmark = pytest.mark.django_db
VN = ZoneInfo("Asia/Ho_Chi_Minh")
END_OF_JUNE = dt.datetime(2025, 6, 30, 18, tzinfo=VN)
COMPLETE = {"steps": ["Nộp hồ sơ", "Nhận kết quả"], "applicants": ["Công dân Việt Nam"]}
MAY = dt.datetime(2025, 5, 1)


def d(day: int, month: int = 5) -> dt.date:
    return dt.date(2025, month, day)


@pytest.fixture
def city():
    a1, a2 = AgencyFactory(), AgencyFactory()
    dept = AgencyFactory(kind=AgencyKind.DEPARTMENT, department="justice", unit=None, level="city")
    Beneficiary.objects.create(
        agency=a1, account_number="1", account_name="UBND", bank_code="VCB", bank_name="Vietcombank",
        treasury_code="0011", treasury_name="KBNN", valid_from=d(1, 1),
    )  # fmt: skip
    p1 = ProcedureVersionFactory(valid_from=d(1, 1), valid_to=d(31), **COMPLETE)
    ProcedureVersionFactory(procedure=p1.procedure, version=2, valid_from=d(1, 6), **COMPLETE)
    p2 = ProcedureVersionFactory(valid_from=d(1, 1), fees=[], steps=[], applicants=["Công dân"])
    p3 = ProcedureVersionFactory(
        procedure=ProcedureFactory(level="city", agency_kind="department", agency_department="justice"),
        valid_from=d(1, 1), **COMPLETE,
    )  # fmt: skip
    for version, decided, national in ((p1, d(8), d(15)), (p2, d(9), d(19)), (p3, d(6), None)):
        Publication.objects.create(
            procedure=version.procedure, version=version, decision_number=f"{decided.day}/QĐ-UBND",
            decision_date=decided, reference_date=d(28, 4), national_updated_on=national,
        )  # fmt: skip
    DeskPosting.objects.create(procedure=p1.procedure, version=p1, posted_on=d(10))
    DeskPosting.objects.create(procedure=p2.procedure, version=p2, posted_on=d(12))
    cache.clear()
    return {
        "A1": a1.code, "A2": a2.code, "D": dept.code, "a1": a1,
        "P1": p1.procedure.code, "P2": p2.procedure.code, "P3": p3.procedure.code,
    }  # fmt: skip


def figures(counts, code, period=MAY):
    return {k: tuple(v) for (k, p, grp), v in counts.items() if grp == code and p == period}


def test_each_indicator_by_hand(city):
    counts = quality_catalogue.catalogue_counts(period="month", by="agency", as_of=END_OF_JUNE, periods=set())
    assert figures(counts, city["A1"]) == {"1.1": (2, 1), "1.2": (2, 1), "1.3": (2, 1), "3.2": (1, 1)}
    assert figures(counts, city["A2"]) == {"1.1": (2, 1), "1.2": (2, 1), "1.3": (2, 1), "3.2": (1, 0)}
    assert figures(counts, city["D"]) == {"1.1": (1, 1), "3.2": (1, 0)}


def test_the_index_reads_them_with_their_points(city):
    rows = {(r.period, r.key): r for r in quality.service_index(period="month", as_of=END_OF_JUNE)}
    a1 = rows[("2025-05", city["A1"])]
    got = {
        k: (a1.figures[k].denominator, a1.figures[k].numerator, a1.figures[k].points) for k in quality_catalogue.KEYS
    }
    assert got == {"1.1": (2, 1, 3.0), "1.2": (2, 1, 2.0), "1.3": (2, 1, 1.0), "3.2": (1, 1, 2.0)}
    assert a1.group_points(1) == (6.0, 12)  # 1.4 counts nothing without dossiers
    assert rows[("2025-05", city["A2"])].figures["3.2"].points == 0.0
    dept = rows[("2025-05", city["D"])]
    assert (dept.figures["1.1"].points, dept.figures["1.2"].points, dept.figures["1.3"].points) == (6.0, None, None)


def test_a_state_is_read_at_the_periods_end(city):
    rows = {(r.period, r.key): r for r in quality.service_index(period="quarter", as_of=END_OF_JUNE)}
    a1 = rows[("2025-Q2", city["A1"])]
    assert (a1.figures["1.1"].denominator, a1.figures["1.1"].numerator) == (2, 1)  # decisions: summed over months
    # 30 June: P1's version 2 is in force, the desks still show version 1; P2 lacks its steps
    assert (a1.figures["1.3"].denominator, a1.figures["1.3"].numerator) == (2, 0)
    assert (a1.figures["3.2"].denominator, a1.figures["3.2"].numerator) == (1, 1)


def test_a_beneficiary_account_counts_from_its_first_day_not_before(city):
    """3.2 at each period's end: A2's account takes payments from 1 June, so May stays 0/1 and June is 1/1."""
    Beneficiary.objects.create(
        agency=Agency.objects.get(code=city["A2"]), account_number="2", account_name="UBND", bank_code="VCB",
        bank_name="Vietcombank", treasury_code="0011", treasury_name="KBNN", valid_from=d(1, 6),
    )  # fmt: skip
    cache.clear()
    june = dt.datetime(2025, 6, 1)
    counts = quality_catalogue.catalogue_counts(period="month", by="agency", as_of=END_OF_JUNE, periods={june})
    assert figures(counts, city["A2"])["3.2"] == (1, 0)
    assert figures(counts, city["A2"], june)["3.2"] == (1, 1)


def test_a_publication_after_the_moment_read_is_not_counted(city):
    counts = quality_catalogue.catalogue_counts(
        period="month", by="agency", as_of=dt.datetime(2025, 5, 8, 12, tzinfo=VN), periods=set()
    )
    # on 8 May: P1 (8 May) and P3 (6 May) are signed, none is on the national database yet, and the
    # desks post P1 only on the 10th (its desk state unknown: left out of 1.3)
    assert figures(counts, city["A1"]) == {"1.1": (1, 1), "3.2": (1, 1)}
    assert figures(counts, city["D"]) == {"1.1": (1, 1), "3.2": (1, 0)}


def test_by_unit_they_are_not_applicable(city):
    assert quality_catalogue.catalogue_counts(period="month", by="unit", as_of=END_OF_JUNE) == {}
    counted = set(quality._indicators_table("unit").column("indicator").to_pylist())
    assert not counted & set(quality_catalogue.KEYS)
    assert set(quality_catalogue.KEYS) <= set(quality._indicators_table("agency").column("indicator").to_pylist())
    for key in quality_catalogue.KEYS:
        assert quality.UNIT_NOT_APPLICABLE[key] == quality_catalogue.UNIT_PROCEDURES


# --- the drill-down: the procedures behind a figure ------------------------------------------------


def behind(city, indicator, agency, meeting, start=dt.date(2025, 5, 1), period="month"):
    items = quality_catalogue.catalogue_procedures(
        indicator=indicator, key=city[agency], period_start=start, period=period, as_of=END_OF_JUNE, meeting=meeting
    )
    return [(i.procedure_code, i.decision_number, i.misses) for i in items]


def test_the_drill_down_lists_the_procedures_behind_each_figure_by_hand(city):
    p1, p2, p3 = city["P1"], city["P2"], city["P3"]
    # May, A1 (the table above): 1.1 and 1.2 count decisions, P2's is late; P2 lacks its steps
    assert behind(city, "1.1", "A1", True) == [(p1, "8/QĐ-UBND", ())]
    assert behind(city, "1.1", "A1", False) == [(p2, "9/QĐ-UBND", ("published_late",))]
    assert behind(city, "1.2", "A1", True) == [(p1, "8/QĐ-UBND", ())]
    assert behind(city, "1.2", "A1", False) == [(p2, "9/QĐ-UBND", ("updated_late",))]
    assert behind(city, "1.3", "A1", True) == [(p1, "", ())]
    assert behind(city, "1.3", "A1", False) == [(p2, "", ("steps",))]
    # 3.2: only P1 has a fee; A1 has a beneficiary account, A2 none
    assert behind(city, "3.2", "A1", True) == [(p1, "", ())]
    assert behind(city, "3.2", "A1", False) == []
    assert behind(city, "3.2", "A2", False) == [(p1, "", ("no_beneficiary",))]
    assert behind(city, "1.1", "D", True) == [(p3, "6/QĐ-UBND", ())]
    assert behind(city, "1.3", "D", False) == behind(city, "1.3", "D", True) == []  # no desk posting: left out
    # Q2 (read at 30 June): P1's version 2 is in force, the desks still show version 1
    q2 = {"start": dt.date(2025, 4, 1), "period": "quarter"}
    assert behind(city, "1.3", "A1", False, **q2) == [(p1, "", ("desk_outdated",)), (p2, "", ("steps",))]
    assert behind(city, "1.3", "A1", True, **q2) == []


def test_the_two_lists_together_are_the_denominator(city):
    counts = quality_catalogue.catalogue_counts(period="month", by="agency", as_of=END_OF_JUNE, periods={MAY})
    names = {city[k]: k for k in ("A1", "A2", "D")}
    assert {agency for (_, _, agency) in counts} >= set(names)
    for (key, start, agency), (n, ok) in counts.items():
        if agency not in names:  # agencies of the database's own data: not this table's
            continue
        name = names[agency]
        meeting = behind(city, key, name, True, start=start.date())
        missing = behind(city, key, name, False, start=start.date())
        assert (len(meeting) + len(missing), len(meeting)) == (n, ok), (key, start, name)
    with pytest.raises(ValueError, match="no procedure drill-down"):
        quality_catalogue.catalogue_procedures(indicator="2.1", key=city["A1"], period_start=dt.date(2025, 5, 1))


def test_the_drill_page_lists_procedures_with_what_each_misses_in_vietnamese_first(client, city):
    from django.urls import reverse
    from django.utils.html import escape

    from hcmgov.identity.tests.factories import RoleAssignmentFactory

    client.force_login(RoleAssignmentFactory(agency=city["a1"], role="leader").user)
    url = reverse("dashboard_drill", args=[city["A1"], "1.3"]) + "?period=month&p=2025-05"
    html = client.get(url).content.decode()
    assert re.findall(r'data-procedure="(.*?)"', html) == [city["P2"]]
    assert "thiếu «Trình tự thực hiện»" in html
    assert f'href="{reverse("web:procedure", args=[city["P2"]])}"' in html
    formula = re.search(r'<p class="small" id="drill-formula">(.*?)</p>', html, re.S).group(1)
    assert escape(quality.BY_KEY["1.3"].formula_vi) in formula  # Vietnamese on the Vietnamese page
    assert quality.BY_KEY["1.3"].formula not in html
    assert "— 1 / 2" in formula
    meeting = client.get(url + "&meeting=1").content.decode()
    assert re.findall(r'data-procedure="(.*?)"', meeting) == [city["P1"]]
    decisions = client.get(reverse("dashboard_drill", args=[city["A1"], "1.1"]) + "?period=month&p=2025-05")
    assert "9/QĐ-UBND" in decisions.content.decode()
    assert "công bố quá hạn" in decisions.content.decode()
    # the agency page links the procedure-level figures to their lists
    agency_page = client.get(reverse("dashboard_agency", args=[city["A1"]]) + "?period=month&p=2025-05")
    assert f'href="{reverse("dashboard_drill", args=[city["A1"], "1.3"])}?' in agency_page.content.decode()


# --- 1.3 from the national database's texts, end to end -------------------------------------------


def test_the_texts_synced_from_the_national_database_make_1_3_measure_them(tmp_path):
    """One commune People's Committee, one procedure whose version holds every part but the two the
    national database publishes (steps, applicants), posted at the desks on 10 May 2025. By hand, at
    the end of May: before the sync 1.3 = 0/1; the database publishes both, after the sync 1/1;
    a second sync changes nothing; the database stops publishing the applicants: 0/1 again."""
    import json
    import urllib.request

    from hcmgov.catalog import services as catalog_services
    from hcmgov.catalog.adapters import tthc
    from hcmgov.simulators import running
    from hcmgov.simulators.tthc import API_KEY

    agency = AgencyFactory()
    version = ProcedureVersionFactory(valid_from=d(1, 1), steps=[], applicants=[])
    DeskPosting.objects.create(procedure=version.procedure, version=version, posted_on=d(10))
    code = version.procedure.code
    end_of_may = dt.datetime(2025, 5, 31, 18, tzinfo=VN)

    def figure():
        counts = quality_catalogue.catalogue_counts(period="month", by="agency", as_of=end_of_may, periods={MAY})
        return tuple(counts[("1.3", MAY, agency.code)])

    def publish(**texts):
        body = {"upsert": [{"code": code, "name": "Thủ tục", "publications": [], **texts}]}
        request = urllib.request.Request(  # noqa: S310 - the loopback simulator
            base + "/_sim/procedures", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 - the loopback simulator

    assert figure() == (1, 0)
    with running("tthc", directory=tmp_path) as base:  # an empty seed: only what the test publishes
        cfg = tthc.Config(base_url=base, api_key=API_KEY, agency="H29", timeout=5)
        publish(steps=["Bước 1: Nộp hồ sơ", "Bước 2: Nhận kết quả"], applicants=["Công dân Việt Nam"])
        assert catalog_services.publications_sync(cfg=cfg)["texts_updated"] == 1
        assert figure() == (1, 1)
        assert catalog_services.publications_sync(cfg=cfg)["texts_unchanged"] == 1
        assert figure() == (1, 1)
        publish(steps=["Bước 1: Nộp hồ sơ", "Bước 2: Nhận kết quả"], applicants=[])
        catalog_services.publications_sync(cfg=cfg)
        assert figure() == (1, 0)
