"""The soak's users (issue 13 item 7): citizens, officials, API clients and sensors at once, each
through the interface it really uses, authenticated as it really is.

- **citizen** (``Bearer`` API token): browses the catalogue (API and the portal's home page), opens
  a procedure (API and its page), submits a dossier (``POST /api/v1/dossiers`` with an
  ``Idempotency-Key``), tracks it (API and the ``/tra-cuu/`` page) and lists its dossiers;
- **official** (``Bearer`` token of an official holding the processing roles at one agency): lists
  the desk queue and its own, opens a dossier and its steps, and acts on the open step — receives
  it at the desk (``receive``) or passes it on as the specialist (``forward``);
- **API client** (OAuth2 client credentials at ``/o/token/``, scope ``hcmgov.api``): reads
  ``/api/v1`` (procedures, agencies) and the CKAN open data API (``package_search``,
  ``datastore_search``);
- **sensor**: an IoT station POSTs its readings to ``/iot/v1/readings`` (HTTP Basic, the device's
  account), or a gateway PATCHes an NGSI-LD entity's attributes (``Bearer``).

Requests are named ``<user>: <method> <route>`` so that locust's statistics give the percentiles
per user class and request type. Two officials may pick the same step: the loser's ``409`` is the
platform's correct answer to a race, not a failure; it is counted on its own row
(``official: step already taken (409)``). Anything else that is not the expected status fails.

The data (tokens, request bodies, devices) comes from ``bench/soak/fixtures.py``, through the file
named by ``SOAK_FIXTURES``. ``bench/soak/run.py`` starts the servers and locust.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import os
import random
import uuid
from typing import Any
from urllib.parse import quote

from locust import HttpUser, between, constant_pacing, task

with open(os.environ.get("SOAK_FIXTURES", "bench/.work/soak/fixtures.json"), encoding="utf-8") as _f:
    DATA: dict[str, Any] = json.load(_f)

PROCEDURES = sorted({b["procedure"] for b in DATA["submissions"]})
SEARCHES = ["", "hộ tịch", "khai sinh", "đất đai", "xây dựng", "kết hôn", "cư trú"]
_officials = itertools.count()
_devices = itertools.count()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Citizen(HttpUser):
    weight = 5
    wait_time = between(1, 4)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {random.choice(DATA['citizens'])}"}
        self.mine: list[tuple[str, str]] = []  # (code, tracking secret) of the dossiers it submitted

    @task(3)
    def browse(self) -> None:
        q = random.choice(SEARCHES)
        self.client.get(
            f"/api/v1/procedures?q={quote(q)}", headers=self.headers, name="citizen: GET /api/v1/procedures"
        )
        if random.random() < 0.3:
            self.client.get("/", name="citizen: GET / (portal home)")

    @task(3)
    def procedure(self) -> None:
        code = random.choice(PROCEDURES)
        self.client.get(
            f"/api/v1/procedures/{code}", headers=self.headers, name="citizen: GET /api/v1/procedures/{code}"
        )
        self.client.get(f"/thu-tuc/{code}/", name="citizen: GET /thu-tuc/{code}/ (page)")

    @task(2)
    def submit(self) -> None:
        body = random.choice(DATA["submissions"])
        with self.client.post(
            "/api/v1/dossiers",
            json=body,
            headers={**self.headers, "Idempotency-Key": uuid.uuid4().hex},
            name="citizen: POST /api/v1/dossiers",
            catch_response=True,
        ) as r:
            if r.status_code != 201:
                r.failure(f"{r.status_code}: {r.text[:300]}")
                return
            made = r.json()
            self.mine.append((made["code"], made["tracking_secret"]))
            self.mine = self.mine[-20:]

    @task(3)
    def track(self) -> None:
        if not self.mine:
            self.client.get("/api/v1/dossiers", headers=self.headers, name="citizen: GET /api/v1/dossiers")
            return
        code, secret = random.choice(self.mine)
        self.client.get(
            f"/api/v1/tracking/{quote(code)}?secret={quote(secret)}", name="citizen: GET /api/v1/tracking/{code}"
        )
        if random.random() < 0.3:
            self.client.get(
                f"/tra-cuu/?code={quote(code)}&secret={quote(secret)}", name="citizen: GET /tra-cuu/ (page)"
            )

    @task(1)
    def my_dossiers(self) -> None:
        self.client.get("/api/v1/dossiers", headers=self.headers, name="citizen: GET /api/v1/dossiers")


class Official(HttpUser):
    weight = 2
    wait_time = between(2, 5)

    def on_start(self) -> None:
        officials = DATA["officials"]
        self.team = officials[next(_officials) % len(officials)]
        self.headers = {"Authorization": f"Bearer {self.team['token']}"}

    def _queue(self, queue: str) -> list[dict[str, Any]]:
        r = self.client.get(
            f"/api/v1/office/queues/{queue}?page_size=20", headers=self.headers, name=f"official: GET queue {queue}"
        )
        return list(r.json().get("items", [])) if r.status_code == 200 else []

    @task(2)
    def work(self) -> None:
        """The desk: receive a new dossier; else the specialist's own queue: pass one on."""
        items = [i for i in self._queue("receive") if i["role"] == "receiver"]
        action = "receive"
        if not items:
            items = [i for i in self._queue("unit") if i["role"] == "specialist"]
            action = "forward"
        if not items:
            return
        item = random.choice(items)
        code = quote(item["dossier"])
        self.client.get(f"/api/v1/dossiers/{code}", headers=self.headers, name="official: GET /api/v1/dossiers/{code}")
        steps = self.client.get(
            f"/api/v1/dossiers/{code}/steps", headers=self.headers, name="official: GET /api/v1/dossiers/{code}/steps"
        )
        if steps.status_code != 200 or not any(s["id"] == item["step"] and s["state"] == "open" for s in steps.json()):
            return  # taken by another official meanwhile
        with self.client.post(
            f"/api/v1/dossiers/{code}/steps/{item['step']}/actions",
            json={"action": action, "note": "Kiểm tra tải / soak"},
            headers=self.headers,
            name=f"official: POST …/steps/{{id}}/actions {action}",
            catch_response=True,
        ) as r:
            if r.status_code == 409:  # the race with another official: the platform's right answer
                r.success()
                self.environment.events.request.fire(
                    request_type="INFO",
                    name="official: step already taken (409)",
                    response_time=0,
                    response_length=0,
                    exception=None,
                    context={},
                )
            elif r.status_code != 200:
                r.failure(f"{r.status_code}: {r.text[:300]}")

    @task(1)
    def look(self) -> None:
        self._queue(random.choice(["mine", "due_today", "overdue", "supplement"]))


