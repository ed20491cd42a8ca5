"""``package_search``: the Solr query parser, filters, sort, paging and facets in CKAN 2.10's shape."""

from __future__ import annotations

import datetime as dt

import pytest

from hcmgov.identity import services as identity
from hcmgov.opendata.ckan import SearchQueryError
from hcmgov.opendata.models import Dataset, Membership
from hcmgov.opendata.search import All, And, Not, Or, Range, Term, parse, parse_date, parse_q
from hcmgov.opendata.tests import factories as f


def search(client, **params):
    response = client.get("/api/3/action/package_search", params)
    return response.status_code, response.json()


def names(body):
    return [r["name"] for r in body["result"]["results"]]


# --- the parser -----------------------------------------------------------------------------------


def test_parser_reads_solr_syntax():
    assert parse("") == All()
    assert parse("  *:* ") == All()
    assert parse("a b") == And((Term(None, "a"), Term(None, "b")))
    assert parse("a AND b") == parse("a && b") == parse("+a +b") == And((Term(None, "a"), Term(None, "b")))
    assert parse("a OR b c") == Or((Term(None, "a"), And((Term(None, "b"), Term(None, "c")))))
    assert parse("a || b") == Or((Term(None, "a"), Term(None, "b")))
    assert parse("-tags:x") == parse("NOT tags:x") == parse("!tags:x") == Not(Term("tags", "x"))
    assert parse('tags:"giao thông"') == Term("tags", "giao thông", phrase=True)
    assert parse("organization:so-gtvt AND (tags:a OR res_format:CSV)") == And((
        Term("organization", "so-gtvt"), Or((Term("tags", "a"), Term("res_format", "CSV"))),
    ))  # fmt: skip
    assert parse("tags:(a OR b)") == Or((Term("tags", "a"), Term("tags", "b")))
    assert parse("tags:(a OR name:b)") == Or((Term("tags", "a"), Term("name", "b")))
    assert parse("metadata_modified:[2024-01-01T00:00:00Z TO NOW]") == Range(
        "metadata_modified", "2024-01-01T00:00:00Z", "NOW"
    )
    assert parse("metadata_created:{* TO NOW-1DAY}") == Range("metadata_created", "*", "NOW-1DAY", False, False)
    assert parse("name:du\\-lieu\\:x") == Term("name", "du-lieu:x")
    assert parse("name:du*") == Term("name", "du\0", wildcard=True)
    assert parse("title:xe^2 notes:xe~1") == And((Term("title", "xe"), Term("notes", "xe")))
    assert parse("ANDROID ORBIT") == And((Term(None, "ANDROID"), Term(None, "ORBIT")))
    assert parse("name: x") == Term("name", "x")


@pytest.mark.parametrize(
    "text",
    ["(a", "a)", '"abc', "a AND", "OR a", "tags:", "()", "name:[a TO", "name:[a b]", "x\\", "((" * 40 + "a" + "))" * 40,
     " ".join(["a"] * 150), "*:x", ":a", "^2"],
)  # fmt: skip
def test_parser_refuses_what_it_cannot_read(text):
    with pytest.raises(SearchQueryError):
        parse(text)


def test_q_without_fields_is_lenient_like_dismax():
    assert parse_q('(xe "máy') == And((Term(None, "xe"), Term(None, "máy")))
    assert parse_q("((") == All()
    with pytest.raises(SearchQueryError):
        parse_q("name:(x")


def test_solr_dates():
    now = dt.datetime(2026, 5, 17, 13, 45, 12, 5, tzinfo=dt.UTC)
    assert parse_date("NOW", now=now) == now
    assert parse_date("NOW-7DAYS", now=now) == now - dt.timedelta(days=7)
    assert parse_date("NOW/DAY", now=now) == dt.datetime(2026, 5, 17, tzinfo=dt.UTC)
    assert parse_date("NOW-1DAY/DAY", now=now) == dt.datetime(2026, 5, 16, tzinfo=dt.UTC)
    assert parse_date("NOW/MONTH+2HOURS", now=now) == dt.datetime(2026, 5, 1, 2, tzinfo=dt.UTC)
    assert parse_date("2024-01-02T03:04:05Z") == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert parse_date("2024-01-02") == dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    for bad in ("NOW-DAY", "yesterday", "NOW-999999YEARS", "0001-01-01T00:00:00+05:00"):
        with pytest.raises(SearchQueryError):
            parse_date(bad)


