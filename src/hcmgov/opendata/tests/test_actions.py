"""The CKAN Action API's envelope, errors and catalogue reads, at both addresses."""

from __future__ import annotations

import json

import pytest

from hcmgov.identity import services as identity
from hcmgov.opendata.models import Membership
from hcmgov.opendata.tests import factories as f

pytestmark = pytest.mark.django_db


def call(client, name, *, prefix="/api/3/action/", token="", **params):
    headers = {"Authorization": token} if token else {}
    response = client.get(prefix + name, params, headers=headers)
    return response.status_code, response.json()


def post(client, name, body, *, token=""):
    headers = {"Authorization": token} if token else {}
    response = client.post("/api/3/action/" + name, json.dumps(body), content_type="application/json", headers=headers)
    return response.status_code, response.json()


def test_both_addresses_answer_in_place_with_the_envelope(client):
    for prefix in ("/api/3/action/", "/api/action/"):
        status, body = call(client, "status_show", prefix=prefix)
        assert status == 200
        assert body["success"] is True
        assert body["help"].endswith("/api/3/action/help_show?name=status_show")
        assert body["result"]["ckan_version"].startswith("2.")
        assert "datastore" in body["result"]["extensions"]


def test_errors_have_ckans_types_and_codes(client):
    status, body = call(client, "no_such_action")
    assert (status, body["success"], body["error"]["__type"]) == (400, False, "Bad Request")
    assert "Action name not known: no_such_action" in body["error"]["message"]
    status, body = call(client, "package_show", id="khong-co")
    assert (status, body["error"]["__type"]) == (404, "Not Found Error")
    status, body = call(client, "package_show")
    assert (status, body["error"]["__type"]) == (409, "Validation Error")
    assert body["error"]["id"] == ["Thiếu giá trị / Missing value"]
    status, body = call(client, "package_list", limit="many")
    assert (status, body["error"]["__type"], list(body["error"])) == (409, "Validation Error", ["__type", "limit"])
    response = client.post("/api/3/action/package_show", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON Error" in response.json()["error"]["message"]
    status, body = post(client, "package_create", {"name": "x"})
    assert (status, body["error"]["__type"]) == (403, "Authorization Error")
    status, body = call(client, "package_list", token="not-a-token")
    assert (status, body["error"]["__type"]) == (403, "Authorization Error")


def test_package_show_and_list(client):
    org = f.organization(name="so-gtvt", title="Sở Giao thông vận tải")
    ds = f.dataset(org, name="luu-luong-xe", title="Lưu lượng xe", tags=["giao thông", "xe máy"])
    f.dataset(org, name="an-rieng", private=True)
    withdrawn = f.dataset(org, name="da-rut")
    withdrawn.state = "deleted"
    withdrawn.save()
    status, body = call(client, "package_show", id="luu-luong-xe")
    assert status == 200
    result = body["result"]
    assert result["id"] == str(ds.id)
    assert (result["name"], result["title"], result["type"], result["state"]) == (
        "luu-luong-xe", "Lưu lượng xe", "dataset", "active"
    )  # fmt: skip
    assert result["organization"]["name"] == "so-gtvt"
    assert result["owner_org"] == str(org.id)
    assert [t["name"] for t in result["tags"]] == ["giao thông", "xe máy"]
    assert result["num_resources"] == 1
    assert result["resources"][0]["package_id"] == str(ds.id)
    assert (result["license_id"], result["isopen"]) == ("cc-by", True)
    assert result["metadata_created"].count(":") == 2
    assert "+" not in result["metadata_created"]
    assert call(client, "package_show", id=str(ds.id))[1]["result"]["name"] == "luu-luong-xe"
    assert call(client, "package_list")[1]["result"] == ["luu-luong-xe"]
    assert call(client, "package_show", id="an-rieng")[0] == 403
    assert call(client, "package_show", id="da-rut")[0] == 404


def test_lists_of_organizations_groups_tags_licenses_and_resources(client):
    org = f.organization(name="so-tnmt", title="Sở Tài nguyên và Môi trường")
    f.organization(name="so-trong")
    theme = f.group(name="moi-truong", title="Môi trường")
    ds = f.dataset(org, name="chat-luong-khong-khi", groups=["moi-truong"], tags=["không khí"])
    assert call(client, "organization_list")[1]["result"] == ["so-tnmt", "so-trong"]
    full = call(client, "organization_list", all_fields="true", sort="package_count desc")[1]["result"]
    assert [(o["name"], o["package_count"]) for o in full] == [("so-tnmt", 1), ("so-trong", 0)]
    shown = call(client, "organization_show", id="so-tnmt", include_datasets="true")[1]["result"]
    assert shown["package_count"] == 1
    assert shown["packages"][0]["name"] == "chat-luong-khong-khi"
    assert call(client, "group_list")[1]["result"] == ["moi-truong"]
    assert call(client, "group_show", id=str(theme.id))[1]["result"]["package_count"] == 1
    assert call(client, "tag_list")[1]["result"] == ["không khí"]
    licenses = {lic["id"]: lic for lic in call(client, "license_list")[1]["result"]}
    assert {"cc-by", "vn-nd47-2020", "odc-odbl", "notspecified"} <= set(licenses)
    assert "47/2020" in licenses["vn-nd47-2020"]["title"]
    resource = ds.resources.get()
    shown = call(client, "resource_show", id=str(resource.id))[1]["result"]
    assert (shown["name"], shown["format"], shown["package_id"]) == ("Bảng số liệu", "CSV", str(ds.id))
    assert call(client, "resource_show", id="nope")[0] == 404
    listed = call(client, "current_package_list_with_resources", limit="5")[1]["result"]
    assert [d["name"] for d in listed] == ["chat-luong-khong-khi"]
    assert call(client, "organization_list", sort="bogus")[0] == 409


def test_publishers_create_and_update_with_an_api_token(client, citizen):
    org = f.organization(name="so-ttt")
    token = identity.api_token_issue(user=citizen, name="ckan").raw
    body = {"name": "diem-wifi", "title": "Điểm wifi công cộng", "owner_org": "so-ttt", "license_id": "cc-by",
            "resources": [{"name": "Danh sách", "format": "CSV", "url": "https://example.vn/wifi.csv"}]}  # fmt: skip
    status, answer = post(client, "package_create", body, token=token)
    assert (status, answer["error"]["__type"]) == (403, "Authorization Error")
    Membership.objects.create(organization=org, user=citizen, capacity="editor")
    status, answer = post(client, "package_create", body, token=token)
    assert status == 200, answer
    assert answer["result"]["resources"][0]["format"] == "CSV"
    assert post(client, "package_create", body, token=token)[1]["error"]["__type"] == "Validation Error"
    status, answer = post(client, "package_update", {**body, "title": "Điểm phát wifi miễn phí"}, token=token)
    assert (status, answer["result"]["title"]) == (200, "Điểm phát wifi miễn phí")
    status, answer = post(client, "package_create", {**body, "name": "Sai Ten!"}, token=token)
    assert (status, answer["error"]["__type"]) == (409, "Validation Error")
    assert "name" in answer["error"]
    assert client.get("/api/3/action/package_create").status_code in (400, 403)
