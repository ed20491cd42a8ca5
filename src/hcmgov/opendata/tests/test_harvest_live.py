"""Acceptance: one instance harvests another end to end, over real HTTP.

Design, and why: the honest test would run two portals with two databases. pytest-django's
``live_server`` serves this same application from the test's own database, and a second Django
process on a second database is more machinery than the claim needs. What the claim needs is that
everything crosses a real HTTP boundary and that nothing is shared in memory: the *source* is the
live server, its data are organisation A's datasets, and it is reached only through its public
addresses (the CKAN Action API; ``/catalog.ttl``) with the source's URL restricting it to
organisation A (``fq=organization:…``, as a real CKAN harvest source is configured). The
*harvester* writes organisation B's copies. Because both sides share a database, a copy must not
overwrite its original: the harvester's naming rule (the source's name suffixed when taken) is
exercised for real, and the copies are told apart by ``harvest_source``/``harvest_guid``. Pages
are made small so that paging (``rows``/``start``; ``hydra:next``) is crossed too.

What this does not prove: two portals with distinct licence and group tables (here they are the
same rows), or a source that is a real CKAN 2.10 (the Action API here is our rendering of it).
"""

from __future__ import annotations

import pytest
from django.core.management import call_command

from hcmgov.opendata import ckan, dcat, harvest, services
from hcmgov.opendata.models import Dataset, HarvestSource, State
from hcmgov.opendata.tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setattr(dcat, "PAGE_SIZE", 2)
    monkeypatch.setattr(harvest, "ROWS", 2)
    source_org = f.organization(name="so-nguon", title="Sở nguồn", title_en="Source department")
    other = f.organization(name="so-khac")
    target = f.organization(name="so-dich", title="Sở đích")
    f.group(name="giao-thong", title="Giao thông")
    originals = {
        name: f.dataset(
            source_org,
            name=name,
            title=f"Bản gốc {name}",
            title_en=f"Original {name}",
            notes=f"Mô tả {name}",
            frequency="MONTHLY",
            temporal_start="2024-01-01",
            groups=["giao-thong"],
            tags=["giao thông", "xe buýt"],
            maintainer_email="lienhe@example.vn",
            resources=[
                {"name": "Số liệu", "format": "CSV", "url": f"https://example.vn/{name}.csv"},
                {"name": "Tài liệu", "format": "PDF", "url": f"https://example.vn/{name}.pdf"},
            ],
        )
        for name in ("ga", "ben-xe", "tuyen-buyt")
    }
    f.dataset(source_org, name="rieng-tu", private=True)
    f.dataset(other, name="cua-so-khac")
    return source_org, target, originals


def _copies(source):
    return {d.harvest_guid: d for d in Dataset.objects.filter(harvest_source=source)}


def _change_the_source(source_org, originals):
    services.dataset_upsert(
        data={"name": "ga", "title": "Ga metro (sửa)", "license_id": "cc-by",
              "resources": [{"name": "Số liệu mới", "format": "JSON", "url": "https://example.vn/ga.json"}]},
        organization=source_org,
    )  # fmt: skip
    services.dataset_withdraw(dataset=originals["ben-xe"])
    return f.dataset(source_org, name="cau-duong", title="Cầu đường")


