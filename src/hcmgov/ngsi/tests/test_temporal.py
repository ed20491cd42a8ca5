"""The temporal API over the attribute history the store keeps for every Property written with
observedAt: a day of PM2.5 readings of one air sensor, updated through the API."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

SENSOR = "urn:ngsi-ld:AirQualityObserved:ben-thanh"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"


@pytest.fixture
def day(api, air):
    """24 hourly readings of pm25 = hour (0..23) and temperature = 25 on 2026-11-27."""
    body = {**air, "id": SENSOR}
    body["pm25"] = {"type": "Property", "value": 0, "unitCode": "GQ", "observedAt": "2026-11-27T00:00:00Z"}
    assert api.post("/entities", body).status_code == 201
    for hour in range(1, 24):
        at = f"2026-11-27T{hour:02d}:00:00Z"
        response = api.patch(
            f"/entities/{SENSOR}/attrs",
            {
                "pm25": {"type": "Property", "value": hour, "unitCode": "GQ", "observedAt": at},
                "temperature": {"type": "Property", "value": 25, "observedAt": at},
            },
        )
        assert response.status_code == 204
    return SENSOR


def test_history_between_and_last_n(api, day):
    params = {
        "timerel": "between",
        "timeAt": "2026-11-27T06:00:00Z",
        "endTimeAt": "2026-11-27T12:00:00Z",
        "attrs": "pm25",
    }
    got = api.get(f"/temporal/entities/{day}", params).json()
    assert got["id"] == day
    assert got["type"] == "AirQualityObserved"
    assert set(got) == {"id", "type", "pm25"}
    assert [i["value"] for i in got["pm25"]] == [6, 7, 8, 9, 10, 11]
    first = got["pm25"][0]
    assert first["observedAt"] == "2026-11-27T06:00:00Z"
    assert first["unitCode"] == "GQ"
    assert first["instanceId"].startswith("urn:ngsi-ld:attribute:instance:")
    last = api.get(f"/temporal/entities/{day}", {"lastN": 3, "attrs": "pm25"}).json()
    assert [i["value"] for i in last["pm25"]] == [21, 22, 23]
    before = api.get(f"/temporal/entities/{day}", {"timerel": "before", "timeAt": "2026-11-27T02:00:00Z"}).json()
    assert [i["value"] for i in before["pm25"]] == [0, 1]
    assert "temperature" in before
    values = api.get(
        f"/temporal/entities/{day}",
        {"timerel": "after", "timeAt": "2026-11-27T22:00:00Z", "options": "temporalValues", "attrs": "pm25"},
    ).json()
    assert values["pm25"] == {
        "type": "Property",
        "values": [[22, "2026-11-27T22:00:00Z"], [23, "2026-11-27T23:00:00Z"]],
    }


def test_aggregation(api, day):
    params = {
        "timerel": "between",
        "timeAt": "2026-11-27T00:00:00Z",
        "endTimeAt": "2026-11-28T00:00:00Z",
        "options": "aggregatedValues",
        "aggrMethods": "totalCount,sum,avg,min,max",
        "aggrPeriodDuration": "PT6H",
        "attrs": "pm25",
    }
    got = api.get(f"/temporal/entities/{day}", params).json()["pm25"]
    assert got["totalCount"][0] == [6, "2026-11-27T00:00:00Z", "2026-11-27T06:00:00Z"]
    assert [b[0] for b in got["sum"]] == [15, 51, 87, 123]
    assert [b[0] for b in got["avg"]] == [2.5, 8.5, 14.5, 20.5]
    assert got["min"][3][0] == 18
    assert got["max"][3][0] == 23
    whole = api.get(f"/temporal/entities/{day}", {**params, "aggrPeriodDuration": "P1D", "aggrMethods": "avg"}).json()
    assert whole["pm25"]["avg"] == [[11.5, "2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z"]]


def test_query_temporal_entities(api, day, traffic):
    api.post("/entities", traffic)
    got = api.get("/temporal/entities", {"type": "AirQualityObserved", "lastN": 1, "count": "true"})
    assert got.status_code == 200
    assert got["NGSILD-Results-Count"] == "1"
    (entity,) = got.json()
    assert entity["pm25"][0]["value"] == 23
    assert entity["temperature"][0]["value"] == 25


@pytest.mark.parametrize(
    "params",
    [
        {"timerel": "during", "timeAt": "2026-11-27T00:00:00Z"},
        {"timerel": "before"},
        {"timerel": "between", "timeAt": "2026-11-27T00:00:00Z"},
        {"timerel": "between", "timeAt": "2026-11-27T00:00:00Z", "endTimeAt": "2026-11-26T00:00:00Z"},
        {"lastN": "0"},
        {"lastN": "x"},
        {"options": "aggregatedValues", "aggrMethods": "median"},
        {"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "1 hour"},
        {"timeproperty": "modifiedAt"},
    ],
)
def test_bad_temporal_queries(api, day, params):
    response = api.get(f"/temporal/entities/{day}", params)
    assert response.status_code == 400, response.content
    assert response.json()["type"] == ERR + "BadRequestData"


def test_unknown_entity(api):
    assert api.get("/temporal/entities/urn:x:none").status_code == 404
