"""Fixtures of the datastore tests (imported by name by ``test_datastore*.py``; no tests here): a
datastore file of each test's own (SQLite), an editor's token, a table of air-quality readings."""

from __future__ import annotations

import json

import pytest

from hcmgov.identity import services as identity
from hcmgov.opendata.datastore_db import SqliteStore
from hcmgov.opendata.models import Membership
from hcmgov.opendata.tests import factories as f


@pytest.fixture(autouse=True)
def _datastore_file(settings, tmp_path):
    settings.DATASTORE_SQLITE_PATH = tmp_path / "datastore.sqlite3"
    yield
    SqliteStore.close()


class Ckan:
    """The Action API as a client sees it: ``get``/``post`` answer (status, body)."""

    def __init__(self, client, token: str = "") -> None:
        self.client, self.token = client, token

    def get(self, name, **params):
        headers = {"Authorization": self.token} if self.token else {}
        response = self.client.get("/api/3/action/" + name, params, headers=headers)
        return response.status_code, response.json()

    def post(self, name, body, *, token=None):
        token = self.token if token is None else token
        headers = {"Authorization": token} if token else {}
        response = self.client.post(
            "/api/3/action/" + name, json.dumps(body), content_type="application/json", headers=headers
        )
        return response.status_code, response.json()


@pytest.fixture
def org(db):
    return f.organization(name="so-tnmt", title="Sở Tài nguyên và Môi trường")


@pytest.fixture
def editor(org, citizen):
    Membership.objects.create(organization=org, user=citizen, capacity="editor")
    return citizen


@pytest.fixture
def ckan(client, editor):
    return Ckan(client, identity.api_token_issue(user=editor, name="ckan").raw)


@pytest.fixture
def anon(client):
    return Ckan(client)


@pytest.fixture
def dataset(org):
    return f.dataset(org, name="chat-luong-khong-khi", title="Chất lượng không khí")


AIR_FIELDS = [
    {"id": "ngay", "type": "date"},
    {"id": "quan", "type": "text"},
    {"id": "tram", "type": "text"},
    {"id": "pm25", "type": "numeric"},
    {"id": "aqi", "type": "int"},
    {"id": "vuot_nguong", "type": "bool"},
    {"id": "do_luc", "type": "timestamp"},
    {"id": "chi_tiet", "type": "json"},
]
AIR_RECORDS = [
    {"ngay": "2026-01-01", "quan": "Quận 1", "tram": "Bến Nghé", "pm25": 35.5, "aqi": 99, "vuot_nguong": False,
     "do_luc": "2026-01-01T07:00:00", "chi_tiet": {"no2": 20}},
    {"ngay": "2026-01-02", "quan": "Quận 1", "tram": "Đa Kao", "pm25": 55.1, "aqi": 151, "vuot_nguong": True,
     "do_luc": "2026-01-02T07:00:00", "chi_tiet": {"no2": 31}},
    {"ngay": "2026-01-02", "quan": "Thủ Đức", "tram": "Linh Trung", "pm25": 20, "aqi": 68, "vuot_nguong": False,
     "do_luc": "2026-01-02T08:30:00", "chi_tiet": None},
    {"ngay": "2026-01-03", "quan": "Bình Thạnh", "tram": "Thanh Đa", "pm25": None, "aqi": None, "vuot_nguong": None,
     "do_luc": None, "chi_tiet": [1, 2]},
]  # fmt: skip


@pytest.fixture
def air(ckan, dataset):
    """A datastore table of air-quality readings under a new resource; returns its resource id."""
    status, body = ckan.post("datastore_create", {
        "resource": {"package_id": dataset.name, "name": "Chỉ số AQI theo trạm"},
        "fields": AIR_FIELDS, "primary_key": ["ngay", "tram"], "indexes": ["quan", "ngay,quan"],
        "records": AIR_RECORDS,
    })  # fmt: skip
    assert status == 200, body
    return body["result"]["resource_id"]
