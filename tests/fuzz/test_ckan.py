"""Fuzzing the CKAN-compatible Action API (``/api/3/action/{name}``): every action, read or write,
with any parameters — as a query string (repeated keys and all), a JSON body of any shape, a form,
or bytes that are not JSON — answers in CKAN's envelope, never a 500: ``{"success": true,
"result": …}`` with 200, or ``{"success": false, "error": {"__type": …}}`` with CKAN's status; and
a refused write changes no dataset, resource or datastore row.

``package_search``'s q/fq/sort and ``datastore_search``'s filters and SQL have their own property
tests in ``hcmgov/opendata/tests``; these cover every other parameter and action."""

# the fixtures are imported by name from the opendata tests and received as arguments (F811)
# ruff: noqa: F811

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fuzz._strategies import hostile_json, json_values, wire_text

from hcmgov.opendata.ckan import ACTIONS, load_actions
from hcmgov.opendata.datastore_db import store
from hcmgov.opendata.models import Dataset, Resource
from hcmgov.opendata.tests.test_datastore_fixtures import (  # noqa: F401 - fixtures, used by name
    _datastore_file,
    air,
    anon,
    ckan,
    dataset,
    editor,
    org,
)

pytestmark = pytest.mark.django_db

load_actions()
READS = sorted(name for name, registered in ACTIONS.items() if not registered.write)
WRITES = sorted(name for name, registered in ACTIONS.items() if registered.write)
CKAN_TYPES = {
    "Bad Request",
    "Not Found Error",
    "Validation Error",
    "Authorization Error",
    "Search Query Error",
    "Search Error",
}
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

KEYS = ["id", "name", "resource_id", "package_id", "q", "fq", "sort", "fields", "filters", "limit", "offset",
        "rows", "start", "distinct", "include_total", "records_format", "plain", "language", "all_fields",
        "include_datasets", "include_records", "facet.field", "facet.limit", "records", "method", "force",
        "primary_key", "indexes", "resource", "title", "owner_org", "tags", "resources", "extras", "sql",
        "include_private", "use_default_schema", "order_by", "groups", "full_text", "callback"]  # fmt: skip
VALUE_HINTS = st.sampled_from(
    ["", "0", "-1", "1e9", "99999999999999999999", "true", "nope", "aqi desc", "aqi desc, quan", '"quan" asc',
     "_id", "quan,tram", "*", "ngay:2026-01-01", "{}", "[]", '{"quan": "Quận 1"}', '{"aqi": [99, 151]}',
     "objects", "lists", "csv", "tsv", "english", "vietnamese", "chat-luong-khong-khi", "so-tnmt",
     "upsert", "insert", "update"]
)  # fmt: skip
params = st.dictionaries(st.sampled_from(KEYS) | wire_text, json_values | VALUE_HINTS, max_size=6)


def assert_ckan_answer(response: Any) -> dict[str, Any]:
    assert response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert body["success"] is (response.status_code == 200), body
    if not body["success"]:
        assert body["error"]["__type"] in CKAN_TYPES, body
        assert response.status_code in (400, 403, 404, 409), response.status_code
    else:
        assert "result" in body
    return body


def _with_air(data: dict[str, Any], air: str, aim: bool) -> dict[str, Any]:
    """Half the time the request names the real table, so that it gets past the lookup."""
    if aim:
        data = {**data, "resource_id": air, "id": air}
    return data


