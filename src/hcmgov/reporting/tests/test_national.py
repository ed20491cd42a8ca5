"""The city's approved report sent over HTTP to the national reporting system's simulator: through
the outbox, once; after the system was down, by a retry; a duplicate send changes nothing there;
a reopened and re-approved report goes again as version 2; a refused one goes dead."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from hcmgov import simulators
from hcmgov.core.services import outbox_deliver
from hcmgov.reporting import national, selectors, services
from hcmgov.reporting.models import ExportState, NationalExport
from hcmgov.simulators.reporting import TOKEN

pytestmark = pytest.mark.django_db

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
LATER = dt.timedelta(days=3)  # past any back-off
WARD = "26734"


@pytest.fixture
def sim(settings) -> Iterator[str]:
    with simulators.running("reporting") as url:
        settings.REPORTING_NATIONAL_URL = url
        settings.REPORTING_NATIONAL_TOKEN = TOKEN
        settings.REPORTING_NATIONAL_TIMEOUT = 2.0
        yield url


def sim_call(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    request = urllib.request.Request(url + path, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
    with _OPENER.open(request, timeout=5) as response:
        return json.loads(response.read())


def approved_city(template):
    """March 2024 for the city and one ward: the ward's report approved, then the city's."""
    period = services.period_open(template=template, key="2024-M03", unit_codes=["79", WARD])
    values = {"hs_tiep_nhan": 12, "hs_da_giai_quyet": 8, "hs_dung_han": 6, "hs_qua_han": 2}
    ward = selectors.report_get(period=period, unit_code=WARD)
    services.report_save(report=ward, values=values)
    services.report_approve(report=services.report_submit(report=ward))
    city = selectors.report_get(period=period, unit_code="79")
    services.report_save(report=city, values={**values, "hs_tiep_nhan": 8})
    return services.report_approve(report=services.report_submit(report=city))


def test_an_approved_city_report_reaches_the_system_once_even_after_it_was_down(sim, template):
    sim_call(sim, "/_sim/mode", {"mode": "down"})
    city = approved_city(template)
    outbox_deliver()
    outbox_deliver()  # the event delivered again (at least once): still one export
    assert NationalExport.objects.count() == 1
    export = NationalExport.objects.get()
    assert export.key == "TTHC-THANG:2024-M03:79:v1"
    assert export.payload["values"] == {
        "hs_tiep_nhan": 20, "hs_da_giai_quyet": 16, "hs_dung_han": 12, "hs_qua_han": 4, "ty_le_dung_han": "75.00",
    }  # fmt: skip

    done = national.national_export_send()
    assert (done.sent, done.failed) == (0, 1)
    export.refresh_from_db()
    assert export.state == ExportState.PENDING
    assert export.attempts == 1
    assert "503" in export.last_error
    assert national.national_export_send().sent == 0  # backing off: not due yet

    sim_call(sim, "/_sim/mode", {"mode": "ok"})
    done = national.national_export_send(now=timezone.now() + LATER)
    assert (done.sent, done.duplicates) == (1, 0)
    export.refresh_from_db()
    assert export.state == ExportState.SENT
    assert export.attempts == 2
    assert export.remote_id
    held = sim_call(sim, "/api/reports/TTHC-THANG/2024-M03/79")
    assert held["values"]["ty_le_dung_han"] == "75.00"
    assert held["versions"] == [1]

    # a duplicate send (a worker killed before recording the send) changes nothing there
    NationalExport.objects.filter(pk=export.pk).update(state=ExportState.PENDING)
    done = national.national_export_send(now=timezone.now() + LATER)
    assert (done.sent, done.duplicates) == (1, 1)
    stats = sim_call(sim, "/_sim/stats")
    assert (stats["accepted"], stats["duplicates"], stats["reports"]) == (1, 1, [export.key])

    # reopened with a reason, corrected, approved again: version 2 goes too
    city = services.report_reopen(report=city, reason="Sửa số tiếp nhận")
    services.report_save(report=city, values={"hs_tiep_nhan": 9})
    services.report_approve(report=services.report_submit(report=city))
    outbox_deliver()
    assert national.national_export_send().sent == 1
    held = sim_call(sim, "/api/reports/TTHC-THANG/2024-M03/79")
    assert held["version"] == 2
    assert held["values"]["hs_tiep_nhan"] == 21
    assert held["versions"] == [1, 2]


def test_a_report_the_system_refuses_goes_dead(sim, template, caplog):
    approved_city(template)
    outbox_deliver()
    NationalExport.objects.update(payload={"key": "x"})  # a payload the system refuses (400)
    done = national.national_export_send()
    assert done.dead == 1
    export = NationalExport.objects.get()
    assert export.state == ExportState.DEAD
    assert "400" in export.last_error
    assert "not delivered" in caplog.text


def test_nothing_is_queued_while_the_connector_is_off(settings, template):
    settings.REPORTING_NATIONAL_URL = ""
    approved_city(template)
    outbox_deliver()
    assert not NationalExport.objects.exists()
    assert national.national_export_send().sent == 0


def test_a_ward_report_is_not_sent(sim, template):
    approved_city(template)
    outbox_deliver()
    assert list(NationalExport.objects.values_list("report__unit_code", flat=True)) == ["79"]
