"""/api/v1/eoffice: the outgoing documents and the incoming register of the caller's agencies, one
document with its versions, signatures and dispatches; another agency's document is a 404, a
citizen is refused, bad filters are 422 problems; queries pinned for the list."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from hcmgov.identity.services import api_token_issue
from hcmgov.identity.tests.factories import UserFactory
from hcmgov.identity.tests.oidc_support import _client_secret_hasher  # noqa: F401 - autouse fixture
from hcmgov.office import dispatches, services
from hcmgov.office.tests.test_documents import drafted, issued

pytestmark = pytest.mark.django_db
BASE = "/api/v1/eoffice"


def get(user, path: str, **query):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_token_issue(user=user, name='test').raw}"} if user else {}
    return Client().get(BASE + path, query, **headers)


def test_documents_and_one_document_with_its_signatures_and_dispatches(city, ward, certificate, no_tsa, signable_pdf):
    document = issued(city, signable_pdf)
    dispatches.document_send(document=document, clerk=city.clerk, recipient_ids=[ward.agency.pk])
    draft = drafted(city, signable_pdf, summary="Dự thảo khác")
    listed = get(city.clerk, "/documents").json()
    assert listed["count"] == 2
    assert {d["number_symbol"] for d in listed["items"]} == {"01/QĐ-SNV", ""}
    assert get(city.clerk, "/documents", state="draft").json()["items"][0]["id"] == draft.pk
    one = get(city.drafter, f"/documents/{document.pk}").json()
    assert one["agency"] == city.agency.code
    assert one["state"] == "issued"
    assert one["issued_sha256"]
    assert [v["version"] for v in one["versions"]] == [1]
    assert [s["superseded"] for s in one["signatures"]] == [False]
    assert [(d["recipient"], d["state"]) for d in one["dispatches"]] == [(ward.agency.code, "sent")]
    # the ward registers it: its incoming register says so, the sender's document too
    dispatches.incoming_from_dispatch(dispatch=document.dispatches.get(), clerk=ward.clerk)
    incoming = get(ward.clerk, "/incoming").json()["items"]
    assert [(i["arrival_number"], i["number_symbol"], i["dispatch_state"]) for i in incoming] == [
        (1, "01/QĐ-SNV", "received")
    ]
    assert get(city.clerk, f"/documents/{document.pk}").json()["dispatches"][0]["state"] == "received"


def test_another_agencys_document_is_404_and_a_citizen_is_refused(city, ward, signable_pdf):
    document = drafted(city, signable_pdf)
    assert get(ward.clerk, f"/documents/{document.pk}").status_code == 404
    assert get(ward.clerk, "/documents").json()["count"] == 0
    assert get(UserFactory(), "/documents").status_code == 403
    assert get(None, "/documents").status_code == 401


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/documents", {"state": "nonsense"}),
        ("/documents", {"year": "abc"}),
        ("/documents", {"year": "99999"}),
        ("/incoming", {"register_type": "both"}),
        ("/documents/0", {}),
        ("/documents/99999999999999999999999", {}),
    ],
)
def test_bad_input_is_a_422_problem(city, path, query):
    response = get(city.clerk, path, **query)
    assert response.status_code in (404, 422)
    assert response["Content-Type"].startswith("application/problem+json")


def test_the_list_reads_a_fixed_number_of_queries(city, signable_pdf):
    for n in range(3):
        drafted(city, signable_pdf, summary=f"Văn bản {n}")
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_token_issue(user=city.clerk, name='q').raw}"}
    client.get(BASE + "/documents", **headers)
    with CaptureQueriesContext(connection) as few:
        client.get(BASE + "/documents", **headers)
    for n in range(5):
        services.document_draft(
            official=city.drafter, agency_id=city.agency.pk, agency_abbreviation="SNV", doc_type="quyet_dinh",
            summary=f"Thêm {n}", data=signable_pdf, filename="x.pdf",
        )  # fmt: skip
    with CaptureQueriesContext(connection) as more:
        client.get(BASE + "/documents", **headers)
    assert len(more) == len(few)


# --- a recipient's own system acknowledges over the API ---------------------------------------------


@pytest.fixture
def ward_system(ward, client):
    """The ward's own document system: an information system of the exchange (its member is the ward)
    with an OAuth2 client (client credentials), and a bearer token of it."""
    from hcmgov.exchange.tests.factories import InformationSystemFactory, MemberFactory
    from hcmgov.identity.provider import services as provider
    from hcmgov.identity.tests.oidc_support import basic

    app = provider.machine_client_register(name="Hệ thống văn phòng điện tử của phường", agency_id=ward.agency.pk)
    InformationSystemFactory(member=MemberFactory(agency=ward.agency), client_id=app.client_id)
    token = client.post("/o/token/", {"grant_type": "client_credentials", "scope": "hcmgov.api"}, **basic(app))
    assert token.status_code == 200, token.content
    return {"HTTP_AUTHORIZATION": f"Bearer {token.json()['access_token']}"}


def acknowledge(auth, dispatch_id: int, **body):
    return Client().post(
        f"{BASE}/dispatches/{dispatch_id}/acknowledgement", body, content_type="application/json", **auth
    )


def test_the_recipients_own_system_acknowledges_and_the_sender_sees_it(
    city, ward, district, certificate, no_tsa, signable_pdf, ward_system
):
    document = issued(city, signable_pdf)
    to_ward, to_district = dispatches.document_send(
        document=document, clerk=city.clerk, recipient_ids=[ward.agency.pk, district.agency.pk]
    )
    answer = acknowledge(ward_system, to_ward.pk, state="received")
    assert answer.status_code == 200, answer.content
    assert (answer.json()["state"], answer.json()["number_symbol"]) == ("received", "01/QĐ-SNV")
    assert acknowledge(ward_system, to_ward.pk, state="received").status_code == 200  # again: nothing changes
    assert acknowledge(ward_system, to_ward.pk, state="processed").json()["state"] == "processed"
    states = {d["recipient"]: d["state"] for d in get(city.clerk, f"/documents/{document.pk}").json()["dispatches"]}
    assert states == {ward.agency.code: "processed", district.agency.code: "sent"}
    # its system fetches the issued file by the dispatch and checks the hash the event carried
    fetched = Client().get(f"{BASE}/dispatches/{to_ward.pk}/file", **ward_system)
    assert (fetched.status_code, fetched["Content-Type"]) == (200, "application/pdf")
    document.refresh_from_db()
    assert hashlib.sha256(fetched.content).hexdigest() == document.issued_sha256 == fetched["X-Content-SHA256"]
    assert Client().get(f"{BASE}/dispatches/{to_district.pk}/file", **ward_system).status_code == 404
    # another agency's dispatch does not exist for it; a return needs a reason; a person is refused
    assert acknowledge(ward_system, to_district.pk, state="received").status_code == 404
    assert acknowledge(ward_system, to_ward.pk, state="returned").status_code == 409  # processed: no return
    person = {"HTTP_AUTHORIZATION": f"Bearer {api_token_issue(user=ward.clerk, name='t').raw}"}
    refused = acknowledge(person, to_ward.pk, state="received")
    assert (refused.status_code, refused.json()["code"]) == (403, "eoffice_not_a_system")


def test_a_return_from_the_recipients_system_needs_a_reason(city, ward, certificate, no_tsa, signable_pdf, ward_system):
    document = issued(city, signable_pdf)
    [dispatch] = dispatches.document_send(document=document, clerk=city.clerk, recipient_ids=[ward.agency.pk])
    answer = acknowledge(ward_system, dispatch.pk, state="returned")
    assert (answer.status_code, answer.json()["code"]) == (422, "reason_required")
    answer = acknowledge(ward_system, dispatch.pk, state="returned", reason="Gửi nhầm cơ quan")
    assert (answer.json()["state"], answer.json()["return_reason"]) == ("returned", "Gửi nhầm cơ quan")
    assert acknowledge(ward_system, dispatch.pk, state="bogus").status_code == 422
