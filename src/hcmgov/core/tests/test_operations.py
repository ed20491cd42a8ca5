"""/healthz, /readyz, /metrics, the configuration reference and the committed OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from openapi_spec_validator import validate

from hcmgov.core.services import heartbeat_beat


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_readyz_needs_the_worker(client):
    assert client.get("/readyz").status_code == 503
    heartbeat_beat(process="worker")
    body = client.get("/readyz").json()
    assert body == {"status": "ready", "checks": {"database": True, "worker": True}}


@pytest.mark.django_db
def test_metrics_count_requests_by_route(client):
    client.get("/healthz")
    text = client.get("/metrics").content.decode()
    assert 'hcmgov_http_requests_total{method="GET",route="healthz",status="200"}' in text


def test_request_id_is_echoed_when_well_formed(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc12345-req").headers["X-Request-ID"] == "abc12345-req"
    assert client.get("/healthz", HTTP_X_REQUEST_ID="<script>").headers["X-Request-ID"] != "<script>"


def test_configuration_reference_is_up_to_date():
    call_command("configdoc", check=True)


def test_committed_openapi_document_matches_the_code_and_validates():
    call_command("openapi", check=True)
    validate(json.loads((Path(settings.ROOT_DIR) / "docs/api/openapi.json").read_text()))


def test_an_oversized_request_is_refused_before_it_is_read(client, settings):
    settings.REQUEST_MAX_BYTES = 1024
    api = client.post("/api/v1/dossiers", "x" * 2048, content_type="application/json")
    assert api.status_code == 413
    assert api["Content-Type"] == "application/problem+json"
    assert "quá lớn" in api.json()["title"]
    page = client.post("/thu-tuc/1.001193/nop-ho-so/", {"f": "x" * 2048})
    assert page.status_code == 413
    assert "quá lớn" in page.content.decode()


@pytest.mark.django_db
def test_nul_characters_are_refused_not_a_server_error(client):
    api = client.get("/api/v1/units", {"level": "a\x00b"})
    assert api.status_code == 400
    assert api["Content-Type"] == "application/problem+json"
    assert client.get("/", {"q": "a\x00b"}).status_code == 400


def test_nul_in_form_data_is_a_field_error():
    from hcmgov.common.jsonform import validate

    schema = {"type": "object", "properties": {"name": {"type": "string", "title": "Họ tên", "x-title-en": "Name"}}}
    errors = validate(schema, {"name": "An\x00"})
    assert [(e.field, e.code) for e in errors] == [("name", "invalid_character")]
