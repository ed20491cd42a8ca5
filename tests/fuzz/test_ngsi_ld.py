"""Fuzzing /ngsi-ld/v1 (ETSI GS CIM 009 V1.6.1) through the Django test client: whatever body
(JSON of any shape, entity-like JSON with broken members, bytes that are not JSON) and whatever
query parameters a caller sends, the broker answers below 500, every error is ProblemDetails with
an NGSI-LD ``type`` and a ``title``, and a refused write leaves the entities and subscriptions as
they were (a batch's 207 may change only the entities it reports as succeeded).

The hand-picked bad inputs are in ``hcmgov/ngsi/tests/test_bad_input.py``; these draw fresh ones
on every run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fuzz._strategies import hostile_json, json_values, wire_text

from hcmgov.ngsi import jsonld
from hcmgov.ngsi.models import AttributeInstance, Entity, Subscription
from hcmgov.ngsi.tests.conftest import Api

pytestmark = pytest.mark.django_db

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
IDS = ["urn:ngsi-ld:Fuzz:1", "urn:ngsi-ld:Fuzz:2", "urn:ngsi-ld:Fuzz:3"]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

ids = st.sampled_from(IDS) | wire_text
geometry = st.fixed_dictionaries(
    {"type": st.sampled_from(["Point", "Polygon", "LineString", "MultiPoint", "Nope"]) | json_values},
    optional={"coordinates": json_values | st.lists(st.floats(-200, 200), min_size=2, max_size=3)},
)
attribute = st.fixed_dictionaries(
    {"type": st.sampled_from(["Property", "Relationship", "GeoProperty", "LanguageProperty", "Junk"]) | json_values},
    optional={
        "value": json_values | geometry,
        "object": ids | json_values,
        "languageMap": st.dictionaries(st.sampled_from(["vi", "en", "@none"]) | wire_text, wire_text) | json_values,
        "observedAt": st.sampled_from(["2026-01-01T00:00:00Z", "2026-13-45T99:00:00Z"]) | json_values,
        "unitCode": st.just("CEL") | json_values,
        "datasetId": st.just("urn:ngsi-ld:Dataset:a") | json_values,
        "sub": json_values,
    },
)
entity = st.fixed_dictionaries(
    {"id": ids | json_values, "type": st.sampled_from(["Fuzz", "AirQualityObserved"]) | json_values},
    optional={
        "temperature": attribute | json_values,
        "location": attribute,
        "name": attribute,
        "@context": st.sampled_from([jsonld.CORE_URL, "https://example.invalid/ctx.jsonld"]) | json_values,
        "scope": json_values,
    },
)
fragment = st.dictionaries(st.sampled_from(["temperature", "location", "name", "@context"]) | wire_text, attribute)
subscription = st.fixed_dictionaries(
    {
        "type": st.just("Subscription") | json_values,
        "entities": st.lists(st.fixed_dictionaries({"type": st.just("Fuzz") | json_values}), max_size=2) | json_values,
    },
    optional={
        "id": ids,
        "watchedAttributes": st.lists(wire_text, max_size=3) | json_values,
        "q": wire_text,
        "geoQ": json_values,
        "notification": st.fixed_dictionaries(
            {"endpoint": st.fixed_dictionaries({"uri": st.just("http://127.0.0.1:9/n") | wire_text}) | json_values},
            optional={"format": st.sampled_from(["normalized", "keyValues", "x"]), "attributes": json_values},
        )
        | json_values,
        "expiresAt": st.sampled_from(["2099-01-01T00:00:00Z", "yesterday"]) | json_values,
        "throttling": st.integers(-5, 2**40) | json_values,
    },
)

WRITES: list[tuple[str, str, Any]] = [
    ("POST", "/entities", entity | json_values),
    ("POST", f"/entities/{IDS[0]}/attrs", fragment | json_values),
    ("PATCH", f"/entities/{IDS[0]}/attrs", fragment | json_values),
    ("PATCH", f"/entities/{IDS[0]}/attrs/temperature", attribute | json_values),
    ("POST", "/entityOperations/create", st.lists(entity, min_size=1, max_size=4) | json_values),
    ("POST", "/entityOperations/upsert", st.lists(entity, min_size=1, max_size=4) | json_values),
    ("POST", "/entityOperations/update", st.lists(entity, min_size=1, max_size=4) | json_values),
    ("POST", "/entityOperations/delete", st.lists(ids | json_values, min_size=1, max_size=4) | json_values),
    ("POST", "/subscriptions", subscription | json_values),
    ("PATCH", "/subscriptions/urn:ngsi-ld:Subscription:fuzz", subscription | json_values),
]
OPTIONS = st.sampled_from(["", "?options=update", "?options=noOverwrite", "?options=keyValues,sysAttrs"])


@pytest.fixture(autouse=True)
def _fresh_contexts():
    jsonld.context_forget()
    yield
    jsonld.context_forget()


@pytest.fixture
def api(db, settings) -> Api:
    """An official's token (officials write), two entities and a subscription to write over."""
    settings.NGSI_LD_NOTIFY_ALLOWED = ["127.0.0.0/8"]  # the subscription's receiver is on loopback
    from hcmgov.identity.services import api_token_issue
    from hcmgov.identity.tests.factories import UserFactory

    caller = Api(api_token_issue(user=UserFactory(official=True), name="fuzz").raw)
    caller.client.raise_request_exception = False  # a 500 is an answer to check, not a crash
    for entity_id in IDS[:2]:
        body = {"id": entity_id, "type": "Fuzz", "temperature": {"type": "Property", "value": 21.5}}
        assert caller.post("/entities", body).status_code == 201
    sub = {
        "id": "urn:ngsi-ld:Subscription:fuzz",
        "type": "Subscription",
        "entities": [{"type": "Fuzz"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}},
    }
    assert caller.post("/subscriptions", sub).status_code == 201
    return caller


