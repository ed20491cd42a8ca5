"""CKAN's DataStore API: create, upsert, delete, search, info, on the configured engine."""

# SQL built by hand is what these tests send on purpose (S608); the fixtures are imported by name
# from test_datastore_fixtures and received as arguments of the same names (F811).
# ruff: noqa: S608, F811

from __future__ import annotations

import pytest

from hcmgov.identity import services as identity
from hcmgov.opendata.models import DatastoreTable, Resource
from hcmgov.opendata.tests import factories as f
from hcmgov.opendata.tests.test_datastore_fixtures import (  # noqa: F401 - fixtures, used by name
    Ckan,
    _datastore_file,
    air,
    anon,
    ckan,
    dataset,
    editor,
    org,
)

pytestmark = pytest.mark.django_db


def records(ckan, rid, **params):
    status, body = ckan.get("datastore_search", resource_id=rid, **params)
    assert status == 200, body
    return body["result"]


def test_create_makes_a_resource_and_a_table(ckan, anon, air, dataset):
    resource = Resource.objects.get(pk=air)
    assert (resource.dataset_id, resource.datastore_active, resource.url_type) == (dataset.pk, True, "datastore")
    table = DatastoreTable.objects.get(resource=resource)
    assert table.primary_key == ["ngay", "tram"]
    assert table.indexes == [["quan"], ["ngay", "quan"]]
    result = records(anon, air)
    assert result["total"] == 4
    assert [fl["id"] for fl in result["fields"]] == ["_id", "ngay", "quan", "tram", "pm25", "aqi", "vuot_nguong",
                                                     "do_luc", "chi_tiet"]  # fmt: skip
    assert result["fields"][0] == {"id": "_id", "type": "int"}
    first = result["records"][0]
    assert first == {"_id": 1, "ngay": "2026-01-01", "quan": "Quận 1", "tram": "Bến Nghé", "pm25": 35.5, "aqi": 99,
                     "vuot_nguong": False, "do_luc": "2026-01-01T07:00:00", "chi_tiet": {"no2": 20}}  # fmt: skip
    assert result["records"][3]["chi_tiet"] == [1, 2]
    assert result["records"][3]["pm25"] is None
    assert (result["limit"], result["offset"], result["records_format"]) == (100, 0, "objects")
    assert result["_links"]["start"].startswith(f"/api/3/action/datastore_search?resource_id={air}")
    assert result["_links"]["next"].endswith("offset=100")


def test_create_on_an_existing_resource_adds_fields_and_rows(ckan, anon, dataset):
    resource = dataset.resources.first()
    status, body = ckan.post("datastore_create", {"resource_id": str(resource.pk), "records": [{"a": 1, "b": "x"}]})
    assert status == 200, body
    assert body["result"]["fields"] == [{"id": "a", "type": "int"}, {"id": "b", "type": "text"}]
    more = {"resource_id": str(resource.pk), "fields": [{"id": "c", "type": "float8"}], "records": [{"a": 2, "c": 1.5}]}
    status, body = ckan.post("datastore_create", more)
    assert status == 200, body
    result = records(anon, str(resource.pk))
    assert [r["c"] for r in result["records"]] == [None, 1.5]
    status, body = ckan.post(
        "datastore_create", {"resource_id": str(resource.pk), "fields": [{"id": "a", "type": "text"}]}
    )
    assert (status, body["error"]["__type"]) == (409, "Validation Error")
    assert "fields" in body["error"]


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        ({"fields": [{"id": "_x", "type": "text"}]}, "fields"),
        ({"fields": [{"id": 'a"b', "type": "text"}]}, "fields"),
        ({"fields": [{"id": "a", "type": "geometry"}]}, "fields"),
        ({"fields": [{"id": "a"}, {"id": "a"}]}, "fields"),
        ({"fields": [{"id": "a", "type": "int"}], "records": [{"a": "mười"}]}, "records"),
        ({"fields": [{"id": "a", "type": "int4"}], "records": [{"a": 2**40}]}, "records"),
        ({"fields": [{"id": "a", "type": "date"}], "records": [{"a": "31/12/2026"}]}, "records"),
        ({"fields": [{"id": "a", "type": "text"}], "records": "không phải danh sách"}, "records"),
        ({"fields": [{"id": "a", "type": "text"}], "primary_key": "b"}, "primary_key"),
        ({"fields": [{"id": "a", "type": "text"}], "indexes": ["b"]}, "indexes"),
        ({"fields": [{"id": "a", "type": "text"}], "primary_key": "a", "records": [{"a": "x"}, {"a": "x"}]}, "records"),
    ],
)
def test_create_refuses_what_ckan_refuses(ckan, dataset, payload, key):
    resource = dataset.resources.first()
    status, body = ckan.post("datastore_create", {"resource_id": str(resource.pk), **payload})
    assert (status, body["error"]["__type"]) == (409, "Validation Error"), body
    assert key in body["error"], body
    assert not DatastoreTable.objects.filter(resource=resource).exists()
    # a failed create leaves nothing behind: the same table can be made afterwards
    status, body = ckan.post(
        "datastore_create", {"resource_id": str(resource.pk), "fields": [{"id": "a", "type": "text"}]}
    )
    assert status == 200, body


