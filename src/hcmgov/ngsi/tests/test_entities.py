"""The entities API over HTTP, with the Smart Data Models examples as payloads."""

from __future__ import annotations

import json

import pytest

from hcmgov.ngsi.models import Entity

pytestmark = pytest.mark.django_db

AIR_ID = "urn:ngsi-ld:AirQualityObserved:Madrid-AmbientObserved-28079004-2016-03-15T11:00:00"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"


def test_create_get_delete(api, air):
    response = api.post("/entities", air)
    assert response.status_code == 201, response.content
    assert response["Location"] == f"/ngsi-ld/v1/entities/{AIR_ID}"
    stored = Entity.objects.get(entity_id=AIR_ID)
    # stored expanded: the default @vocab of the core context for the example's terms
    assert stored.type == "https://uri.etsi.org/ngsi-ld/default-context/AirQualityObserved"
    assert "https://uri.etsi.org/ngsi-ld/location" in stored.attrs
    assert stored.min_lat == pytest.approx(40.423852777777775)
    got = api.get(f"/entities/{AIR_ID}")
    assert got.status_code == 200
    assert got["Content-Type"] == "application/json"
    assert "ngsi-ld-core-context" in got["Link"]
    body = got.json()
    assert body["type"] == "AirQualityObserved"
    assert body["co"] == {"type": "Property", "value": 500, "unitCode": "GP"}
    assert body["refPointOfInterest"]["object"] == "urn:ngsi-ld:PointOfInterest:28079004-Pza.deEspanya"
    assert body["location"]["value"]["type"] == "Point"
    assert api.post("/entities", air).json()["type"] == ERR + "AlreadyExists"
    assert api.delete(f"/entities/{AIR_ID}").status_code == 204
    missing = api.get(f"/entities/{AIR_ID}")
    assert missing.status_code == 404
    assert missing.json()["type"] == ERR + "ResourceNotFound"
    assert missing["Content-Type"] == "application/json"


def test_key_values_and_concise(api, traffic):
    assert api.post("/entities", traffic).status_code == 201
    eid = traffic["id"]
    kv = api.get(f"/entities/{eid}", {"options": "keyValues"}).json()
    assert kv["intensity"] == 197
    assert kv["location"]["type"] == "LineString"
    concise = api.get(f"/entities/{eid}", {"options": "concise"}).json()
    assert concise["occupancy"] == 0.76
    sys = api.get(f"/entities/{eid}", {"options": "sysAttrs", "attrs": "intensity"}).json()
    assert set(sys) >= {"id", "type", "intensity", "createdAt", "modifiedAt"}
    assert "occupancy" not in sys


def test_user_context_link_and_ld_json(api, air, tmp_path, settings):
    ctx = {
        "@context": {
            "aq": "https://smartdatamodels.org/dataModel.Environment/",
            "AirQualityObserved": "aq:AirQualityObserved",
            "co": "aq:co",
        }
    }
    (tmp_path / "env.jsonld").write_text(json.dumps(ctx))
    url = "https://example.org/context/environment.jsonld"
    (tmp_path / "index.json").write_text(json.dumps({url: "env.jsonld"}))
    settings.NGSI_LD_CONTEXT_DIR = str(tmp_path)
    link = f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    assert api.post("/entities", air, headers={"Link": link}).status_code == 201
    stored = Entity.objects.get(entity_id=AIR_ID)
    assert stored.type == "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"
    assert "https://smartdatamodels.org/dataModel.Environment/co" in stored.attrs
    # without the context: full IRIs (any context compacts them back)
    plain = api.get(f"/entities/{AIR_ID}").json()
    assert plain["type"] == "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"
    assert "https://smartdatamodels.org/dataModel.Environment/co" in plain
    # with it: the short terms; Link header names it
    linked = api.get(f"/entities/{AIR_ID}", headers={"Link": link})
    assert linked.json()["type"] == "AirQualityObserved"
    assert "co" in linked.json()
    assert url in linked["Link"]
    # ld+json with an inline context, compact IRIs through a prefix
    ld = api.get(f"/entities/{AIR_ID}", headers={"Accept": "application/ld+json", "Link": link})
    assert ld["Content-Type"] == "application/ld+json"
    assert ld.json()["@context"][0] == url
    inline = {**air, "id": "urn:ngsi-ld:AirQualityObserved:2", "@context": [ctx["@context"]]}
    assert api.post("/entities", inline, ctype="application/ld+json").status_code == 201
    by_type = api.get("/entities", {"type": "aq:AirQualityObserved"}, headers={"Link": link}).json()
    assert len(by_type) == 2