# --- the action -----------------------------------------------------------------------------------


@pytest.fixture
def catalogue(db):
    gtvt = f.organization(name="so-gtvt", title="Sở Giao thông vận tải")
    tnmt = f.organization(name="so-tnmt", title="Sở Tài nguyên và Môi trường")
    transport = f.group(name="giao-thong", title="Giao thông")
    env = f.group(name="moi-truong", title="Môi trường")
    made = {}
    for name, org, title, tags, groups, formats, day in [
        ("luu-luong-xe", gtvt, "Lưu lượng xe máy", ["giao thông", "xe máy"], ["giao-thong"], ["CSV", "JSON"], 1),
        ("tuyen-xe-buyt", gtvt, "Tuyến xe buýt", ["giao thông", "xe buýt"], ["giao-thong"], ["GeoJSON"], 2),
        ("bai-do-xe", gtvt, "Bãi đỗ xe", ["giao thông"], [], ["CSV"], 3),
        ("chat-luong-khong-khi", tnmt, "Chất lượng không khí", ["môi trường"], ["moi-truong"], ["CSV"], 4),
        ("rac-thai", tnmt, "Rác thải sinh hoạt", ["môi trường", "rác"], ["moi-truong"], ["XLSX"], 5),
    ]:
        ds = f.dataset(
            org, name=name, title=title, tags=tags, groups=[{"name": g} for g in groups], license_id="cc-by",
            notes=f"Dữ liệu {title.lower()} của Thành phố.",
            resources=[{"name": fmt, "format": fmt, "url": f"https://example.vn/{name}.{fmt}"} for fmt in formats],
        )  # fmt: skip
        stamp = dt.datetime(2026, 1, day, tzinfo=dt.UTC)
        Dataset.objects.filter(pk=ds.pk).update(metadata_modified=stamp, metadata_created=stamp)
        made[name] = ds
    f.dataset(gtvt, name="an-rieng", title="Xe công vụ (nội bộ)", private=True, tags=["giao thông"])
    withdrawn = f.dataset(gtvt, name="da-rut", title="Xe cũ")
    withdrawn.state = "deleted"
    withdrawn.save()
    return {"gtvt": gtvt, "tnmt": tnmt, "transport": transport, "env": env, **made}


def test_result_shape_and_defaults(client, catalogue):
    status, body = search(client)
    assert (status, body["success"]) == (200, True)
    result = body["result"]
    assert set(result) == {"count", "results", "facets", "search_facets", "sort"}
    assert result["count"] == 5
    assert result["sort"] == "score desc, metadata_modified desc"
    assert names(body) == ["rac-thai", "chat-luong-khong-khi", "bai-do-xe", "tuyen-xe-buyt", "luu-luong-xe"]
    assert result["facets"] == {}
    assert result["search_facets"] == {}
    first = result["results"][0]
    assert first["organization"]["name"] == "so-tnmt"
    assert first["resources"][0]["format"] == "XLSX"


def test_free_text_is_accent_insensitive_and_and_by_default(client, catalogue):
    assert sorted(names(search(client, q="xe")[1])) == ["bai-do-xe", "luu-luong-xe", "tuyen-xe-buyt"]
    assert names(search(client, q="xe buýt")[1]) == ["tuyen-xe-buyt"]
    assert names(search(client, q="XE BUYT")[1]) == ["tuyen-xe-buyt"]
    assert names(search(client, q="không khí")[1]) == ["chat-luong-khong-khi"]
    assert sorted(names(search(client, q="buýt OR rác")[1])) == ["rac-thai", "tuyen-xe-buyt"]
    assert names(search(client, q="xe -buýt -máy")[1]) == ["bai-do-xe"]
    assert search(client, q="tàu điện")[1]["result"]["count"] == 0