def test_writes_need_an_editors_token(client, anon, air, dataset, db):
    status, body = anon.post("datastore_create", {"resource_id": air, "records": []})
    assert (status, body["error"]["__type"]) == (403, "Authorization Error")
    stranger = f.organization()
    from hcmgov.identity.tests.factories import UserFactory

    other = UserFactory()
    from hcmgov.opendata.models import Membership

    Membership.objects.create(organization=stranger, user=other)
    outsider = Ckan(client, identity.api_token_issue(user=other, name="x").raw)
    for name, body_ in [
        ("datastore_create", {"resource_id": air, "records": [{"quan": "Quận 3"}]}),
        ("datastore_upsert", {"resource_id": air, "records": [{"ngay": "2026-01-01", "tram": "Bến Nghé", "aqi": 1}]}),
        ("datastore_delete", {"resource_id": air}),
        ("datastore_create", {"resource": {"package_id": dataset.name, "name": "x"}, "fields": [{"id": "a"}]}),
    ]:
        status, body = outsider.post(name, body_)
        assert (status, body["error"]["__type"]) == (403, "Authorization Error"), name
    assert records(anon, air)["total"] == 4
    status, body = anon.get("datastore_create", resource_id=air)
    assert status == 400  # writes take POST


def test_private_datasets_are_read_by_editors_only(ckan, anon, org):
    private = f.dataset(org, private=True)
    status, body = ckan.post(
        "datastore_create", {"resource_id": str(private.resources.first().pk), "records": [{"a": 1}]}
    )
    assert status == 200
    rid = body["result"]["resource_id"]
    assert anon.get("datastore_search", resource_id=rid)[0] == 403
    assert anon.get("datastore_info", id=rid)[0] == 403
    status, body = anon.get("datastore_search_sql", sql=f'SELECT * FROM "{rid}"')
    assert (status, body["error"]["__type"]) == (403, "Authorization Error")
    assert records(ckan, rid)["total"] == 1


def test_not_found(anon, air):
    for name, params in [
        ("datastore_search", {"resource_id": "00000000-0000-0000-0000-000000000000"}),
        ("datastore_search", {"resource_id": "khong-co"}),
        ("datastore_info", {"id": "00000000-0000-0000-0000-000000000000"}),
        ("datastore_search_sql", {"sql": 'SELECT * FROM "00000000-0000-0000-0000-000000000000"'}),
    ]:
        status, body = anon.get(name, **params)
        assert (status, body["error"]["__type"]) == (404, "Not Found Error"), (name, body)
    status, body = anon.get("datastore_search")
    assert (status, body["error"]["resource_id"]) == (409, ["Thiếu giá trị / Missing value"])


