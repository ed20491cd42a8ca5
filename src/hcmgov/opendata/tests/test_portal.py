"""The open data portal's pages (``opendata.portal``): search with facets, sort and pages, a
dataset's page with its preview and chart, the lists of organisations and themes; bad input is a
bilingual error page, never a 500."""

# the fixtures are imported by name from test_datastore_fixtures and received as arguments (F811)
# ruff: noqa: F811

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hcmgov.opendata.models import Dataset, Resource
from hcmgov.opendata.tests import factories as f
from hcmgov.opendata.tests.test_datastore_fixtures import (  # noqa: F401 - fixtures, used by name
    _datastore_file,
    air,
    ckan,
    dataset,
    editor,
    org,
)

pytestmark = pytest.mark.django_db
URL = "/du-lieu-mo/"


def names(response) -> list[str]:
    """The datasets a result page lists, in order."""
    return re.findall(r'href="/du-lieu-mo/([a-z0-9_-]+)/"><strong>', response.content.decode())


def count(response) -> int:
    return int(re.search(r'id="od-count">(\d+)<', response.content.decode())[1])


@pytest.fixture
def catalogue(db):
    """Two publishers; themes, tags and formats spread so that each facet narrows differently."""
    water = f.organization(name="so-xay-dung", title="Sở Xây dựng")
    env = f.organization(name="so-moi-truong", title="Sở Tài nguyên và Môi trường")
    f.group("ha-tang", title="Hạ tầng")
    f.group("moi-truong", title="Môi trường")
    f.dataset(
        water,
        name="cap-nuoc",
        title="Cấp nước sạch",
        groups=[{"name": "ha-tang"}],
        tags=[{"name": "nước"}, {"name": "hạ tầng"}],
        resources=[{"name": "Bảng", "format": "CSV", "url": "https://example.vn/a.csv"}],
    )
    f.dataset(
        water,
        name="thoat-nuoc",
        title="Thoát nước đô thị",
        groups=[{"name": "ha-tang"}],
        tags=[{"name": "nước"}],
        resources=[{"name": "Bản đồ", "format": "GeoJSON", "url": "https://example.vn/b"}],
    )
    f.dataset(
        env,
        name="khong-khi",
        title="Chất lượng không khí",
        groups=[{"name": "moi-truong"}],
        tags=[{"name": "môi trường"}],
        license_id="cc-by",
        resources=[{"name": "Bảng", "format": "CSV", "url": "https://example.vn/c.csv"}],
    )
    f.dataset(env, name="bi-mat", title="Nước ngầm nội bộ", private=True)
    return water, env


def test_the_search_page_lists_public_datasets_with_a_get_form_and_no_script(client, catalogue):
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert count(response) == 3
    assert set(names(response)) == {"cap-nuoc", "thoat-nuoc", "khong-khi"}  # not the private one
    assert re.search(r'<form method="get" action="/du-lieu-mo/"', html)
    assert "<script" not in html
    assert 'href="/du-lieu-mo/"' in client.get("/").content.decode()  # the site's navigation links here


def test_facets_narrow_the_results_and_combine(client, catalogue):
    html = client.get(URL).content.decode()
    assert re.search(r'href="\?organization=so-xay-dung">☐ Sở Xây dựng</a> <span class="small">\(2\)', html)
    by_org = client.get(URL, {"organization": "so-xay-dung"})
    assert (count(by_org), set(names(by_org))) == (2, {"cap-nuoc", "thoat-nuoc"})
    assert "☑ Sở Xây dựng" in by_org.content.decode()
    assert "<h1>Sở Xây dựng</h1>" in by_org.content.decode()  # the organisation's page
    both = client.get(URL, {"organization": "so-xay-dung", "tags": "hạ tầng"})
    assert names(both) == ["cap-nuoc"]
    assert names(client.get(URL, {"res_format": "GeoJSON"})) == ["thoat-nuoc"]
    assert set(names(client.get(URL, {"groups": "moi-truong"}))) == {"khong-khi"}
    assert count(client.get(URL, {"organization": "so-xay-dung", "groups": "moi-truong"})) == 0
    assert count(client.get(URL, {"license_id": "cc-by"})) == 3
    # a selected value's link removes it again
    removed = re.search(r'href="\?([^"]*)"[^>]*>☑ Sở Xây dựng', by_org.content.decode())[1]
    assert count(client.get(URL + "?" + removed.replace("&amp;", "&"))) == 3


