from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_search_with_and_without_diacritics_and_filters(client, city):
    with_marks = client.get("/api/v1/procedures", {"q": "khai sinh"}).json()
    without = client.get("/api/v1/procedures", {"q": "Khai Sinh"}).json()
    folded = client.get("/api/v1/procedures", {"q": "đăng ký khai sinh"}).json()
    codes = {p["code"] for p in with_marks["items"]}
    assert "1.001193" in codes
    assert {p["code"] for p in without["items"]} == codes
    assert "1.001193" in {p["code"] for p in folded["items"]}
    city_level = client.get("/api/v1/procedures", {"level": "city"}).json()
    assert city_level["count"] > 0
    assert all(p["level"] == "city" for p in city_level["items"])


def test_procedure_detail_has_form_schema_fees_and_documents(client, city):
    body = client.get("/api/v1/procedures/1.001193").json()
    assert body["name"] == "Đăng ký khai sinh"
    assert body["statutory_days"] == 0
    assert body["form_schema"]["type"] == "object"
    assert any(d["code"] == "TOKHAI" for d in body["required_documents"])
    missing = client.get("/api/v1/procedures/9.999999")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"


def test_units_and_agencies(client, city):
    units_2025 = client.get("/api/v1/units", {"structure": "2025", "level": "commune", "page_size": 500}).json()
    assert units_2025["count"] == 168
    units_2021 = client.get("/api/v1/units", {"structure": "2021", "level": "commune"}).json()
    assert units_2021["count"] == 312
    agencies = client.get("/api/v1/agencies", {"kind": "commune_pc", "on": "2025-08-01"}).json()
    assert agencies["count"] == 168
