"""While the database cannot be reached (a fail-over in progress), the API answers 503 with
Retry-After and a problem document in the caller's language — not a 500."""

from __future__ import annotations

import json

import pytest
from django.db import connections


@pytest.fixture
def database_away(transactional_db):
    """The default connection pointed at nothing for the test's length, then restored."""
    conn = connections["default"]
    saved = dict(conn.settings_dict)
    conn.ensure_connection()
    kept = conn.connection  # SQLite's in-memory test database lives as long as this connection
    conn.connection = None
    if conn.vendor == "sqlite":
        conn.settings_dict["NAME"] = "/nonexistent/folder/hcmgov.sqlite3"
    else:
        conn.settings_dict.update(HOST="127.0.0.1", PORT="1")  # nothing listens on port 1
        conn.settings_dict["OPTIONS"] = {**conn.settings_dict.get("OPTIONS", {}), "connect_timeout": 1}
    yield
    if conn.connection is not None:
        conn.connection.close()
    conn.settings_dict.clear()
    conn.settings_dict.update(saved)
    conn.connection = kept


@pytest.mark.parametrize(("language", "word"), [("vi", "Cơ sở dữ liệu"), ("en", "database")])
def test_the_api_answers_503_with_retry_after_while_the_database_is_away(client, database_away, language, word):
    response = client.get("/api/v1/procedures", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["status"] == 503
    assert body["type"].endswith("/database_unavailable")
    assert word in body["detail"] or word in body["title"]
