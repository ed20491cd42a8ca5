"""Drives /ngsi-ld/v1 with the ngsildclient library (Orange, PyPI ``ngsildclient==0.5.2``). Run by
``test_ngsildclient.py`` with the interpreter of an isolated virtualenv — the library pins httpx
0.23, rich 12 and aiofiles 0.8, which conflict with the project's lock — so it imports nothing of
the project. Prints one JSON object of what the library saw.

Environment: ``NGSI_HOST``, ``NGSI_PORT``, ``NGSI_TOKEN`` (a bearer token of the platform)."""

import datetime as dt
import json
import os

from ngsildclient import Client, Entity
from requests.auth import AuthBase


class Bearer(AuthBase):
    """The platform's bearer token on every request (ngsildclient's URLs as it writes them: ``POST
    /entities/`` and ``/entityOperations/<op>/`` with a trailing slash, which the API accepts)."""

    def __init__(self, token):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def station(code, pm25):
    e = Entity("AirQualityObserved", f"HCMC:{code}")
    e.tprop("dateObserved", dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC))
    e.gprop("location", (10.7769, 106.7009))
    e.prop("pm25", pm25, unitcode="GQ")
    e.prop("name", f"Trạm {code}")
    return e


out = {}
with Client(
    hostname=os.environ["NGSI_HOST"],
    port=int(os.environ["NGSI_PORT"]),
    custom_auth=Bearer(os.environ["NGSI_TOKEN"]),
    verbose=False,
) as client:
    first = station("q1-001", 35.2)
    out["created"] = bool(client.create(first))
    got = client.get(first.id)
    out["id"] = got.id
    out["pm25"] = got["pm25"].value
    out["location"] = got["location"]["value"]["coordinates"]  # its .value parses str(dict): a bug of 0.5.2
    out["name"] = got["name"].value
    batch = client.upsert(station("q1-002", 12.0), station("q1-003", 80.5))
    out["batch_ok"] = bool(batch.ok) if hasattr(batch, "ok") else bool(batch)
    out["count"] = client.count(type="AirQualityObserved")
    out["dirty"] = sorted(e.id for e in client.query(type="AirQualityObserved", q="pm25>30"))
    first["pm25"].value = 40.0
    out["updated"] = bool(client.update(first))
    out["pm25_after"] = client.get(first.id)["pm25"].value
    out["deleted"] = bool(client.delete(first))
    out["exists_after"] = client.exists(first.id)
print(json.dumps(out, ensure_ascii=False))
