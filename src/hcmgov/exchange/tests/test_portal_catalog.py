"""The national procedure catalogue over HTTP against the portal's simulator: the sync reports
procedures added, changed and removed there; brings the city's procedures in line where the
national side decides (the name, a shorter processing time: a new version, audited) and reports
the rest (a longer time, other fees); ``--report-only`` changes nothing of the city's; a portal that
is down or answers garbage or malformed entries changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from hcmgov import simulators
from hcmgov.audit.models import AuditEvent
from hcmgov.catalog import selectors as catalog
from hcmgov.common.errors import DomainError
from hcmgov.exchange import portal_catalog
from hcmgov.exchange.models import PortalProcedure
from hcmgov.exchange.tests.test_portal import mode, sim_call
from hcmgov.simulators.portal import TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim(settings) -> Iterator[str]:
    with simulators.running("portal") as url:
        settings.HCMGOV_PORTAL_URL = url
        settings.HCMGOV_PORTAL_TOKEN = TOKEN
        settings.HCMGOV_PORTAL_TIMEOUT = 1.0
        yield url


def test_the_catalogue_sync_reports_added_changed_and_removed(sim):
    first = portal_catalog.portal_catalog_sync()
    assert first.total >= 30
    assert len(first.added) == first.total
    assert (first.changed, first.removed) == ([], [])
    assert PortalProcedure.objects.count() == first.total
    old_name = PortalProcedure.objects.get(code="1.000656").name
    sim_call(
        sim,
        "/_sim/catalog",
        {
            "upsert": [
                {"code": "9.999999", "name": "Thủ tục thử", "level": "city", "processing_days": 5, "fees": []},
                {"code": "1.000656", "name": "Đăng ký khai tử (sửa đổi)", "processing_days": 2},
            ],
            "remove": ["1.000894"],
        },
    )

    report = portal_catalog.portal_catalog_sync()

    assert report.added == ["9.999999"]
    assert report.removed == ["1.000894"]
    assert report.changed == [
        {"code": "1.000656", "fields": {"name": [old_name, "Đăng ký khai tử (sửa đổi)"], "processing_days": [0, 2]}}
    ]
    assert "9.999999" in report.not_in_city
    assert PortalProcedure.objects.get(code="1.000894").removed_at is not None
    again = portal_catalog.portal_catalog_sync()
    assert (again.added, again.changed, again.removed) == ([], [], [])
    sim_call(sim, "/_sim/catalog", {"upsert": [{"code": "1.000894", "name": "Trở lại"}]})
    assert portal_catalog.portal_catalog_sync().added == ["1.000894"]  # listed again: added again


def test_the_sync_brings_the_city_catalogue_in_line_where_the_national_side_decides(sim, version):
    procedure = version.procedure
    assert procedure.statutory_days == 3
    national = {"code": procedure.code, "name": "Tên quốc gia", "processing_days": 2}
    national["fees"] = [{"code": "LEPHI", "name": "Lệ phí", "amount": 10000}]
    sim_call(sim, "/_sim/catalog", {"upsert": [national]})

    report = portal_catalog.portal_catalog_sync()

    applied = next(a for a in report.applied if a["code"] == procedure.code)
    assert applied["fields"] == {"name": [procedure.name, "Tên quốc gia"], "processing_days": [3, 2]}
    procedure.refresh_from_db()
    assert (procedure.name, procedure.statutory_days) == ("Tên quốc gia", 2)
    assert "ten quoc gia" in procedure.search_text
    newest = procedure.versions.order_by("-version").first()
    assert newest is not None
    assert (newest.version, newest.statutory_days, newest.fees) == (version.version + 1, 2, version.fees)
    version.refresh_from_db()
    assert version.valid_to is not None  # the dossiers submitted under it keep it, with its time
    assert version.statutory_days == 3
    assert catalog.procedure_version_in_force(procedure=procedure, day=newest.valid_from) == newest
    difference = next(d for d in report.city_differences if d["code"] == procedure.code)
    assert difference["fields"] == {"fees": [{"LEPHI": 8000}, {"LEPHI": 10000}]}  # fees: the city's to decide
    assert AuditEvent.objects.filter(action="catalog.procedure_national_apply").count() == 1

    again = portal_catalog.portal_catalog_sync()
    assert not any(a["code"] == procedure.code for a in again.applied)
    assert AuditEvent.objects.filter(action="catalog.procedure_national_apply").count() == 1


def test_a_longer_national_time_is_left_to_the_city(sim, version):
    procedure = version.procedure
    sim_call(
        sim, "/_sim/catalog", {"upsert": [{"code": procedure.code, "name": procedure.name, "processing_days": 99}]}
    )
    report = portal_catalog.portal_catalog_sync()
    assert not any(a["code"] == procedure.code for a in report.applied)
    difference = next(d for d in report.city_differences if d["code"] == procedure.code)
    assert difference["fields"] == {"processing_days": [3, 99]}
    assert procedure.versions.count() == 1


def test_report_only_leaves_the_city_catalogue_as_it_is(sim, version, capsys):
    from django.core.management import call_command

    procedure = version.procedure
    sim_call(sim, "/_sim/catalog", {"upsert": [{"code": procedure.code, "name": "Tên quốc gia", "processing_days": 1}]})
    call_command("portal", "sync-catalog", "--report-only")
    report = json.loads(capsys.readouterr().out)
    assert report["applied"] == []
    difference = next(d for d in report["city_differences"] if d["code"] == procedure.code)
    assert difference["fields"]["name"] == [procedure.name, "Tên quốc gia"]
    assert difference["fields"]["processing_days"] == [3, 1]
    procedure.refresh_from_db()
    assert (procedure.name, procedure.statutory_days) == (version.procedure.name, 3)
    assert not AuditEvent.objects.filter(action="catalog.procedure_national_apply").exists()


@pytest.mark.parametrize("misbehaviour", ["garbage", "down"])
def test_a_failed_catalogue_sync_changes_nothing(sim, misbehaviour):
    portal_catalog.portal_catalog_sync()
    before = PortalProcedure.objects.count()
    sim_call(sim, "/_sim/catalog", {"remove": ["1.000894"]})
    mode(sim, misbehaviour)
    with pytest.raises(DomainError) as info:
        portal_catalog.portal_catalog_sync()
    assert info.value.code == "portal_unavailable"
    assert PortalProcedure.objects.filter(removed_at__isnull=True).count() == before


def test_a_malformed_catalogue_entry_changes_nothing(sim):
    sim_call(sim, "/_sim/catalog", {"upsert": [{"code": "9.999998", "name": 12}]})
    with pytest.raises(DomainError):
        portal_catalog.portal_catalog_sync()
    assert not PortalProcedure.objects.exists()