class ApiClient(HttpUser):
    weight = 2
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.headers: dict[str, str] = {}
        self._token()

    def _token(self) -> None:
        c = DATA["client"]
        basic = base64.b64encode(f"{c['client_id']}:{c['client_secret']}".encode()).decode()
        r = self.client.post(
            "/o/token/",
            data={"grant_type": "client_credentials", "scope": "hcmgov.api"},
            headers={"Authorization": f"Basic {basic}"},
            name="client: POST /o/token/",
        )
        if r.status_code == 200:
            self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def _api(self, path: str, name: str) -> None:
        with self.client.get(path, headers=self.headers, name=name, catch_response=True) as r:
            if r.status_code == 401:  # the access token expired: a new one, as a real client does
                r.success()
                self._token()
            elif r.status_code != 200:
                r.failure(f"{r.status_code}: {r.text[:300]}")

    @task(2)
    def api_reads(self) -> None:
        page = random.randint(1, 3)
        self._api(f"/api/v1/procedures?page={page}", "client: GET /api/v1/procedures")
        if random.random() < 0.5:
            self._api("/api/v1/agencies", "client: GET /api/v1/agencies")

    @task(2)
    def package_search(self) -> None:
        q = random.choice(DATA["client"]["words"])
        self.client.get(
            f"/api/3/action/package_search?q={quote(q)}&rows=10", name="client: GET /api/3/action/package_search"
        )

    @task(2)
    def datastore_search(self) -> None:
        resources = DATA["client"]["resources"]
        if not resources:
            self.client.get("/api/3/action/package_list", name="client: GET /api/3/action/package_list")
            return
        offset = random.choice([0, 0, 10, 50])
        self.client.get(
            f"/api/3/action/datastore_search?resource_id={random.choice(resources)}&limit=20&offset={offset}",
            name="client: GET /api/3/action/datastore_search",
        )


class Sensor(HttpUser):
    """One station per user, reporting every few seconds (stations report every minute or so: a
    handful of users stands for many stations)."""

    weight = 2
    wait_time = constant_pacing(3)

    def on_start(self) -> None:
        i = next(_devices)
        device = DATA["devices"][i % len(DATA["devices"])]
        self.code = device["code"]
        basic = base64.b64encode(f"{device['code']}:{device['password']}".encode()).decode()
        self.basic = {"Authorization": f"Basic {basic}"}
        ngsi = DATA["ngsi"]
        self.entity = ngsi["entities"][i % len(ngsi["entities"])]
        self.bearer = {"Authorization": f"Bearer {ngsi['token']}"}

    @task(3)
    def http_batch(self) -> None:
        body = {
            "device": self.code,
            "readings": [
                {
                    "observedAt": _now(),
                    "values": {
                        "pm25": round(random.uniform(5, 80), 1),
                        "pm10": round(random.uniform(10, 120), 1),
                        "temperature": round(random.uniform(25, 35), 1),
                        "humidity": round(random.uniform(50, 95), 1),
                    },
                }
            ],
        }
        with self.client.post(
            "/iot/v1/readings", json=body, headers=self.basic, name="sensor: POST /iot/v1/readings", catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code}: {r.text[:300]}")
            elif r.json().get("rejected"):
                r.failure(f"readings refused: {r.text[:300]}")

    @task(1)
    def ngsi_patch(self) -> None:
        body = {
            "pm25": {"type": "Property", "value": random.randint(5, 80), "unitCode": "GQ", "observedAt": _now()},
            "temperature": {
                "type": "Property",
                "value": random.randint(25, 35),
                "unitCode": "CEL",
                "observedAt": _now(),
            },
        }
        self.client.patch(
            f"/ngsi-ld/v1/entities/{self.entity}/attrs",
            data=json.dumps(body),
            headers={**self.bearer, "Content-Type": "application/json"},
            name="sensor: PATCH /ngsi-ld/v1/entities/{id}/attrs",
        )
