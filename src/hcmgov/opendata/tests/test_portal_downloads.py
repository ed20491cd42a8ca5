"""Downloads of a datastore table from the portal (``opendata.portal_downloads``): each format read
back with its own reader and compared with what ``datastore_search`` gives, in chunks as small as
one row; the headers; the refusals."""

# the fixtures are imported by name from test_datastore_fixtures and received as arguments (F811)
# ruff: noqa: F811

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from urllib.parse import quote

import openpyxl
import pyarrow.parquet as pq
import pytest

from hcmgov.opendata import portal_downloads
from hcmgov.opendata.datastore_db import store
from hcmgov.opendata.models import Dataset
from hcmgov.opendata.tests import factories as f
from hcmgov.opendata.tests.test_datastore_fixtures import (  # noqa: F401 - fixtures, used by name
    AIR_FIELDS,
    _datastore_file,
    air,
    anon,
    ckan,
    dataset,
    editor,
    org,
)

pytestmark = pytest.mark.django_db
NAMES = ["_id", *(fl["id"] for fl in AIR_FIELDS)]


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch):
    """Two rows a chunk: every table here spans several, so the resumption is what is tested."""
    monkeypatch.setattr(portal_downloads, "CHUNK", 2)


def url(dataset, rid, fmt):
    return f"/du-lieu-mo/{dataset.name}/tai-nguyen/{rid}.{fmt}"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def expected(anon, air):
    status, found = anon.get("datastore_search", resource_id=air, limit=1000)
    assert status == 200
    return found["result"]["records"]


def test_csv_is_utf8_with_a_bom_and_holds_every_row(client, air, dataset, expected):
    response = client.get(url(dataset, air, "csv"))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    name = "Chỉ số AQI theo trạm.csv"
    assert response["Content-Disposition"] == (
        f"attachment; filename=\"Chi so AQI theo tram.csv\"; filename*=UTF-8''{quote(name)}"
    )
    data = body(response)
    assert data.startswith(b"\xef\xbb\xbf_id,ngay,")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == NAMES
    assert len(rows) == 1 + len(expected) == 5
    for row, record in zip(rows[1:], expected, strict=True):
        assert row == [portal_downloads.text(record[n]) for n in NAMES]
    assert rows[1][2:4] == ["Quận 1", "Bến Nghé"]
    assert rows[4][4:9] == ["", "", "", "", "[1, 2]"]
    assert rows[2][6] == "true"
    without = body(client.get(url(dataset, air, "csv"), {"bom": "0"}))
    assert without.startswith(b"_id,")
    assert without == data[3:]