def test_upsert_insert_update(ckan, anon, air):
    status, body = ckan.post("datastore_upsert", {"resource_id": air, "records": [
        {"ngay": "2026-01-01", "tram": "Bến Nghé", "aqi": 120},  # existing key: only aqi changes
        {"ngay": "2026-01-04", "tram": "Bến Nghé", "quan": "Quận 1", "aqi": 80},  # new key
    ]})  # fmt: skip
    assert status == 200, body
    assert body["result"]["method"] == "upsert"
    rows = records(anon, air, filters='{"tram": "Bến Nghé"}', sort="ngay")["records"]
    assert [(r["ngay"], r["aqi"], r["pm25"], r["quan"]) for r in rows] == [
        ("2026-01-01", 120, 35.5, "Quận 1"), ("2026-01-04", 80, None, "Quận 1")
    ]  # fmt: skip
    # the full-text column follows the merged row
    assert records(anon, air, q="ben nghe 120")["total"] == 1
    missing = [{"ngay": "2030-01-01", "tram": "X", "aqi": 1}]
    status, body = ckan.post("datastore_upsert", {"resource_id": air, "method": "update", "records": missing})
    assert (status, list(body["error"])) == (409, ["__type", "key"])
    status, body = ckan.post("datastore_upsert", {"resource_id": air, "method": "update", "records": [{"aqi": 1}]})
    assert (status, list(body["error"])) == (409, ["__type", "key"])
    new = [{"ngay": "2026-01-05", "tram": "Tân Định", "aqi": 50}]
    status, body = ckan.post("datastore_upsert", {"resource_id": air, "method": "insert", "records": new})
    assert status == 200
    status, body = ckan.post("datastore_upsert", {"resource_id": air, "method": "insert",
                                                  "records": [{"ngay": "2026-01-05", "tram": "Tân Định"}]})  # fmt: skip
    assert (status, body["error"]["__type"]) == (409, "Validation Error")
    status, body = ckan.post("datastore_upsert", {"resource_id": air, "records": [{"khong_co": 1}]})
    assert (status, body["error"]["fields"]) == (
        409,
        ['Trường "khong_co" không có trong bảng / field "khong_co" not in table'],
    )
    status, body = ckan.post("datastore_upsert", {"resource_id": air, "method": "merge", "records": []})
    assert (status, list(body["error"])) == (409, ["__type", "method"])
    assert records(anon, air)["total"] == 6


def test_upsert_by_id_without_a_primary_key(ckan, anon, dataset):
    rid = str(dataset.resources.first().pk)
    assert ckan.post("datastore_create", {"resource_id": rid, "records": [{"a": 1}, {"a": 2}]})[0] == 200
    status, body = ckan.post("datastore_upsert", {"resource_id": rid, "records": [{"_id": 2, "a": 20}]})
    assert status == 200, body
    assert [r["a"] for r in records(anon, rid)["records"]] == [1, 20]


def test_delete_rows_then_the_table(ckan, anon, air):
    status, body = ckan.post("datastore_delete", {"resource_id": air, "filters": {"quan": "Quận 1"}})
    assert status == 200, body
    assert body["result"] == {"resource_id": air, "filters": {"quan": "Quận 1"}}
    assert records(anon, air)["total"] == 2
    status, body = ckan.post("datastore_delete", {"resource_id": air, "filters": {"khong_co": 1}})
    assert (status, list(body["error"])) == (409, ["__type", "filters"])
    status, body = ckan.post("datastore_delete", {"resource_id": air})
    assert status == 200
    assert not Resource.objects.get(pk=air).datastore_active
    assert anon.get("datastore_search", resource_id=air)[0] == 404
    # and it can be made again
    assert ckan.post("datastore_create", {"resource_id": air, "records": [{"x": 1}]})[0] == 200