def test_free_text_ignores_diacritics_and_never_reads_query_syntax(client, catalogue):
    assert names(client.get(URL, {"q": "khong khi"})) == ["khong-khi"]
    assert names(client.get(URL, {"q": "không khí"})) == ["khong-khi"]
    assert set(names(client.get(URL, {"q": "nước"}))) == {"cap-nuoc", "thoat-nuoc"}
    for text in ('title:"x', "a:b (", "NOT", "*:*", '"\\'):
        assert client.get(URL, {"q": text}).status_code == 200


def test_sort_by_name_and_by_last_modified(client, catalogue):
    by_name = names(client.get(URL, {"sort": "name asc"}))
    assert by_name == ["cap-nuoc", "khong-khi", "thoat-nuoc"]
    assert names(client.get(URL, {"sort": "name desc"})) == by_name[::-1]
    newest = names(client.get(URL, {"sort": "metadata_modified desc"}))
    assert newest[0] == "khong-khi"


def test_pages(client, db):
    org = f.organization()
    for n in range(23):
        f.dataset(org, name=f"bo-{n:02d}", title=f"Bộ {n:02d}")
    first = client.get(URL, {"sort": "name asc"})
    assert len(names(first)) == 20
    assert "Trang 1/2" in first.content.decode()
    assert "?sort=name+asc&page=2" in first.content.decode()
    second = client.get(URL, {"sort": "name asc", "page": "2"})
    assert names(second) == ["bo-20", "bo-21", "bo-22"]
    assert names(client.get(URL, {"rows": "5", "page": "5", "sort": "name asc"})) == ["bo-20", "bo-21", "bo-22"]


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"page": "abc"}, 400, "Số trang phải là số nguyên"),
        ({"page": "0"}, 400, "Số trang phải là số nguyên"),
        ({"page": "99999999999999999999"}, 400, "Số trang"),
        ({"page": "9"}, 404, "Không có trang này"),
        ({"page": "²"}, 400, "Số trang phải là số nguyên"),
        ({"page": "1" * 5000}, 400, "Số trang phải là số nguyên"),
        ({"rows": "-1"}, 400, "Số dòng phải là số nguyên"),
        ({"rows": "100000"}, 400, "Số dòng phải là số nguyên từ 1 đến 100"),
        ({"sort": "drop table"}, 400, "Cách sắp xếp không hợp lệ"),
        ({"organization": "x\u200by"}, 400, "Giá trị bộ lọc không hợp lệ"),
        ({"tags": "a" * 201}, 400, "Giá trị bộ lọc không hợp lệ"),
        ({"tags": [f"t{n}" for n in range(21)]}, 400, "Chọn tối đa 20 bộ lọc"),
        ({"q": "x" * 501}, 400, "Từ khóa dài quá 500 ký tự"),
    ],
)
def test_bad_input_is_a_bilingual_error(client, catalogue, params, status, message):
    response = client.get(URL, params)
    assert response.status_code == status
    assert message in response.content.decode()
    client.cookies["django_language"] = "en"
    english = client.get(URL, params)
    assert english.status_code == status
    assert "The request cannot be answered" in english.content.decode()


def test_the_search_page_in_english(client, catalogue):
    client.cookies["django_language"] = "en"
    html = client.get(URL, {"organization": "so-xay-dung"}).content.decode()
    assert "Datasets found:" in html
    assert "Organisations" in html
    assert "Tổ chức" not in html