@pytest.mark.parametrize("kind", ["ckan", "ckan-without-search", "dcat"])
def test_one_instance_harvests_another(live_server, world, kind, capsys, settings, monkeypatch):
    settings.PUBLIC_URL = live_server.url  # the source's own address, in its links (hydra:next…)
    if kind == "ckan-without-search":  # a portal without package_search: package_list + package_show
        monkeypatch.delitem(ckan.ACTIONS, "package_search")
        kind = "ckan"
    source_org, target, originals = world
    url = (
        f"{live_server.url}/?fq=organization:so-nguon"
        if kind == "ckan"
        else f"{live_server.url}/catalog.ttl?fq=organization:so-nguon"
    )
    source = HarvestSource.objects.create(name=f"nguon-{kind}", title="Nguồn", url=url, kind=kind, organization=target)

    first = harvest.harvest_source_run(source=source)
    assert first["ok"], first["error"]
    assert (first["listed"], len(first["created"]), first["updated"], first["withdrawn"]) == (3, 3, [], [])
    copies = _copies(source)
    assert set(copies) == {str(d.id) for d in originals.values()}  # harvest_guid: the source's id
    for guid, copy in copies.items():
        original = Dataset.objects.get(pk=guid)
        assert copy.pk != original.pk
        assert copy.organization == target
        assert copy.name == f"{original.name}-{source.name}"  # the original's name is taken here
        assert (copy.title, copy.title_en, copy.notes) == (original.title, original.title_en, original.notes)
        assert (copy.frequency, str(copy.temporal_start)) == ("MONTHLY", "2024-01-01")
        assert copy.license_id == "cc-by"
        assert copy.maintainer_email == "lienhe@example.vn"
        assert sorted(t.name for t in copy.tags.all()) == ["giao thông", "xe buýt"]
        assert [g.name for g in copy.groups.all()] == ["giao-thong"]
        assert sorted((r.format, r.url) for r in copy.resources.filter(state=State.ACTIVE)) == sorted(
            (r.format, r.url) for r in original.resources.filter(state=State.ACTIVE)
        )
        assert copy.extras["harvest_source"] == source.name
    # originals untouched by their copies
    assert Dataset.objects.filter(organization=source_org, harvest_source__isnull=True).count() == 4

    again = harvest.harvest_source_run(source=source)
    assert (len(again["unchanged"]), again["created"], again["updated"], again["withdrawn"]) == (3, [], [], [])

    added = _change_the_source(source_org, originals)
    third = harvest.harvest_source_run(source=source)
    assert third["ok"], third["error"]
    assert third["created"] == [f"cau-duong-{source.name}"]
    assert third["updated"] == [f"ga-{source.name}"]
    assert third["withdrawn"] == [f"ben-xe-{source.name}"]
    assert third["unchanged"] == [f"tuyen-buyt-{source.name}"]
    copies = _copies(source)
    assert copies[str(added.id)].state == State.ACTIVE
    assert copies[str(originals["ben-xe"].id)].state == State.DELETED
    ga = copies[str(originals["ga"].id)]
    assert ga.title == "Ga metro (sửa)"
    assert [(r.name, r.format) for r in ga.resources.filter(state=State.ACTIVE)] == [("Số liệu mới", "JSON")]
    source.refresh_from_db()
    assert source.last_report == third
    assert source.last_run_at is not None

    # the command prints the last run's report, Vietnamese then English
    call_command("opendata", "harvest", source.name)
    out = capsys.readouterr().out
    assert "Nguồn liệt kê 3: tạo mới 0, cập nhật 0, không đổi 3, rút 0" in out
    assert "Listed 3: created 0, updated 0, unchanged 3, withdrawn 0" in out


def test_a_malformed_or_redirecting_source_changes_nothing(live_server, world):
    _, target, _ = world
    source = HarvestSource.objects.create(
        name="nguon",
        title="Nguồn",
        url=f"{live_server.url}/?fq=organization:so-nguon",
        kind="ckan",
        organization=target,
    )
    assert harvest.harvest_source_run(source=source)["ok"]
    before = sorted(Dataset.objects.filter(harvest_source=source).values_list("name", "state", "metadata_modified"))
    for kind, url, why in (
        ("ckan", f"{live_server.url}/catalog.ttl", "not a CKAN API answer"),
        ("dcat", f"{live_server.url}/api/3/action/status_show", "Not a DCAT catalogue"),
        ("dcat", f"{live_server.url}/ho-so/", "redirects"),  # to the login page: not followed
        ("dcat", f"{live_server.url}/catalog.ttl?page=99", "HTTP 404"),
        ("ckan", "ftp://example.vn/", "Not an http(s) URL"),
        ("ckan", "http://127.0.0.1:9/", "Could not reach the source"),
    ):
        source.kind, source.url = kind, url
        source.save()
        report = harvest.harvest_source_run(source=source)
        assert not report["ok"], url
        assert why in report["error"]["en"], report["error"]
        assert report["error"]["vi"]
        assert report["created"] == report["withdrawn"] == []
        source.refresh_from_db()
        assert source.last_report == report
        after = sorted(Dataset.objects.filter(harvest_source=source).values_list("name", "state", "metadata_modified"))
        assert after == before