def test_search_filters_sort_fields_distinct_paging(anon, air):
    r = records(anon, air, filters='{"quan": ["Quận 1", "Thủ Đức"]}', sort="aqi desc", fields="tram,aqi")
    assert r["records"] == [
        {"tram": "Đa Kao", "aqi": 151},
        {"tram": "Bến Nghé", "aqi": 99},
        {"tram": "Linh Trung", "aqi": 68},
    ]
    assert r["fields"] == [{"id": "tram", "type": "text"}, {"id": "aqi", "type": "int"}]
    assert r["total"] == 3
    assert records(anon, air, filters='{"aqi": 99}')["total"] == 1
    assert records(anon, air, filters='{"aqi": "99"}')["total"] == 1
    assert records(anon, air, filters='{"vuot_nguong": true}')["total"] == 1
    assert records(anon, air, filters='{"ngay": "2026-01-02"}')["total"] == 2
    assert records(anon, air, filters='{"aqi": null}')["total"] == 1
    r = records(anon, air, sort='"ngay" desc, aqi', limit=2, offset=1, fields="ngay,tram")
    assert r["records"] == [{"ngay": "2026-01-02", "tram": "Linh Trung"}, {"ngay": "2026-01-02", "tram": "Đa Kao"}]
    assert (r["limit"], r["offset"], r["total"]) == (2, 1, 4)
    r = records(anon, air, fields="quan", distinct="true", sort="quan")
    assert [x["quan"] for x in r["records"]] == ["Bình Thạnh", "Quận 1", "Thủ Đức"]
    assert r["total"] == 3
    assert records(anon, air, filters='{"tram": "a\\ud800b"}')["total"] == 0
    assert anon.get("datastore_search", resource_id=air, filters='{"tram": "a\\u0000b"}')[0] == 409
    r = records(anon, air, include_total="false", limit=0)
    assert "total" not in r
    assert r["records"] == []


def test_search_full_text(anon, air):
    assert records(anon, air, q="quan 1")["total"] == 2  # folded: "quận 1"
    assert records(anon, air, q="Đa Kao")["total"] == 1
    assert records(anon, air, q="linh")["total"] == 1
    assert records(anon, air, q="khong co dau")["total"] == 0
    assert records(anon, air, q='{"tram": "thanh da"}')["total"] == 1
    assert records(anon, air, q='{"quan": "quận"}')["total"] == 2
    status, body = anon.get("datastore_search", resource_id=air, q='{"khong_co": "x"}')
    assert (status, list(body["error"])) == (409, ["__type", "q"])


def test_records_formats(anon, air):
    r = records(anon, air, records_format="lists", fields="tram,aqi", limit=2)
    assert r["records"] == [["Bến Nghé", 99], ["Đa Kao", 151]]
    r = records(anon, air, records_format="csv", fields="tram,aqi,chi_tiet", limit=2)
    assert r["records"] == 'Bến Nghé,99,"{""no2"": 20}"\r\nĐa Kao,151,"{""no2"": 31}"\r\n'
    r = records(anon, air, records_format="tsv", fields="tram,aqi", limit=1)
    assert r["records"] == "Bến Nghé\t99\r\n"


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"filters": '{"khong_co": 1}'}, "filters"),
        ({"filters": '{"aqi": "nhiều"}'}, "filters"),
        ({"filters": '{"chi_tiet": 1}'}, "filters"),
        ({"filters": "[1, 2]"}, "filters"),
        ({"filters": "{không phải json"}, "filters"),
        ({"fields": "tram,khong_co"}, "fields"),
        ({"sort": "khong_co desc"}, "sort"),
        ({"sort": "aqi; DROP TABLE x"}, "sort"),
        ({"limit": "32001"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "mười"}, "limit"),
        ({"offset": "-5"}, "offset"),
        ({"records_format": "xml"}, "records_format"),
        ({"distinct": "có"}, "distinct"),
        ({"q": '["a"]'}, "q"),
    ],
)
def test_search_refuses_bad_parameters(anon, air, params, key):
    status, body = anon.get("datastore_search", resource_id=air, **params)
    assert (status, body["error"]["__type"]) == (409, "Validation Error"), body
    assert key in body["error"]


