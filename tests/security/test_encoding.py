"""V1 Encoding and sanitization, V3.7.2 redirects (OWASP ASVS 5.0): what a visitor types comes back
escaped, reaches SQL only as a bound parameter, and cannot send a login elsewhere; XML read from an
upload resolves no entity (XXE)."""

from __future__ import annotations

import pytest

from hcmgov.catalog.flows import FlowError, flow_parse
from hcmgov.identity.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

SCRIPT = '"><script>alert(1)</script>'


def test_a_reflected_parameter_is_escaped(client):
    """V1.2.1: the ``next`` address is written back into the login form, HTML-escaped."""
    response = client.get("/dang-nhap/", {"next": SCRIPT})
    assert response.status_code == 200
    text = response.content.decode()
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


@pytest.mark.parametrize("query", ["' OR '1'='1", "%' OR 1=1 --", "'); DROP TABLE catalog_procedure; --"])
def test_search_text_reaches_sql_as_data(client, city, query):
    """V1.2.4: a search that would widen or break an SQL statement built from strings finds nothing."""
    response = client.get("/api/v1/procedures", {"q": query})
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert client.get("/api/v1/procedures").json()["count"] > 0  # the table is still there


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "https:evil.example"])
def test_a_login_never_redirects_to_another_site(client, citizen, target):
    """V3.7.2: only addresses of this site are followed after a login."""
    response = client.post("/dang-nhap/", {"username": citizen.username, "password": PASSWORD, "next": target})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_xml_entities_are_never_resolved(tmp_path):
    """V1.5.1: a process flow (BPMN) with an external entity is read without fetching it."""
    secret = tmp_path / "secret.txt"
    secret.write_text("bi-mat-khong-duoc-doc")
    bpmn = (
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">'
        "<documentation>&x;</documentation></process></definitions>"
    )
    with pytest.raises(FlowError) as refused:
        flow_parse(bpmn, filename="xxe.bpmn")
    assert "bi-mat-khong-duoc-doc" not in str(refused.value.__dict__)