def test_title_matches_rank_first(client, catalogue):
    # "môi trường" is in the titles of neither; "rác" is in one title, and in the other's text only
    f.dataset(catalogue["tnmt"], name="thu-gom", title="Điểm thu gom", notes="Thu gom rác tái chế.", tags=["rác"])
    assert names(search(client, q="rác")[1]) == ["rac-thai", "thu-gom"]
    assert names(search(client, q="rác", sort="metadata_modified asc")[1]) == ["rac-thai", "thu-gom"]
    assert names(search(client, q="rác", sort="name asc")[1]) == ["rac-thai", "thu-gom"]
    assert names(search(client, q="rác", sort="name desc")[1]) == ["thu-gom", "rac-thai"]


def test_fielded_queries_and_filters(client, catalogue):
    def fq(query, **kw):
        status, body = search(client, fq=query, sort="name asc", **kw)
        assert status == 200, body
        return names(body)

    assert fq("organization:so-tnmt") == ["chat-luong-khong-khi", "rac-thai"]
    assert fq('tags:"giao thông" AND tags:"xe máy"') == ["luu-luong-xe"]
    assert fq('tags:"giao thông" -res_format:CSV') == ["tuyen-xe-buyt"]
    assert fq("res_format:CSV") == ["bai-do-xe", "chat-luong-khong-khi", "luu-luong-xe"]
    assert fq("groups:giao-thong OR groups:moi-truong") == [
        "chat-luong-khong-khi", "luu-luong-xe", "rac-thai", "tuyen-xe-buyt"
    ]  # fmt: skip
    assert fq("-groups:*") == ["bai-do-xe"]
    assert fq("name:luu*") == ["luu-luong-xe"]
    assert fq("name:*xe") == ["bai-do-xe", "luu-luong-xe"]
    assert fq("+license_id:cc-by +organization:so-gtvt +name:bai-do-xe") == ["bai-do-xe"]
    assert fq(f"id:{catalogue['rac-thai'].id}") == ["rac-thai"]
    assert fq("id:not-a-uuid") == []
    assert len(fq("license_id:cc*")) == 5
    assert fq(f"owner_org:{catalogue['tnmt'].id}") == ["chat-luong-khong-khi", "rac-thai"]
    assert fq("title:buýt") == fq("title:buyt") == ["tuyen-xe-buyt"]
    assert fq("metadata_modified:[2026-01-02T00:00:00Z TO 2026-01-04T00:00:00Z]") == [
        "bai-do-xe", "chat-luong-khong-khi", "tuyen-xe-buyt"
    ]  # fmt: skip
    assert fq("metadata_modified:{2026-01-02T00:00:00Z TO 2026-01-04T00:00:00Z}") == ["bai-do-xe"]
    assert fq("metadata_created:[* TO NOW]") == fq("*:*") == fq("+state:active +capacity:public")
    assert fq("state:draft") == []
    assert fq("dataset_type:dataset organization:so-tnmt") == ["chat-luong-khong-khi", "rac-thai"]
    assert names(search(client, q="organization:so-gtvt xe máy", fq="res_format:JSON")[1]) == ["luu-luong-xe"]
    assert names(search(client, fq_list='["organization:so-gtvt", "res_format:GeoJSON"]')[1]) == ["tuyen-xe-buyt"]


@pytest.mark.parametrize(
    "params",
    [{"fq": "nosuchfield:x"}, {"fq": "(a"}, {"q": "name:(x"}, {"fq": "name:[a TO b]"}, {"sort": "nonsense asc"},
     {"sort": "name"}, {"sort": "title asc"}, {"fq": "metadata_modified:[yesterday TO NOW]"},
     {"facet.field": '["extras_x"]'}, {"fq": "name:a*b*c"}],
)  # fmt: skip
def test_queries_it_cannot_read_are_search_query_errors(client, catalogue, params):
    status, body = search(client, **params)
    assert (status, body["success"], body["error"]["__type"]) == (400, False, "Search Query Error")
    assert body["error"]["message"].startswith("Câu truy vấn không hợp lệ / Search Query is invalid")