def test_info(anon, air):
    status, body = anon.get("datastore_info", id=air)
    assert status == 200, body
    result = body["result"]
    assert result["meta"]["count"] == 4
    assert result["primary_key"] == ["ngay", "tram"]
    assert result["schema"]["aqi"] == "int"
    assert [fl["id"] for fl in result["fields"]][:3] == ["_id", "ngay", "quan"]
    assert result["fields"][2]["schema"]["is_index"] is True


def test_big_batches_and_post_search(ckan, anon, dataset):
    rid = str(dataset.resources.first().pk)
    rows = [{"n": i, "quan": f"Quận {i % 5}"} for i in range(3000)]
    fields = [{"id": "n", "type": "int8"}, {"id": "quan"}]
    body = {"resource_id": rid, "fields": fields, "primary_key": "n", "indexes": "quan", "records": rows}
    status, body = ckan.post("datastore_create", body)
    assert status == 200, body
    status, body = anon.post(
        "datastore_search", {"resource_id": rid, "filters": {"quan": "Quận 3"}, "sort": "n desc", "limit": 5}
    )
    assert status == 200, body
    assert [r["n"] for r in body["result"]["records"]] == [2998, 2993, 2988, 2983, 2978]
    assert body["result"]["total"] == 600


@pytest.mark.parametrize("cache", [4096, 0])
def test_totals_follow_every_write(ckan, anon, air, settings, cache):
    settings.DATASTORE_COUNT_CACHE = cache
    quan1 = '{"quan": "Quận 1"}'
    assert records(anon, air, filters=quan1)["total"] == 2
    assert records(anon, air, filters=quan1)["total"] == 2  # from the cache, when there is one
    new = [{"ngay": "2026-02-01", "tram": "Tân Định", "quan": "Quận 1"}]
    assert ckan.post("datastore_upsert", {"resource_id": air, "records": new})[0] == 200
    assert records(anon, air, filters=quan1)["total"] == 3
    assert ckan.post("datastore_upsert", {"resource_id": air, "method": "insert", "records": [
        {"ngay": "2026-02-02", "tram": "Tân Định", "quan": "Quận 1"}]})[0] == 200  # fmt: skip
    assert records(anon, air, filters=quan1)["total"] == 4
    assert ckan.post("datastore_delete", {"resource_id": air, "filters": {"tram": "Tân Định"}})[0] == 200
    assert records(anon, air, filters=quan1)["total"] == 2
    assert ckan.post("datastore_create", {"resource_id": air, "records": [{"ngay": "2026-03-01", "tram": "X",
                                                                           "quan": "Quận 1"}]})[0] == 200  # fmt: skip
    assert records(anon, air, filters=quan1)["total"] == 3


def test_field_names_are_quoted_whatever_they_hold(ckan, anon, dataset):
    rid = str(dataset.resources.first().pk)
    odd = ["tỷ lệ %", "a'b", "select", "x; drop table y", "%s", "?"]
    rows = [{name: f"{name}-{i}" for name in odd} for i in range(60)]  # 60: PostgreSQL's COPY path
    body = {"resource_id": rid, "fields": [{"id": n} for n in odd], "primary_key": ["%s"], "records": rows}
    status, body = ckan.post("datastore_create", body)
    assert status == 200, body
    result = records(anon, rid, filters='{"tỷ lệ %": "tỷ lệ %-7"}', sort='"a\'b" desc', fields="?,select")
    assert result["records"] == [{"?": "?-7", "select": "select-7"}]
    # q matches words ("s", "1") as substrings: %s-1, %s-10 … %s-19, %s-21, %s-31, %s-41, %s-51
    assert records(anon, rid, q='{"%s": "%S-1"}')["total"] == 15
    status, body = ckan.post("datastore_upsert", {"resource_id": rid, "records": [{"%s": "%s-1", "?": "đổi"}]})
    assert status == 200, body
    assert records(anon, rid, filters='{"%s": "%s-1"}')["records"][0]["?"] == "đổi"
