"""GET /entities: type, id, idPattern, attrs, q, geo-queries, paging and count; batch operations;
types and attributes."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
# three air sensors in Ho Chi Minh City: Bến Thành, Thủ Đức, Cần Giờ
SITES = {"ben-thanh": (106.698, 10.772), "thu-duc": (106.769, 10.851), "can-gio": (106.953, 10.411)}


def _sensors(api, air):
    bodies = []
    for n, (name, (lon, lat)) in enumerate(SITES.items()):
        body = json.loads(json.dumps(air))
        body["id"] = f"urn:ngsi-ld:AirQualityObserved:{name}"
        body["location"]["value"]["coordinates"] = [lon, lat]
        body["airQualityIndex"]["value"] = 50 + 60 * n  # 50, 110, 170
        body["airQualityLevel"]["value"] = ["good", "moderate", "unhealthy"][n]
        body["dateObserved"]["value"] = f"2026-11-2{n}T10:00:00Z"
        body["address"]["value"]["addressLocality"] = name
        bodies.append(body)
    response = api.post("/entityOperations/create", bodies)
    assert response.status_code == 201, response.content
    assert sorted(response.json()) == sorted(b["id"] for b in bodies)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("airQualityIndex>100", {"thu-duc", "can-gio"}),
        ("airQualityIndex>=110;airQualityIndex<170", {"thu-duc"}),
        ("airQualityIndex==50..110", {"ben-thanh", "thu-duc"}),
        ("airQualityIndex==50,170", {"ben-thanh", "can-gio"}),
        ("airQualityIndex!=50", {"thu-duc", "can-gio"}),
        ('airQualityLevel=="good"|airQualityLevel=="unhealthy"', {"ben-thanh", "can-gio"}),
        ('(airQualityLevel=="good"|airQualityIndex>150);co==500', {"ben-thanh", "can-gio"}),
        ("airQualityLevel~=mod.*", {"thu-duc"}),
        ('address[addressLocality]=="thu-duc"', {"thu-duc"}),
        ("dateObserved>2026-11-21T00:00:00Z", {"thu-duc", "can-gio"}),
        ('co.unitCode=="GP"', {"ben-thanh", "thu-duc", "can-gio"}),
        ("nothing", set()),
        ("refPointOfInterest==urn:ngsi-ld:PointOfInterest:28079004-Pza.deEspanya", {"ben-thanh", "thu-duc", "can-gio"}),
    ],
)
def test_q(api, air, q, expected):
    _sensors(api, air)
    response = api.get("/entities", {"type": "AirQualityObserved", "q": q})
    assert response.status_code == 200, response.content
    assert {e["id"].rsplit(":", 1)[1] for e in response.json()} == expected


@pytest.mark.parametrize("q", ["airQualityIndex>", "(a==1", "a==1;", "a~=(", 'a=="x', "a b", "&&"])
def test_bad_q(api, q):
    response = api.get("/entities", {"type": "T", "q": q})
    assert response.status_code == 400
    assert response.json()["type"] == ERR + "BadRequestData"


def test_geo(api, air):
    _sensors(api, air)
    near = api.get(
        "/entities",
        {
            "type": "AirQualityObserved",
            "georel": "near;maxDistance==2000",
            "geometry": "Point",
            "coordinates": "[106.70,10.775]",
        },
    )
    assert [e["id"] for e in near.json()] == ["urn:ngsi-ld:AirQualityObserved:ben-thanh"]
    far = api.get(
        "/entities",
        {
            "type": "AirQualityObserved",
            "georel": "near;minDistance==20000",
            "geometry": "Point",
            "coordinates": "[106.70,10.775]",
        },
    )
    assert [e["id"] for e in far.json()] == ["urn:ngsi-ld:AirQualityObserved:can-gio"]
    inner_city = "[[[106.6,10.7],[106.8,10.7],[106.8,10.9],[106.6,10.9],[106.6,10.7]]]"
    within = api.get(
        "/entities",
        {"type": "AirQualityObserved", "georel": "within", "geometry": "Polygon", "coordinates": inner_city},
    )
    assert {e["id"].rsplit(":", 1)[1] for e in within.json()} == {"ben-thanh", "thu-duc"}
    disjoint = api.get(
        "/entities",
        {"type": "AirQualityObserved", "georel": "disjoint", "geometry": "Polygon", "coordinates": inner_city},
    )
    assert {e["id"].rsplit(":", 1)[1] for e in disjoint.json()} == {"can-gio"}
    intersects = api.get("/entities", {"georel": "intersects", "geometry": "Polygon", "coordinates": inner_city})
    assert len(intersects.json()) == 2
    for bad in [
        {"georel": "near", "geometry": "Point", "coordinates": "[106,10]"},
        {"georel": "touches", "geometry": "Point", "coordinates": "[106,10]"},
        {"georel": "within", "geometry": "Polygon", "coordinates": "[[[1,1],[2,2]]]"},
        {"georel": "within", "geometry": "Circle", "coordinates": "[1,1]"},
        {"georel": "within", "geometry": "Point", "coordinates": "not json"},
    ]:
        assert api.get("/entities", {"type": "T", **bad}).status_code == 400


def test_traffic_line_geometry(api, traffic):
    api.post("/entities", traffic)
    box = "[[[-4.74,41.65],[-4.73,41.65],[-4.73,41.67],[-4.74,41.67],[-4.74,41.65]]]"
    hits = api.get("/entities", {"georel": "within", "geometry": "Polygon", "coordinates": box})
    assert [e["id"] for e in hits.json()] == [traffic["id"]]
    near = api.get(
        "/entities", {"georel": "near;maxDistance==100", "geometry": "Point", "coordinates": "[-4.7357,41.657]"}
    )
    assert len(near.json()) == 1  # near the middle of the segment, far from its vertices


def test_ids_pattern_attrs_paging_count(api, air):
    _sensors(api, air)
    by_pattern = api.get("/entities", {"idPattern": ".*:(ben|thu).*", "attrs": "airQualityIndex"}).json()
    assert len(by_pattern) == 2
    assert set(by_pattern[0]) == {"id", "type", "airQualityIndex"}
    ids = api.get(
        "/entities", {"id": "urn:ngsi-ld:AirQualityObserved:can-gio,urn:x:none", "type": "AirQualityObserved"}
    ).json()
    assert len(ids) == 1
    page = api.get("/entities", {"type": "AirQualityObserved", "limit": 2, "offset": 1, "count": "true"})
    assert len(page.json()) == 2
    assert page["NGSILD-Results-Count"] == "3"
    only_count = api.get("/entities", {"type": "AirQualityObserved", "limit": 0, "count": "true", "q": "co==500"})
    assert only_count.json() == []
    assert only_count["NGSILD-Results-Count"] == "3"
    assert api.get("/entities").status_code == 400  # no filter at all
    assert api.get("/entities", {"type": "T", "limit": "x"}).status_code == 400
    assert api.get("/entities", {"type": "T", "limit": 100000}).status_code == 400
    assert api.get("/entities", {"idPattern": "("}).status_code == 400
    assert api.get("/entities", {"type": "T"}, headers={"Accept": "text/html"}).status_code == 406
    kv = api.get("/entities", {"type": "AirQualityObserved", "options": "keyValues", "attrs": "co"}).json()
    assert kv[0]["co"] == 500


def test_batch_partial_success(api, air):
    _sensors(api, air)
    again = json.loads(json.dumps(air))
    again["id"] = "urn:ngsi-ld:AirQualityObserved:ben-thanh"
    fresh = {**again, "id": "urn:ngsi-ld:AirQualityObserved:new"}
    response = api.post("/entityOperations/create", [again, fresh, {"id": "bad"}])
    assert response.status_code == 207
    body = response.json()
    assert body["success"] == ["urn:ngsi-ld:AirQualityObserved:new"]
    assert [e["error"]["type"] for e in body["errors"]] == [ERR + "AlreadyExists", ERR + "BadRequestData"]
    update = {
        "id": "urn:ngsi-ld:AirQualityObserved:ben-thanh",
        "type": "AirQualityObserved",
        "co": {"type": "Property", "value": 1},
    }
    upsert = api.post("/entityOperations/upsert?options=update", [update, {**update, "id": "urn:ngsi-ld:X:9"}])
    assert upsert.status_code == 201
    assert upsert.json() == ["urn:ngsi-ld:X:9"]
    assert api.get("/entities/urn:ngsi-ld:AirQualityObserved:ben-thanh", {"options": "keyValues"}).json()["so2"] == 11
    replace = api.post("/entityOperations/upsert", [update])
    assert replace.status_code == 204
    assert "so2" not in api.get("/entities/urn:ngsi-ld:AirQualityObserved:ben-thanh").json()
    assert api.post("/entityOperations/update", [update]).status_code == 204
    missing = api.post("/entityOperations/update", [{**update, "id": "urn:x:none"}])
    assert missing.status_code == 207
    assert missing.json()["errors"][0]["error"]["type"] == ERR + "ResourceNotFound"
    deleted = api.post("/entityOperations/delete", ["urn:ngsi-ld:X:9", "urn:x:none"])
    assert deleted.status_code == 207
    assert deleted.json()["success"] == ["urn:ngsi-ld:X:9"]
    assert api.post("/entityOperations/delete", ["urn:ngsi-ld:AirQualityObserved:new"]).status_code == 204
    assert api.post("/entityOperations/create", {"id": "x"}).status_code == 400
    assert api.post("/entityOperations/create", []).status_code == 400


def test_types_and_attributes(api, air, traffic):
    _sensors(api, air)
    api.post("/entities", traffic)
    types = api.get("/types").json()
    assert types["type"] == "EntityTypeList"
    assert types["typeList"] == ["AirQualityObserved", "TrafficFlowObserved"]
    details = api.get("/types", {"details": "true"}).json()
    assert "intensity" in details[1]["attributeNames"]
    info = api.get("/types/AirQualityObserved").json()
    assert info["entityCount"] == 3
    assert {
        "id": "https://uri.etsi.org/ngsi-ld/location",
        "type": "Attribute",
        "attributeName": "location",
        "attributeTypes": ["GeoProperty"],
    } in info["attributeDetails"]
    assert api.get("/types/Nothing").status_code == 404
    attrs = api.get("/attributes").json()
    assert "intensity" in attrs["attributeList"]
    assert "co" in attrs["attributeList"]
    location = api.get("/attributes/location").json()
    assert location["attributeCount"] == 4
    assert location["typeNames"] == ["AirQualityObserved", "TrafficFlowObserved"]
    assert api.get("/attributes/nothing").status_code == 404