def test_nul_and_lone_surrogates_are_refused_not_crashed_on(client, catalogue):
    for body in ('{"q": "a\\u0000b"}', '{"fq": "name:\\ud800"}'):
        response = client.post("/api/3/action/package_search", body, content_type="application/json")
        assert (response.status_code, response.json()["error"]["__type"]) == (400, "Search Query Error")


def test_paging_and_rows(client, catalogue):
    status, body = search(client, sort="name asc", rows=2, start=1)
    assert names(body) == ["chat-luong-khong-khi", "luu-luong-xe"]
    assert body["result"]["count"] == 5
    assert names(search(client, rows=0)[1]) == []
    assert search(client, rows=0)[1]["result"]["count"] == 5
    assert names(search(client, start=50)[1]) == []
    assert search(client, rows=5000)[0] == 200  # lowered to 1000, as CKAN's rows_max
    for bad in ({"rows": "-1"}, {"rows": "ten"}, {"start": "-3"}):
        status, body = search(client, **bad)
        assert (status, body["error"]["__type"]) == (409, "Validation Error")
    assert names(search(client, sort="metadata_created asc, name desc", rows=2)[1]) == [
        "luu-luong-xe", "tuyen-xe-buyt"
    ]  # fmt: skip
    assert names(search(client, sort="title_string asc", rows=2)[1]) == ["bai-do-xe", "chat-luong-khong-khi"]


def test_facets_in_ckans_two_shapes(client, catalogue):
    fields = '["organization","tags","groups","res_format","license_id"]'
    status, body = search(client, **{"facet.field": fields})
    assert status == 200
    result = body["result"]
    assert result["facets"] == {
        "organization": {"so-gtvt": 3, "so-tnmt": 2},
        "tags": {"giao thông": 3, "môi trường": 2, "rác": 1, "xe buýt": 1, "xe máy": 1},
        "groups": {"giao-thong": 2, "moi-truong": 2},
        "res_format": {"CSV": 3, "GeoJSON": 1, "JSON": 1, "XLSX": 1},
        "license_id": {"cc-by": 5},
    }
    assert list(result["facets"]["tags"]) == ["giao thông", "môi trường", "rác", "xe buýt", "xe máy"]
    organization = result["search_facets"]["organization"]
    assert organization == {
        "title": "organization",
        "items": [
            {"name": "so-tnmt", "display_name": "Sở Tài nguyên và Môi trường", "count": 2},
            {"name": "so-gtvt", "display_name": "Sở Giao thông vận tải", "count": 3},
        ],
    }
    assert [i["display_name"] for i in result["search_facets"]["groups"]["items"]] == ["Môi trường", "Giao thông"]
    licence = result["search_facets"]["license_id"]["items"][0]
    assert (licence["name"], licence["count"]) == ("cc-by", 5)
    assert licence["display_name"] != "cc-by"

    body = search(client, q="xe", **{"facet.field": fields, "facet.limit": "1"})[1]["result"]
    assert body["facets"]["tags"] == {"giao thông": 3}
    body = search(client, **{"facet.field": '["tags"]', "facet.mincount": "2", "facet.limit": "-1"})[1]["result"]
    assert body["facets"]["tags"] == {"giao thông": 3, "môi trường": 2}
    body = search(client, **{"facet.field": '["tags"]', "facet": "false"})[1]["result"]
    assert body["facets"] == {}
    assert body["search_facets"] == {}
    body = search(client, fq="res_format:CSV", **{"facet.field": '["res_format"]'})[1]["result"]
    assert body["facets"]["res_format"] == {"CSV": 3, "JSON": 1}


def test_private_datasets_only_for_their_editors_who_ask(client, catalogue):
    assert "an-rieng" not in names(search(client, include_private="true", rows=100)[1])
    editor = identity.user_create(username="bien-tap", password=None, full_name="Biên tập viên")
    Membership.objects.create(organization=catalogue["gtvt"], user=editor, capacity="editor")
    outsider = identity.user_create(username="nguoi-ngoai", password=None, full_name="Người ngoài")
    Membership.objects.create(organization=catalogue["tnmt"], user=outsider, capacity="editor")
    client.force_login(outsider)
    assert "an-rieng" not in names(search(client, include_private="true", rows=100)[1])
    client.force_login(editor)
    assert "an-rieng" not in names(search(client, rows=100)[1])
    assert "an-rieng" in names(search(client, include_private="true", rows=100)[1])
    assert names(search(client, include_private="true", fq="capacity:private")[1]) == ["an-rieng"]


