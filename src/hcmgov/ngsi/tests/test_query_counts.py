"""Query counts are pinned: a list answers in the same number of queries whatever its length."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def _queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code in (200, 204), response.content
    return len(captured)


def _make(api, n: int, start: int = 0) -> None:
    bodies = [
        {
            "id": f"urn:ngsi-ld:Sensor:{i}",
            "type": "Sensor",
            "pm25": {"type": "Property", "value": i, "observedAt": "2026-11-27T00:00:00Z"},
        }
        for i in range(start, start + n)
    ]
    assert api.post("/entityOperations/upsert", bodies).status_code == 201


def test_list_and_update_query_counts(api):
    _make(api, 3)
    api.get("/entities", {"type": "Sensor"})  # warm the token cache
    few = _queries(lambda: api.get("/entities", {"type": "Sensor", "count": "true"}))
    few_q = _queries(lambda: api.get("/entities", {"type": "Sensor", "q": "pm25>=0"}))
    _make(api, 30, start=3)
    assert _queries(lambda: api.get("/entities", {"type": "Sensor", "count": "true"})) == few == 2
    assert _queries(lambda: api.get("/entities", {"type": "Sensor", "q": "pm25>=0"})) == few_q == 1
    body = {"pm25": {"type": "Property", "value": 1, "observedAt": "2026-11-27T00:01:00Z"}}
    update = _queries(lambda: api.patch("/entities/urn:ngsi-ld:Sensor:1/attrs", body))
    expected = 2 if connection.vendor == "postgresql" else 6  # read + one statement; SQLite: the locking path
    assert update <= expected
    day = {"timerel": "between", "timeAt": "2026-11-27T00:00:00Z", "endTimeAt": "2026-11-28T00:00:00Z", "attrs": "pm25"}
    assert _queries(lambda: api.get("/temporal/entities/urn:ngsi-ld:Sensor:1", day)) == 2