def test_unknown_remote_context(api, air):
    link = '<https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'
    response = api.post("/entities", air, headers={"Link": link})
    assert response.status_code == 503
    assert response.json()["type"] == ERR + "LdContextNotAvailable"
    with_body = {**air, "@context": ["https://example.org/unknown.jsonld"]}
    assert api.post("/entities", with_body, ctype="application/ld+json").json()["type"] == ERR + "LdContextNotAvailable"


def test_core_context_served(client):
    response = client.get("/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld")
    assert response.status_code == 200
    assert response.json()["@context"]["Property"] == "ngsi-ld:Property"


@pytest.mark.parametrize(
    ("body", "ctype", "status", "kind"),
    [
        ("{not json", "application/json", 400, "InvalidRequest"),
        ("[]", "application/json", 400, "BadRequestData"),
        ({"id": "not a uri", "type": "T"}, "application/json", 400, "BadRequestData"),
        ({"id": "urn:a:b"}, "application/json", 400, "BadRequestData"),
        ({"id": "urn:a:b", "type": "T", "x": {"type": "Property"}}, "application/json", 400, "BadRequestData"),
        (
            {"id": "urn:a:b", "type": "T", "r": {"type": "Relationship", "object": 3}},
            "application/json",
            400,
            "BadRequestData",
        ),
        (
            {
                "id": "urn:a:b",
                "type": "T",
                "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [500, 1]}},
            },
            "application/json",
            400,
            "BadRequestData",
        ),
        (
            {"id": "urn:a:b", "type": "T", "p": {"type": "Property", "value": 1, "observedAt": "yesterday"}},
            "application/json",
            400,
            "BadRequestData",
        ),
        ({"id": "urn:a:b", "type": "T", "bad name": 1}, "application/json", 400, "BadRequestData"),
        ({"id": "urn:a:b", "type": "T"}, "application/ld+json", 400, "BadRequestData"),
        ({"id": "urn:a:b", "type": "T", "@context": {}}, "application/json", 400, "BadRequestData"),
        ({"id": "urn:a:b", "type": "T", "@context": 5}, "application/ld+json", 400, "BadRequestData"),
        ("<x/>", "application/xml", 415, "UnsupportedMediaType"),
    ],
)
def test_bad_input_is_problem_details(api, body, ctype, status, kind):
    response = api.post("/entities", body, ctype=ctype)
    assert response.status_code == status, response.content
    problem = response.json()
    assert problem["type"] == ERR + kind
    assert problem["status"] == status
    assert problem["title"]
    assert " / " in problem["detail"]
    assert problem["detail_en"]


def test_authentication_and_write_rule(api, citizen_api, air):
    from hcmgov.ngsi.tests.conftest import Api

    anonymous = Api(None)
    assert anonymous.get("/entities", {"type": "T"}).status_code == 401
    assert Api("hcm_wrong").get("/entities", {"type": "T"}).status_code == 401
    assert citizen_api.post("/entities", air).status_code == 403
    assert api.post("/entities", air).status_code == 201
    assert citizen_api.get(f"/entities/{AIR_ID}").status_code == 200
    assert api.send("PUT", "/entities").status_code == 405