def test_a_write_is_seen_at_once_through_the_cache(client, catalogue):
    params = {"q": "xe", "facet.field": '["organization"]'}
    assert search(client, **params)[1]["result"]["facets"]["organization"] == {"so-gtvt": 3}
    f.dataset(catalogue["tnmt"], name="xe-rac", title="Xe chở rác")
    assert search(client, **params)[1]["result"]["facets"]["organization"] == {"so-gtvt": 3, "so-tnmt": 1}
    Dataset.objects.filter(name="xe-rac").delete()
    assert search(client, **params)[1]["result"]["count"] == 3


def test_query_count_is_fixed(client, catalogue, django_assert_max_num_queries):
    fields = '["organization","tags","groups","res_format","license_id"]'
    # the catalogue's version, count and facets in one statement, the page, its resources, tags and groups
    with django_assert_max_num_queries(6):
        status, _ = search(client, q="xe", fq="res_format:CSV", rows=100, **{"facet.field": fields})
    assert status == 200


def test_post_json_as_ckanapi_sends_it(client, catalogue):
    import json

    body = {"q": "xe", "fq": "organization:so-gtvt", "rows": 1, "start": 0,
            "facet.field": ["organization"], "sort": "name asc"}  # fmt: skip
    response = client.post("/api/action/package_search", json.dumps(body), content_type="application/json")
    result = response.json()["result"]
    assert (result["count"], [r["name"] for r in result["results"]]) == (3, ["bai-do-xe"])
    assert result["facets"] == {"organization": {"so-gtvt": 3}}


def test_facets_follow_a_dataset_as_it_changes(client, db):
    """The facet values are kept on the dataset (``facet_keys``): an update that drops a tag, a
    group and a resource moves the counts at once."""
    from hcmgov.opendata import services

    org = f.organization()
    services.group_upsert(name="giao-thong", title="Giao thông")
    data = {"name": "xe-buyt", "title": "Xe buýt", "tags": ["xe", "buýt"], "groups": ["giao-thong"],
            "resources": [{"name": "a", "format": "CSV", "url": "https://x.vn/a"},
                          {"name": "b", "format": "GeoJSON", "url": "https://x.vn/b"}]}  # fmt: skip
    services.dataset_upsert(data=data, organization=org)
    fields = '["tags","groups","res_format"]'
    _, body = search(client, **{"facet.field": fields})
    assert body["result"]["facets"] == {"tags": {"xe": 1, "buýt": 1}, "groups": {"giao-thong": 1},
                                        "res_format": {"CSV": 1, "GeoJSON": 1}}  # fmt: skip
    services.dataset_upsert(data={**data, "tags": ["xe"], "groups": [], "resources": data["resources"][:1]},
                            organization=org)  # fmt: skip
    _, body = search(client, **{"facet.field": fields})
    assert body["result"]["facets"] == {"tags": {"xe": 1}, "groups": {}, "res_format": {"CSV": 1}}
    assert Dataset.objects.get(name="xe-buyt").facet_keys == sorted(Dataset.objects.get(name="xe-buyt").facet_keys)


def test_a_free_text_page_comes_in_score_order_from_the_facet_statement(client, db):
    """Free text takes its page from the statement that counts and facets (one scan): the order is
    still score first, then the sort's tie-breakers, page after page."""
    org = f.organization()
    for i, title in enumerate(["Xe buýt", "Bến xe", "Nước sạch", "Bãi đỗ", "Xe đạp", "Chợ"]):
        notes = "có xe" if i in (2, 3) else "không"
        f.dataset(org, name=f"ds-{i}", title=title, notes=notes)
    _, body = search(client, q="xe", sort="score desc, name asc", rows=2)
    first = names(body)
    _, body2 = search(client, q="xe", sort="score desc, name asc", rows=2, start=2)
    assert body["result"]["count"] == 5
    assert first + names(body2) == ["ds-0", "ds-1", "ds-4", "ds-2"]