def test_json_is_an_array_of_the_rows(client, air, dataset, expected):
    response = client.get(url(dataset, air, "json"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(body(response)) == expected


def test_an_empty_table_downloads_as_its_header_or_an_empty_array(client, ckan, dataset):
    status, created = ckan.post("datastore_create", {
        "resource": {"package_id": dataset.name, "name": "Trống"}, "fields": [{"id": "a", "type": "int"}],
    })  # fmt: skip
    assert status == 200, created
    rid = created["result"]["resource_id"]
    assert json.loads(body(client.get(url(dataset, rid, "json")))) == []
    assert body(client.get(url(dataset, rid, "csv"), {"bom": "0"})) == b"_id,a\r\n"
    assert pq.read_table(io.BytesIO(body(client.get(url(dataset, rid, "parquet"))))).num_rows == 0


def test_xlsx_holds_typed_cells(client, air, dataset, expected):
    response = client.get(url(dataset, air, "xlsx"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "filename*=UTF-8''" in response["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(body(response)), read_only=True)
    sheet = book.worksheets[0]
    assert sheet.title == "Chỉ số AQI theo trạm"
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == NAMES
    assert len(rows) == 5
    assert rows[1][:6] == [1, dt.datetime(2026, 1, 1), "Quận 1", "Bến Nghé", 35.5, 99]
    assert rows[1][6] is False
    assert rows[1][7] == dt.datetime(2026, 1, 1, 7)
    assert json.loads(rows[1][8]) == {"no2": 20}
    assert rows[4][4:8] == [None, None, None, None]
    assert [r[0] for r in rows[1:]] == [r["_id"] for r in expected]


def test_text_that_looks_like_a_formula_stays_text_in_xlsx(client, ckan, dataset):
    status, created = ckan.post("datastore_create", {
        "resource": {"package_id": dataset.name, "name": "Công thức"}, "fields": [{"id": "t", "type": "text"}],
        "records": [{"t": "=HYPERLINK(\"http://x\")"}, {"t": "a\x01b"}],
    })  # fmt: skip
    assert status == 200, created
    data = body(client.get(url(dataset, created["result"]["resource_id"], "xlsx")))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet["B2"].data_type == "s"
    assert sheet["B2"].value == '=HYPERLINK("http://x")'
    assert sheet["B3"].value == "ab"  # a control character XML cannot hold is left out


def test_parquet_has_the_columns_types_and_rows(client, air, dataset, expected):
    response = client.get(url(dataset, air, "parquet"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    parquet = pq.ParquetFile(io.BytesIO(body(response)))
    assert parquet.metadata.num_row_groups == 2  # a row group per chunk read (two rows each here)
    table = parquet.read()
    assert table.column_names == NAMES
    types = {n: str(table.schema.field(n).type) for n in NAMES}
    assert types == {"_id": "int64", "ngay": "date32[day]", "quan": "string", "tram": "string", "pm25": "double",
                     "aqi": "int64", "vuot_nguong": "bool", "do_luc": "timestamp[us]",
                     "chi_tiet": "string"}  # fmt: skip
    rows = table.to_pylist()
    assert [r["_id"] for r in rows] == [r["_id"] for r in expected]
    assert rows[0] == {"_id": 1, "ngay": dt.date(2026, 1, 1), "quan": "Quận 1", "tram": "Bến Nghé", "pm25": 35.5,
                       "aqi": 99, "vuot_nguong": False, "do_luc": dt.datetime(2026, 1, 1, 7),
                       "chi_tiet": '{"no2": 20}'}  # fmt: skip
    assert [r["tram"] for r in rows] == [r["tram"] for r in expected]


def test_a_table_larger_than_a_chunk_comes_whole_and_in_order(client, ckan, dataset, monkeypatch):
    monkeypatch.setattr(portal_downloads, "CHUNK", 7)
    records = [{"n": n, "ten": f"Phường {n}"} for n in range(1, 51)]
    status, created = ckan.post("datastore_create", {
        "resource": {"package_id": dataset.name, "name": "Năm mươi"},
        "fields": [{"id": "n", "type": "int"}, {"id": "ten", "type": "text"}], "records": records,
    })  # fmt: skip
    assert status == 200, created
    rid = created["result"]["resource_id"]
    ckan.post("datastore_delete", {"resource_id": rid, "filters": {"n": [3, 4, 5]}})  # gaps in _id
    wanted = [r for r in records if r["n"] not in (3, 4, 5)]
    rows = list(csv.DictReader(io.StringIO(body(client.get(url(dataset, rid, "csv"))).decode("utf-8-sig"))))
    assert [(int(r["n"]), r["ten"]) for r in rows] == [(r["n"], r["ten"]) for r in wanted]
    got = json.loads(body(client.get(url(dataset, rid, "json"))))
    assert [r["n"] for r in got] == [r["n"] for r in wanted]
    table = pq.read_table(io.BytesIO(body(client.get(url(dataset, rid, "parquet")))))
    assert table.column("n").to_pylist() == [r["n"] for r in wanted]


def test_a_file_resource_redirects_to_its_address(client, dataset):
    resource = dataset.resources.first()
    response = client.get(url(dataset, resource.pk, "csv"))
    assert response.status_code == 302
    assert response["Location"] == resource.url


@pytest.mark.parametrize("fmt", ["xml", "csv.gz", "CSV"])
def test_an_unknown_format_is_a_bilingual_404(client, air, dataset, fmt):
    response = client.get(url(dataset, air, fmt))
    assert response.status_code == 404
    assert "Không có định dạng này" in response.content.decode()
    assert "Unknown format" in response.content.decode()


def test_a_resource_of_another_or_no_dataset_or_a_private_one_is_not_found(client, air, dataset, org):
    other = f.dataset(org, name="khac")
    for path in (
        url(other, air, "csv"),
        url(dataset, uuid.uuid4(), "csv"),
        f"/du-lieu-mo/khong-co/tai-nguyen/{air}.csv",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Resource not found." in response.content.decode()
    Dataset.objects.filter(pk=dataset.pk).update(private=True)
    assert client.get(url(dataset, air, "json")).status_code == 404
    assert client.get(f"/du-lieu-mo/{dataset.name}/tai-nguyen/not-a-uuid.csv").status_code == 404


def test_a_bad_bom_is_refused(client, air, dataset):
    response = client.get(url(dataset, air, "csv"), {"bom": "yes"})
    assert response.status_code == 400
    assert "bom must be 0 or 1." in response.content.decode()


def test_a_table_too_large_for_excel_is_refused_with_a_way_out(client, air, dataset, monkeypatch):
    monkeypatch.setattr(portal_downloads, "XLSX_ROWS_MAX", 3)
    response = client.get(url(dataset, air, "xlsx"))
    assert response.status_code == 413
    assert "download CSV or Parquet instead" in response.content.decode()


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx", "parquet"])
def test_a_table_missing_from_the_store_is_an_error_page_not_a_cut_download(client, air, dataset, fmt):
    store().drop(air)
    response = client.get(url(dataset, air, fmt))
    assert response.status_code == 503
    assert "The data table cannot be read." in response.content.decode()
    assert "Chưa xem trước được bảng này." in client.get(f"/du-lieu-mo/{dataset.name}/").content.decode()
