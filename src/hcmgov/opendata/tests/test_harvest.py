"""Harvesting without a live source: which sources are due, the command's report, and how a DCAT
catalogue written by another portal (any of the three serialisations) maps to our datasets."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from hcmgov.opendata import dcat, harvest
from hcmgov.opendata.harvest_dcat import dcat_records
from hcmgov.opendata.models import HarvestSource
from hcmgov.opendata.tests import factories as f

pytestmark = pytest.mark.django_db

NOWHERE = "http://127.0.0.1:9/"  # the discard port: refused at once

FOREIGN = """
@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix vcard: <http://www.w3.org/2006/vcard/ns#> . @prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<https://data.example.eu/catalog> a dcat:Catalog ; dcat:dataset <https://data.example.eu/dataset/bus-stops>, [] .
<https://data.example.eu/dataset/bus-stops> a dcat:Dataset ;
  dct:title "Bus stops"@en, "Trạm xe buýt"@vi ; dct:description "All stops."@en ;
  dcat:keyword "bus"@en, "transport"@en ; dct:modified "2024-03-01T10:00:00Z"^^xsd:dateTime ;
  dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/WEEKLY> ;
  dct:language <http://publications.europa.eu/resource/authority/language/ENG> ;
  dct:publisher [ a foaf:Organization ; foaf:name "Transport Agency"@en ] ;
  dcat:contactPoint [ a vcard:Organization ; vcard:fn "Open data team" ; vcard:hasEmail <mailto:open@example.eu> ] ;
  dct:temporal [ a dct:PeriodOfTime ; dcat:startDate "2020-01-01"^^xsd:date ] ;
  dcat:landingPage <https://data.example.eu/dataset/bus-stops> ;
  dcat:distribution [ a dcat:Distribution ; dct:title "Stops (CSV)"@en ;
      dcat:accessURL <https://data.example.eu/stops.csv> ;
      dct:format <http://publications.europa.eu/resource/authority/file-type/CSV> ;
      dcat:mediaType <https://www.iana.org/assignments/media-types/text/csv> ;
      dct:license <http://www.opendefinition.org/licenses/cc-by> ] .
[] a dcat:Dataset ; dct:title "No identifier" .
"""


def _serve(pages):
    def fetch(url, *, accept, timeout=0):
        if url not in pages:
            return 404, "text/plain", b""
        return 200, pages[url][1], pages[url][0]

    return fetch


def test_a_foreign_dcat_catalogue_maps_to_ckan_fields():
    fetch = _serve({"https://data.example.eu/catalog": (FOREIGN.encode(), "text/turtle")})
    records, skipped = dcat_records(
        "https://data.example.eu/catalog", fetch=fetch, error=harvest.HarvestError, max_pages=5
    )
    assert [s["reason"] for s in skipped] == ["không có dct:identifier / no dct:identifier"]
    (record,) = records
    assert record.guid == "https://data.example.eu/dataset/bus-stops"  # no dct:identifier: the URI
    assert (record.name_hint, record.modified, record.organization) == (
        "bus-stops", "2024-03-01T10:00:00+00:00", "Transport Agency"
    )  # fmt: skip
    data = record.data
    assert (data["title"], data["title_en"], data["notes_en"]) == ("Trạm xe buýt", "Bus stops", "All stops.")
    assert (data["frequency"], data["language"], data["temporal_start"]) == ("WEEKLY", "en", "2020-01-01")
    assert (data["maintainer"], data["maintainer_email"]) == ("Open data team", "open@example.eu")
    assert data["tags"] == ["bus", "transport"]
    assert data["license_id"] == "cc-by"
    assert data["resources"] == [
        {
            "name": "Stops (CSV)",
            "name_en": "Stops (CSV)",
            "url": "https://data.example.eu/stops.csv",
            "format": "CSV",
            "mimetype": "text/csv",
        }
    ]


@pytest.mark.parametrize("fmt", ["jsonld", "rdf"])
def test_our_catalogue_reads_back_in_every_serialisation(fmt, monkeypatch):
    monkeypatch.setattr(dcat, "PAGE_SIZE", 1)
    org = f.organization()
    one, two = f.dataset(org, name="mot", frequency="DAILY"), f.dataset(org, name="hai")
    pages = {}
    for number in (1, 2):
        graph, _ = dcat.catalog_page(number=number, base=f"https://src.vn/catalog.{fmt}")
        pages[f"https://src.vn/catalog.{fmt}?page={number}"] = (dcat.serialize(graph, fmt), dcat.FORMATS[fmt][1])
    records, skipped = dcat_records(
        f"https://src.vn/catalog.{fmt}?page=1", fetch=_serve(pages), error=harvest.HarvestError, max_pages=5
    )
    assert skipped == []
    assert {r.guid: r.name_hint for r in records} == {str(one.id): "mot", str(two.id): "hai"}
    assert next(r for r in records if r.guid == str(one.id)).data["frequency"] == "DAILY"


def test_the_sources_that_are_due_run(django_capture_on_commit_callbacks):
    from hcmgov.opendata.tasks import harvest_due

    org = f.organization()
    now = timezone.now()
    made = {
        name: HarvestSource.objects.create(
            name=name, title=name, url=NOWHERE, kind="ckan", organization=org, frequency_hours=24, **kw
        )
        for name, kw in (
            ("chua-chay", {}),
            ("den-han", {"last_run_at": now - dt.timedelta(hours=25)}),
            ("chua-den-han", {"last_run_at": now - dt.timedelta(hours=2)}),
            ("tam-dung", {"active": False}),
        )
    }
    assert harvest_due() == 2
    ran = {name for name, s in made.items() if HarvestSource.objects.get(pk=s.pk).last_report}
    assert ran == {"chua-chay", "den-han"}
    report = HarvestSource.objects.get(name="den-han").last_report
    assert report["ok"] is False
    assert "Could not reach the source" in report["error"]["en"]


def test_the_command_says_why_a_source_failed(capsys):
    HarvestSource.objects.create(name="hong", title="Hỏng", url=NOWHERE, kind="dcat", organization=f.organization())
    with pytest.raises(CommandError, match="1 nguồn thất bại / 1 source"):
        call_command("opendata", "harvest", "hong")
    out = capsys.readouterr().out
    assert "thất bại, không thay đổi gì / failed, nothing changed" in out
    assert "Không kết nối được nguồn" in out
    assert "Could not reach the source" in out
    with pytest.raises(CommandError, match="No harvest source named khong-co"):
        call_command("opendata", "harvest", "khong-co")


def test_a_name_taken_here_is_suffixed_and_an_invalid_record_skipped():
    org = f.organization()
    f.dataset(org, name="trung-ten")
    source = HarvestSource.objects.create(name="ngoai", title="Ngoài", url=NOWHERE, kind="ckan", organization=org)
    report = harvest.Report(source="ngoai", kind="ckan", url=NOWHERE, started_at="")
    now = timezone.now()
    for guid, title in (("g1", "Trùng tên"), ("g2", "")):
        record = harvest.Record(guid=guid, name_hint="trung-ten", modified="1", data={"title": title, "resources": []})
        harvest._write(source=source, record=record, now=now, licences={"cc-by"}, report=report)
    assert report.created == ["trung-ten-ngoai"]
    assert [s["guid"] for s in report.skipped] == ["g2"]
    assert "title" in report.skipped[0]["reason"]
