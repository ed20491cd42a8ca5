"""Processing over /api/v1: decisions on steps, supplements with files, queues, statistics."""

from __future__ import annotations

import base64

import pytest

from hcmgov.dossiers.models import DossierDocument, DossierStep
from hcmgov.dossiers.tests.test_api import bearer
from hcmgov.identity.tests.factories import RoleAssignmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(agency):
    roles = ("receiver", "specialist", "head", "leader", "clerk")
    return {role: RoleAssignmentFactory(agency=agency, role=role).user for role in roles}


def post(client, url, body, user):
    return client.post(url, body, content_type="application/json", **bearer(user))


def open_step(dossier):
    return DossierStep.objects.get(dossier=dossier, state="open")


def test_decisions_through_the_api_to_the_returned_result(client, submit, staff):
    dossier, _ = submit()
    base = f"/api/v1/dossiers/{dossier.code}"
    steps = client.get(f"{base}/steps", **bearer(staff["receiver"])).json()
    assert [s["key"] for s in steps] == ["receive"]
    step = steps[0]["id"]
    answer = post(client, f"{base}/steps/{step}/actions", {"action": "receive"}, staff["receiver"])
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == 2
    second = post(client, f"{base}/steps/{step}/actions", {"action": "receive"}, staff["receiver"])
    assert second.status_code == 409
    assert second.json()["code"] == "step_already_handled"
    wrong = post(client, f"{base}/steps/{open_step(dossier).pk}/actions", {"action": "sign"}, staff["specialist"])
    assert wrong.status_code == 409
    assert wrong.json()["code"] == "action_not_allowed"
    for role, action in (("specialist", "forward"), ("head", "approve"), ("leader", "sign"), ("clerk", "return")):
        answer = post(client, f"{base}/steps/{open_step(dossier).pk}/actions", {"action": action}, staff[role])
        assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == 10
    stats = client.get(
        "/api/v1/office/statistics",
        {"start": "2020-01-01", "end": "2030-12-31", "by": "agency"},
        **bearer(staff["head"]),
    ).json()
    assert stats[0]["early"] + stats[0]["on_time"] + stats[0]["late"] == 1


def test_supplement_round_trip_with_a_file_and_bad_input(client, submit, staff, citizen, pdf_bytes):
    dossier, _ = submit()
    base = f"/api/v1/dossiers/{dossier.code}"
    post(client, f"{base}/steps/{open_step(dossier).pk}/actions", {"action": "receive"}, staff["receiver"])
    empty = post(
        client, f"{base}/steps/{open_step(dossier).pk}/supplement-requests", {"items": []}, staff["specialist"]
    )
    assert empty.status_code == 422
    asked = post(
        client,
        f"{base}/steps/{open_step(dossier).pk}/supplement-requests",
        {"items": [{"document": "Tờ khai có chữ ký", "reason": "Thiếu chữ ký"}]},
        staff["specialist"],
    )
    assert asked.status_code == 200, asked.content
    assert asked.json()["status"] == 5
    bad_file = {
        "note": "x",
        "attachments": [{"requirement": "TOKHAI", "filename": "a.pdf", "content_base64": "bm9wZQ=="}],
    }
    refused = post(client, f"{base}/supplement", bad_file, citizen)
    assert refused.status_code == 422
    assert DossierDocument.objects.filter(dossier=dossier).count() == 1
    good = {
        "note": "Đã ký",
        "attachments": [
            {
                "requirement": "TOKHAI",
                "filename": "to-khai-ky.pdf",
                "content_base64": base64.b64encode(pdf_bytes).decode(),
            }
        ],
    }
    answered = post(client, f"{base}/supplement", good, citizen)
    assert answered.status_code == 200, answered.content
    assert answered.json()["status"] == 2
    assert DossierDocument.objects.filter(dossier=dossier).count() == 2
    again = post(client, f"{base}/supplement", good, citizen)
    assert again.status_code == 409  # nothing awaited any more: nothing written twice
    assert DossierDocument.objects.filter(dossier=dossier).count() == 2


def test_queues_and_assignment_over_the_api(client, submit, staff, agency):
    dossier, _ = submit()
    counts = client.get("/api/v1/office/queues", **bearer(staff["receiver"])).json()
    assert counts["receive"] == 1
    page = client.get("/api/v1/office/queues/receive", **bearer(staff["receiver"])).json()
    assert page["items"][0]["dossier"] == dossier.code
    assert client.get("/api/v1/office/queues/nonsense", **bearer(staff["receiver"])).status_code == 404
    step = page["items"][0]["step"]
    other = RoleAssignmentFactory(agency=agency, role="receiver").user
    refused = post(client, "/api/v1/office/assignments", {"steps": [step], "assignee": other.username}, staff["clerk"])
    assert refused.status_code == 403
    done = post(client, "/api/v1/office/assignments", {"steps": [step], "assignee": other.username}, staff["head"])
    assert done.json() == {"assigned": 1}
    mine = client.get("/api/v1/office/queues/mine", **bearer(other)).json()
    assert [i["dossier"] for i in mine["items"]] == [dossier.code]
    found = client.get("/api/v1/office/search", {"code": dossier.code}, **bearer(staff["head"])).json()
    assert [d["code"] for d in found["items"]] == [dossier.code]


def test_citizens_cannot_use_the_back_office(client, submit, citizen):
    dossier, _ = submit()
    assert client.get("/api/v1/office/queues", **bearer(citizen)).status_code == 403
    assert client.get(f"/api/v1/dossiers/{dossier.code}/steps", **bearer(citizen)).status_code == 403
    step = open_step(dossier).pk
    answer = post(client, f"/api/v1/dossiers/{dossier.code}/steps/{step}/actions", {"action": "receive"}, citizen)
    assert answer.status_code == 403
    withdrawn = post(client, f"/api/v1/dossiers/{dossier.code}/withdraw", {"reason": "Không cần nữa"}, citizen)
    assert withdrawn.json()["status"] == 7