def test_attributes_update_append_patch_delete(api, air):
    api.post("/entities", air)
    path = f"/entities/{AIR_ID}/attrs"
    assert api.patch(path, {"co": {"type": "Property", "value": 600, "unitCode": "GP"}}).status_code == 204
    partial = api.patch(
        path, {"co": {"type": "Property", "value": 601, "unitCode": "GP"}, "newAttr": {"type": "Property", "value": 1}}
    )
    assert partial.status_code == 207
    assert partial.json()["updated"] == ["co"]
    assert partial.json()["notUpdated"][0]["attributeName"] == "newAttr"
    assert api.post(path, {"newAttr": {"type": "Property", "value": 1}}).status_code == 204
    kept = api.post(path + "?options=noOverwrite", {"newAttr": {"type": "Property", "value": 2}})
    assert kept.status_code == 207
    assert api.get(f"/entities/{AIR_ID}", {"options": "keyValues"}).json()["newAttr"] == 1
    assert api.patch(f"{path}/co", {"value": 700}).status_code == 204
    co = api.get(f"/entities/{AIR_ID}").json()["co"]
    assert co == {"type": "Property", "value": 700, "unitCode": "GP"}
    assert api.patch(f"{path}/nothing", {"value": 1}).status_code == 404
    assert api.delete(f"{path}/newAttr").status_code == 204
    assert "newAttr" not in api.get(f"/entities/{AIR_ID}").json()
    assert api.delete(f"{path}/newAttr").status_code == 404
    assert api.patch("/entities/urn:x:missing/attrs", {"a": 1}).status_code == 404


def test_datasets_and_sub_properties(api):
    body = {
        "id": "urn:ngsi-ld:Sensor:1",
        "type": "Sensor",
        "temperature": [
            {
                "type": "Property",
                "value": 20,
                "observedAt": "2026-01-01T00:00:00Z",
                "accuracy": {"type": "Property", "value": 0.5},
            },
            {"type": "Property", "value": 21, "datasetId": "urn:ngsi-ld:Dataset:b"},
        ],
    }
    assert api.post("/entities", body).status_code == 201
    got = api.get("/entities/urn:ngsi-ld:Sensor:1").json()
    assert len(got["temperature"]) == 2
    assert got["temperature"][0]["accuracy"] == {"type": "Property", "value": 0.5}
    assert got["temperature"][0]["observedAt"] == "2026-01-01T00:00:00Z"
    assert (
        api.get("/entities", {"type": "Sensor", "q": "temperature.accuracy<1"}).json()[0]["id"]
        == "urn:ngsi-ld:Sensor:1"
    )
    assert (
        api.delete("/entities/urn:ngsi-ld:Sensor:1/attrs/temperature?datasetId=urn:ngsi-ld:Dataset:b").status_code
        == 204
    )
    assert api.get("/entities/urn:ngsi-ld:Sensor:1").json()["temperature"]["value"] == 20


def test_machine_client_writes_with_client_credentials(client, agency, air, settings):
    """A department's system (client credentials of the city's OpenID provider, scope hcmgov.api)
    writes entities; its token is an ordinary bearer token here."""
    from hcmgov.identity.provider import services as provider
    from hcmgov.identity.tests.oidc_support import basic
    from hcmgov.ngsi.tests.conftest import Api

    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, "hcmgov.identity.provider.hashers.ClientSecretHasher"]
    provider.oauth_token_cache_clear()
    machine = provider.machine_client_register(name="Hệ thống quan trắc môi trường", agency_id=agency.pk)
    answer = client.post("/o/token/", {"grant_type": "client_credentials", "scope": "hcmgov.api"}, **basic(machine))
    assert answer.status_code == 200, answer.content
    system = Api(answer.json()["access_token"])
    assert system.post("/entities", air).status_code == 201
    assert system.get(f"/entities/{AIR_ID}").json()["co"]["value"] == 500
    provider.oauth_token_cache_clear()