def assert_ngsi_answer(response: Any) -> None:
    """Below 500, except the one 5xx the NGSI-LD API defines for a client's own input: a remote
    ``@context`` that cannot be had answers 503 LdContextNotAvailable (GS CIM 009, clause 5.5.6 and
    table 5.5.4-1); an error is ProblemDetails (application/json, NGSI-LD ``type``, ``title``)."""
    if response.status_code == 503:
        assert json.loads(response.content)["type"] == ERR + "LdContextNotAvailable", response.content[:300]
    else:
        assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code >= 400:
        assert response["Content-Type"].split(";")[0] in ("application/json", "application/problem+json")
        body = json.loads(response.content)
        assert body["type"].startswith(ERR), body
        assert body["title"], body
        assert body["status"] == response.status_code, body


def snapshot() -> dict[str, Any]:
    return {
        "entities": {e.entity_id: (e.type, json.dumps(e.attrs, sort_keys=True)) for e in Entity.objects.all()},
        "history": AttributeInstance.objects.count(),
        "subscriptions": {
            s.subscription_id: json.dumps([s.entities, s.watched_attributes, s.q, s.notification], sort_keys=True)
            for s in Subscription.objects.all()
        },
    }


def changed_entities(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    keys = set(before["entities"]) | set(after["entities"])
    return {k for k in keys if before["entities"].get(k) != after["entities"].get(k)}


@FUZZ
@given(data=st.data(), ctype=st.sampled_from(["application/json", "application/ld+json"]), options=OPTIONS)
def test_any_json_body_is_answered_and_a_refusal_writes_nothing(api, data, ctype, options):
    method, path, bodies = data.draw(st.sampled_from(WRITES))
    body = data.draw(bodies)
    before = snapshot()
    response = api.send(method, path + options, body, ctype=ctype)
    assert_ngsi_answer(response)
    after = snapshot()
    if response.status_code >= 400:
        assert after == before, (method, path, body, response.content[:300])
    elif response.status_code == 207 and path.startswith("/entityOperations"):
        answer = json.loads(response.content)
        assert set(answer) == {"success", "errors"}, answer
        assert changed_entities(before, after) <= {str(i) for i in answer["success"]}, answer
    elif response.status_code == 207:  # attrs: the attributes not written are named
        assert "notUpdated" in json.loads(response.content)


@FUZZ
@given(
    data=st.data(),
    raw=st.binary(max_size=300) | wire_text.map(lambda s: s.encode("utf-8")) | hostile_json,
    ctype=st.sampled_from(
        ["application/json", "application/ld+json", "text/plain", "", "application/json; charset=latin-1"]
    ),
    link=st.none() | wire_text | st.just(f'<{jsonld.CORE_URL}>; rel="http://www.w3.org/ns/json-ld#context"'),
)
def test_any_bytes_are_answered_and_write_nothing_when_refused(api, data, raw, ctype, link):
    method, path, _ = data.draw(st.sampled_from(WRITES))
    before = snapshot()
    headers = {"Link": link} if link is not None else None
    try:
        response = api.send(method, path, raw, ctype=ctype, headers=headers)
    except ValueError:  # the test client itself refuses header values with a newline
        return
    assert_ngsi_answer(response)
    if response.status_code >= 400:
        assert snapshot() == before


QUERY_KEYS = ["q", "type", "attrs", "id", "idPattern", "georel", "geometry", "coordinates", "geoproperty",
              "timerel", "timeAt", "endTimeAt", "lastN", "options", "format", "limit", "offset", "count",
              "details", "datasetId", "deleteAll", "aggrMethods", "aggrPeriodDuration", "scopeQ", "csf"]  # fmt: skip
QUERY_VALUES = {
    "q": st.sampled_from(["temperature>20", 'temperature=="x"|(a>1;b<2)', "a[b][c]~=.*", "((", "a==1..", 'a!="\\"']),
    "type": st.sampled_from(["Fuzz", "Fuzz,AirQualityObserved", "ngsi-ld:x", ",", "Fuzz|AirQualityObserved"]),
    "georel": st.sampled_from(
        [
            "near;maxDistance==1000",
            "near;minDistance==x",
            "within",
            "intersects",
            "equals",
            "disjoint",
            "overlaps",
            "contains",
            "near",
            "near;maxDistance==-1",
        ]
    ),
    "geometry": st.sampled_from(["Point", "Polygon", "LineString", "MultiPolygon", "Circle"]),
    "coordinates": st.sampled_from(
        [
            "[106.7,10.8]",
            "[[[106,10],[107,10],[107,11],[106,10]]]",
            "[1e400,0]",
            "[[1,2],[3,4]]",
            "[",
            "[null,1]",
            "[[[]]]",
        ]
    ),
    "timerel": st.sampled_from(["before", "after", "between", "x"]),
    "timeAt": st.sampled_from(["2026-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "now", "9999-12-31T23:59:59Z"]),
    "endTimeAt": st.sampled_from(["2026-01-02T00:00:00Z", "0000-01-01T00:00:00Z"]),
    "lastN": st.sampled_from(["1", "0", "-1", "99999999999999999999", "x"]),
    "options": st.sampled_from(["keyValues", "sysAttrs", "temporalValues", "aggregatedValues", "count", "x,,y"]),
    "limit": st.sampled_from(["0", "1", "-1", "100000", "1e3", "99999999999999999999"]),
    "offset": st.sampled_from(["0", "5", "-3", "99999999999999999999"]),
    "count": st.sampled_from(["true", "false"]),
}
params = st.dictionaries(
    st.sampled_from(QUERY_KEYS) | wire_text,
    st.one_of(wire_text, *QUERY_VALUES.values()),
    max_size=6,
)
READS = [
    "/entities",
    f"/entities/{IDS[0]}",
    "/entities/not%20a%20uri",
    "/types",
    "/types/Fuzz",
    "/attributes",
    "/attributes/temperature",
    "/subscriptions",
    "/subscriptions/urn:ngsi-ld:Subscription:fuzz",
    "/temporal/entities",
    f"/temporal/entities/{IDS[0]}",
]


@FUZZ
@given(
    path=st.sampled_from(READS),
    query=params,
    accept=st.sampled_from(["application/json", "application/ld+json", "*/*", "text/html", "application/geo+json"])
    | wire_text,
)
def test_any_query_parameters_are_answered(api, path, query, accept):
    before = snapshot()
    try:
        response = api.get(path, query, headers={"Accept": accept})
    except ValueError:  # a header value with a newline: no HTTP client could send it
        return
    assert_ngsi_answer(response)
    assert snapshot() == before


@FUZZ
@given(query=params, entity_id=st.sampled_from(IDS) | wire_text, attr=st.sampled_from(["temperature"]) | wire_text)
def test_any_delete_is_answered(api, query, entity_id, attr):
    from urllib.parse import quote, urlencode

    for path in (f"/entities/{quote(entity_id, safe='')}/attrs/{quote(attr, safe='')}", "/subscriptions/x"):
        before = snapshot()
        response = api.delete(path + "?" + urlencode(query))
        assert_ngsi_answer(response)
        if response.status_code >= 400:
            assert snapshot() == before


def test_a_nul_in_the_address_is_refused_as_ngsi_problem_details(api):
    """Regression: the platform's early refusal of a NUL (``common.middleware.refusal``) answered
    an HTML page on /ngsi-ld/v1, which NGSI-LD clients cannot read."""
    response = api.get("/entities", {"type": "Fuzz\x00"})
    assert response.status_code == 400
    assert_ngsi_answer(response)
    assert json.loads(response.content)["type"] == ERR + "BadRequestData"


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"a":' * 100_000])
def test_json_nested_too_deeply_is_an_invalid_request(api, raw):
    """Regression: ``json.loads`` raises RecursionError (not ValueError) past Python's recursion
    limit; it reached the catch-all and answered 500 InternalError."""
    response = api.post("/entities", raw)
    assert response.status_code == 400
    assert json.loads(response.content)["type"] == ERR + "InvalidRequest"