def test_an_unknown_facet_value_finds_nothing_and_unknown_parameters_are_ignored(client, catalogue):
    response = client.get(URL, {"organization": "khong-co", "utm_source": "x"})
    assert (response.status_code, count(response)) == (200, 0)
    assert "☑ khong-co" in response.content.decode()  # still shown, to be removed


def test_the_lists_of_organisations_and_themes(client, catalogue):
    html = client.get(URL + "to-chuc/").content.decode()
    assert 'href="/du-lieu-mo/?organization=so-xay-dung">Sở Xây dựng</a>' in html
    assert re.search(r"Sở Tài nguyên và Môi trường</a>\s*<span class=\"small\">\(1 bộ dữ liệu", html)
    html = client.get(URL + "chu-de/").content.decode()
    assert 'href="/du-lieu-mo/?groups=ha-tang">' in html


# --- a dataset's page ------------------------------------------------------------------------------


def test_a_dataset_page_shows_what_it_is_and_links_its_file(client, catalogue):
    response = client.get(URL + "khong-khi/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Chất lượng không khí</h1>" in html
    assert "Sở Tài nguyên và Môi trường" in html
    assert re.search(r'<a href="[^"]+" rel="license">', html)
    assert 'href="/du-lieu-mo/?tags=m%C3%B4i%20tr%C6%B0%E1%BB%9Dng"' in html
    assert 'href="/du-lieu-mo/?groups=moi-truong"' in html
    assert 'href="https://example.vn/c.csv"' in html
    assert "<svg" not in html  # no table, no chart
    assert "<script" not in html


@pytest.mark.parametrize("name", ["khong-co-bo-nay", "bi-mat"])
def test_an_unknown_or_private_dataset_is_a_404_page(client, catalogue, name):
    response = client.get(URL + name + "/")
    assert response.status_code == 404
    assert "Không tìm thấy bộ dữ liệu." in response.content.decode()
    assert "Dataset not found." in response.content.decode()


def test_a_datastore_table_is_previewed_and_charted(client, air, dataset):
    html = client.get(f"{URL}{dataset.name}/").content.decode()
    table = re.search(r'<table class="striped od-preview" id="t-' + air + r'">(.*?)</table>', html, re.S)[1]
    assert re.findall(r"<th scope=\"col\">(\w+)</th>", table)[:4] == ["ngay", "quan", "tram", "pm25"]
    assert table.count("<tr>") == 5  # the header and the four rows
    assert "Bến Nghé" in table
    svg = re.search(r"<svg (.*?)</svg>", html, re.S)[0]
    assert 'role="img"' in svg
    # two stations read on 2 January: bars, not a line through time
    assert re.search(r"<title id=\"t-[^\"]+-title\">Biểu đồ cột: pm25 theo ngay", svg)
    assert svg.count('<rect class="bar"') == 3  # the row without pm25 is left out
    assert "<title>2026-01-02: 55.1</title>" in svg
    for fmt in ("csv", "json", "xlsx", "parquet"):
        assert f'href="/du-lieu-mo/{dataset.name}/tai-nguyen/{air}.{fmt}"' in html


def test_a_series_in_time_is_charted_as_a_line(client, ckan, dataset):
    days = [{"ngay": f"2026-03-{d:02d}", "luot": d * 10} for d in range(1, 8)]
    status, body = ckan.post("datastore_create", {
        "resource": {"package_id": dataset.name, "name": "Lượt truy cập"},
        "fields": [{"id": "ngay", "type": "date"}, {"id": "luot", "type": "int"}], "records": days,
    })  # fmt: skip
    assert status == 200, body
    svg = re.search(r"<svg (.*?)</svg>", client.get(f"{URL}{dataset.name}/").content.decode(), re.S)[0]
    assert "Biểu đồ đường: luot theo ngay" in svg
    assert svg.count('<circle class="point"') == 7
    assert "<rect" not in svg
    points = re.search(r'<polyline points="([^"]+)"', svg)[1].split()
    assert len(points) == 7
    heights = [float(p.split(",")[1]) for p in points]
    assert heights == sorted(heights, reverse=True)  # rising values: y falls on screen


def test_a_table_of_text_and_numbers_is_charted_as_bars(client, ckan, dataset):
    rows = [{"quan": f"Quận {n}", "dan_so": 1000 * n, "ghi_chu": "x"} for n in range(1, 26)]
    status, body = ckan.post("datastore_create", {
        "resource": {"package_id": dataset.name, "name": "Dân số"},
        "fields": [{"id": "ghi_chu", "type": "text"}, {"id": "dan_so", "type": "int"}, {"id": "quan", "type": "text"}],
        "records": rows,
    })  # fmt: skip
    assert status == 200, body
    html = client.get(f"{URL}{dataset.name}/").content.decode()
    svg = re.search(r"<svg (.*?)</svg>", html, re.S)[0]
    assert svg.count('<rect class="bar"') == 20  # the preview's rows
    shapes = " ".join(re.findall(r"<(?:rect|line|text) [^>]*>", svg))
    numbers = re.findall(r'\s(?:x|y|x1|x2|y1|y2|width|height)="([^"]*)"', shapes)
    assert len(numbers) > 80
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", n) for n in numbers), numbers  # not "12,5" (Vietnamese decimals)
    assert "<title>x: 1 000</title>" in svg  # labels from the first text column
    assert "Biểu đồ cột: dan_so theo ghi_chu" in svg


def test_a_table_without_numbers_has_no_chart(client, ckan, dataset):
    status, body = ckan.post("datastore_create", {
        "resource": {"package_id": dataset.name, "name": "Danh bạ"},
        "fields": [{"id": "ten", "type": "text"}], "records": [{"ten": "A"}, {"ten": "B"}],
    })  # fmt: skip
    assert status == 200, body
    html = client.get(f"{URL}{dataset.name}/").content.decode()
    assert "od-preview" in html
    assert "<svg" not in html


def queries(client, path, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, params or {}).status_code == 200
    return len(captured)


def test_the_pages_read_a_fixed_number_of_queries(client, db):
    org = f.organization()
    f.group("chu-de-a")
    few = [f.dataset(org, groups=[{"name": "chu-de-a"}]) for _ in range(2)]
    small = queries(client, URL, {"q": "thu"})
    one = queries(client, f"{URL}{few[0].name}/")
    many = f.dataset(org, tags=[{"name": f"t{n}"} for n in range(8)], groups=[{"name": "chu-de-a"}],
                     resources=[{"name": f"Tệp {n}", "format": "CSV", "url": f"https://example.vn/{n}.csv"}
                                for n in range(6)])  # fmt: skip
    for _ in range(18):
        f.dataset(org, groups=[{"name": "chu-de-a"}])
    assert queries(client, URL, {"q": "thu"}) == small
    assert queries(client, f"{URL}{many.name}/") == one


def test_a_preview_shows_structures_as_json(client, air, dataset):
    html = client.get(f"{URL}{dataset.name}/").content.decode()
    assert "<td>{&quot;no2&quot;: 20}</td>" in html
    assert "<td>[1, 2]</td>" in html


def test_only_web_addresses_become_links(client, db):
    dataset = f.dataset(name="lien-ket")
    Resource.objects.filter(dataset=dataset).update(url="javascript:alert(1)")
    Dataset.objects.filter(pk=dataset.pk).update(url="data:text/html,x")
    html = client.get(f"{URL}lien-ket/").content.decode()
    assert "javascript:" not in html
    assert "data:text/html" not in html
    resource = dataset.resources.first()
    assert client.get(f"{URL}lien-ket/tai-nguyen/{resource.pk}.csv").status_code == 404  # no redirect there