def _query_string(data: dict[str, Any]) -> list[tuple[str, str]]:
    """A query string as a client would write it: lists as repeated keys, the rest as text."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((key, item if isinstance(item, str) else json.dumps(item)))
    return [(k.encode("utf-8", "replace").decode(), v.encode("utf-8", "replace").decode()) for k, v in pairs]


def ckan_snapshot(air: str) -> tuple[Any, ...]:
    from hcmgov.opendata.datastore_db import StoreError

    try:
        rows: int | None = store().count(air)
    except StoreError:  # datastore_delete dropped the table: a change like any other
        rows = None
    return (
        sorted(Dataset.objects.values_list("name", "state", "title", "metadata_modified")),
        sorted(Resource.objects.values_list("id", "name", "url", "state")),
        rows,
    )


@FUZZ
@given(name=st.sampled_from(READS), data=params, aim=st.booleans(), how=st.sampled_from(["get", "json", "form"]))
def test_any_read_action_any_parameters_is_a_ckan_answer(client, air, name, data, aim, how):
    data = _with_air(data, air, aim)
    url = f"/api/3/action/{name}"
    if how == "get":
        from urllib.parse import urlencode

        response = client.get(url + "?" + urlencode(_query_string(data)))
    elif how == "json":
        response = client.post(url, json.dumps(data), content_type="application/json")
    else:
        response = client.post(url, dict(_query_string(data)))
    assert_ckan_answer(response)


@FUZZ
@given(name=st.sampled_from(WRITES), data=params, aim=st.booleans(), token=st.sampled_from(["editor", "none", "bad"]))
def test_any_write_action_any_parameters_is_a_ckan_answer_and_a_refusal_changes_nothing(
    client, ckan, air, name, data, aim, token
):
    data = _with_air(data, air, aim)
    headers = {"editor": {"Authorization": ckan.token}, "none": {}, "bad": {"Authorization": "hcm_not-a-token"}}
    before = ckan_snapshot(air)
    response = client.post(
        f"/api/3/action/{name}", json.dumps(data), content_type="application/json", headers=headers[token]
    )
    body = assert_ckan_answer(response)
    if not body["success"]:
        assert ckan_snapshot(air) == before, (name, data, body)
    if token != "editor":
        assert not body["success"]


@FUZZ
@given(
    name=st.sampled_from(READS + WRITES) | wire_text,
    raw=st.binary(max_size=200) | st.sampled_from([b"{", b"[1,2]", b'"x"', b"null"]) | hostile_json,
    ctype=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", ""]),
    method=st.sampled_from(["post", "put", "delete", "patch"]),
)
def test_any_bytes_any_method_is_a_ckan_answer(client, ckan, air, name, raw, ctype, method):
    from urllib.parse import quote

    before = ckan_snapshot(air)
    response = getattr(client, method)(
        f"/api/3/action/{quote(name, safe='')}", raw, content_type=ctype, headers={"Authorization": ckan.token}
    )
    if response.status_code == 404 and not response["Content-Type"].startswith("application/json"):
        assert "/" in name or not name  # only a name the URL pattern cannot hold misses the action view
        return
    body = assert_ckan_answer(response)
    if not body["success"]:
        assert ckan_snapshot(air) == before


def test_a_nul_in_the_address_is_refused_in_ckan_s_envelope(client):
    """Regression: the platform's early refusal of a NUL (``common.middleware.refusal``) answered
    a problem document on the Action API, which CKAN clients (ckanapi) cannot read."""
    response = client.get("/api/3/action/package_search", {"q": "xe\x00"})
    assert response.status_code == 400
    assert assert_ckan_answer(response)["error"]["__type"] == "Bad Request"


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"a":' * 100_000])
def test_json_nested_too_deeply_is_a_bad_request(client, raw):
    """Regression: ``json.loads`` raises RecursionError (not ValueError) past Python's recursion
    limit; the Action API let it through as a 500."""
    response = client.post("/api/3/action/package_search", raw, content_type="application/json")
    assert response.status_code == 400
    assert assert_ckan_answer(response)["error"]["__type"] == "Bad Request"


def test_a_form_that_cannot_be_read_is_a_bad_request(client):
    """Regression: a multipart body Django cannot parse (here: no boundary) raised out of
    ``request.POST`` and Django answered its HTML 400 page instead of CKAN's envelope."""
    response = client.post("/api/3/action/package_list", b"a=1", content_type="multipart/form-data")
    assert response.status_code == 400
    assert assert_ckan_answer(response)["error"]["__type"] == "Bad Request"
