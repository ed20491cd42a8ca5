"""Acceptance: the real ``ckanapi`` client (its CLI, run as a process, and ``RemoteCKAN``) against
the platform over HTTP (pytest-django's ``live_server``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ckanapi import RemoteCKAN
from ckanapi.errors import SearchQueryError

from hcmgov.opendata.tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)
BIN = Path(sys.executable).parent


def ckanapi(*args: str, cwd: Path | None = None) -> str:
    # ``dump`` starts its workers as ``ckanapi`` from PATH: the venv's
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(  # noqa: S603 - the venv's ckanapi with the test's own arguments
        [str(BIN / "ckanapi"), *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def catalogue(db):
    org = f.organization(name="so-gtvt", title="Sở Giao thông vận tải")
    f.group(name="giao-thong", title="Giao thông")
    public = [
        f.dataset(org, name="luu-luong-xe", title="Lưu lượng xe máy", tags=["giao thông"], groups=["giao-thong"]),
        f.dataset(org, name="tuyen-xe-buyt", title="Tuyến xe buýt", tags=["giao thông", "xe buýt"],
                  resources=[{"name": "Tuyến", "format": "GeoJSON", "url": "https://example.vn/t.geojson"},
                             {"name": "Trạm", "format": "CSV", "url": "https://example.vn/s.csv"}]),
        f.dataset(org, name="bai-do-xe", title="Bãi đỗ xe"),
    ]  # fmt: skip
    f.dataset(org, name="an-rieng", title="Xe nội bộ", private=True)
    return public


def test_package_list_over_the_cli(live_server, catalogue):
    out = ckanapi("action", "package_list", "-r", live_server.url)
    assert json.loads(out) == ["bai-do-xe", "luu-luong-xe", "tuyen-xe-buyt"]


def test_dump_writes_one_line_per_public_dataset_with_resources(live_server, catalogue, tmp_path):
    target = tmp_path / "datasets.jsonl"
    ckanapi("dump", "datasets", "--all", "-r", live_server.url, "-O", str(target), "-p", "2", "-q", "--resource-views")
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert sorted(d["name"] for d in lines) == ["bai-do-xe", "luu-luong-xe", "tuyen-xe-buyt"]
    by_name = {d["name"]: d for d in lines}
    assert [r["format"] for r in by_name["tuyen-xe-buyt"]["resources"]] == ["GeoJSON", "CSV"]
    assert all(d["resources"] and d["organization"]["name"] == "so-gtvt" for d in lines)


def test_search_over_the_cli(live_server, catalogue):
    out = ckanapi("search", "datasets", "q=xe buyt", "-r", live_server.url)
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["tuyen-xe-buyt"]
    out = ckanapi("search", "datasets", "q=xe", 'fq=tags:"giao thông"', "sort=name asc", "-r", live_server.url)
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["luu-luong-xe", "tuyen-xe-buyt"]


def test_remote_ckan_package_search(live_server, catalogue):
    with RemoteCKAN(live_server.url) as ckan:
        result = ckan.action.package_search(
            q="xe", fq="res_format:CSV", rows=2, sort="name asc",
            **{"facet.field": ["organization", "res_format"], "facet.limit": -1},
        )  # fmt: skip
        assert result["count"] == 3
        assert [r["name"] for r in result["results"]] == ["bai-do-xe", "luu-luong-xe"]
        assert result["facets"]["res_format"] == {"CSV": 3, "GeoJSON": 1}
        assert result["search_facets"]["organization"]["items"] == [
            {"name": "so-gtvt", "display_name": "Sở Giao thông vận tải", "count": 3}
        ]
        with pytest.raises(SearchQueryError):
            ckan.action.package_search(fq="tags:(unclosed")
    with RemoteCKAN(live_server.url, get_only=True) as ckan:
        assert ckan.action.package_search(q="buýt")["results"][0]["name"] == "tuyen-xe-buyt"
