# ruff: noqa: F811 - the fixtures imported from signing_fixtures are parameters of the tests
"""Results issued electronically: a finished dossier's result is rendered, signed with its agency's
certificate and a time-stamp from the TSA simulator (over HTTP), kept in the applicant's data
store, shown on the dossier, and verified by anyone through the page, the QR route and the API."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from hcmgov.common.errors import DomainError
from hcmgov.core.models import OutboxEvent
from hcmgov.documents import pki, results, storage, tasks, verification
from hcmgov.documents.handlers import _issue
from hcmgov.documents.models import Component, Result, ResultRequest
from hcmgov.documents.tests.signing_fixtures import no_tsa, pki_folder, tsa  # noqa: F401 - fixtures
from hcmgov.dossiers.models import Dossier, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(submit, agency, pki_folder, tsa):
    pki.certificate_issue_demo(agency_id=agency.pk)
    dossier, _ = submit()
    return dossier, results.result_issue(dossier_id=dossier.pk)


def test_the_result_is_signed_time_stamped_numbered_and_in_the_applicants_store(issued, agency):
    dossier, result = issued
    assert result.number.startswith("1/")
    assert result.number.endswith(f"/KQ-{agency.code}")
    assert result.timestamped_at is not None
    component = result.component
    assert component.owner_id == dossier.applicant_id
    assert component.kind == "result"
    assert component.state == "confirmed"
    assert component.code.startswith(f"KQ{agency.code}-")
    data = storage.blob_read(blob=component.blob)
    verdict = verification.pdf_verify(data=data)
    assert verdict.status == "valid", verdict.reason
    assert verdict.dossier_code == dossier.code
    assert verdict.result_number == result.number
    assert OutboxEvent.objects.filter(topic="result.issued", key=dossier.code).exists()


def test_issuing_again_gives_the_same_result(issued):
    dossier, result = issued
    again = results.result_issue(dossier_id=dossier.pk)
    assert again.pk == result.pk
    assert Result.objects.filter(dossier_id=dossier.pk).count() == 1
    assert Component.objects.filter(kind="result", source_dossier_code=dossier.code).count() == 1


def test_the_applicant_sees_the_result_and_anyone_verifies_it(client, issued, citizen):
    dossier, result = issued
    client.force_login(citizen)
    page = client.get(reverse("web:dossier", args=[dossier.code])).content.decode()
    assert result.number in page
    assert result.component.code in client.get(reverse("web:my_store")).content.decode()
    data = b"".join(client.get(reverse("web:component_file", args=[result.component.code])).streaming_content)
    client.logout()
    qr = client.get(reverse("web:verify_token", args=[result.verify_token]))
    assert qr.status_code == 200
    assert result.number in qr.content.decode()
    checked = client.post(
        reverse("web:verify_token", args=[result.verify_token]),
        {"file": SimpleUploadedFile("kq.pdf", data, "application/pdf")},
    ).content.decode()
    assert "Hợp lệ" in checked
    assert "Tệp này đúng là bản kết quả nêu trên." in checked
    tampered = bytearray(data)
    tampered[len(tampered) // 3] ^= 0x01  # one byte inside the signed range
    altered = client.post(reverse("web:verify"), {"file": SimpleUploadedFile("kq.pdf", bytes(tampered))})
    assert "Hợp lệ" not in altered.content.decode()
    api = client.post(
        "/api/v1/documents/verify", {"file": SimpleUploadedFile("kq.pdf", data)}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert api.status_code == 200
    assert api.json()["status"] == "valid"
    assert api.json()["dossier_code"] == dossier.code
    facts = client.get(f"/api/v1/documents/results/{result.verify_token}").json()
    assert facts["number"] == result.number
    assert facts["sha256"] == result.signed_sha256
    assert client.get("/api/v1/documents/results/unknown0token").status_code == 404
    assert client.get(reverse("web:verify_token", args=["unknown0token"])).status_code == 404


def test_an_agency_without_a_certificate_issues_nothing_and_the_task_does_not_retry(submit, caplog):
    dossier, _ = submit()
    with pytest.raises(DomainError) as refused:
        results.result_issue(dossier_id=dossier.pk)
    assert refused.value.code == "no_certificate"
    with caplog.at_level(logging.WARNING, logger="hcmgov.documents.tasks"):
        assert tasks.result_issue.apply(args=[dossier.pk]).get() is False  # a retry would meet the same refusal
    assert "result not issued" in caplog.text
    assert not Result.objects.exists()


@pytest.fixture
def eager():
    """Tasks run where they are queued (the worker's part of the path, in the test's process)."""
    from celery import current_app

    saved = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = saved


def test_the_finished_event_queues_the_signing_task(submit, agency, pki_folder, tsa, eager):
    pki.certificate_issue_demo(agency_id=agency.pk)
    dossier, _ = submit()
    _issue(OutboxEvent(topic="dossier.finished", key=dossier.code, payload={"dossier_id": dossier.pk}))
    _issue(OutboxEvent(topic="dossier.finished", key=dossier.code, payload={"dossier_id": dossier.pk}))  # again
    assert Result.objects.filter(dossier_id=dossier.pk).count() == 1


def _age(dossier_id: int, hours: int = 2) -> None:
    ResultRequest.objects.filter(dossier_id=dossier_id).update(updated_at=timezone.now() - dt.timedelta(hours=hours))


def test_a_silent_time_stamping_authority_is_retried_then_left_to_the_sweep(
    submit,
    agency,
    pki_folder,
    tsa,
    eager,
    monkeypatch,
    caplog,
):
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("HCMGOV_TSA_URL", f"http://127.0.0.1:{port}/tsa")
    monkeypatch.setattr(tasks, "RESULT_RETRIES", 2)
    pki.certificate_issue_demo(agency_id=agency.pk)
    dossier, _ = submit()
    with caplog.at_level(logging.WARNING, logger="hcmgov.documents.tasks"):
        _issue(OutboxEvent(topic="dossier.finished", key=dossier.code, payload={"dossier_id": dossier.pk}))
    assert not Result.objects.exists()
    tries = [r for r in caplog.records if getattr(r, "dossier_id", None) == dossier.pk]
    assert [r.why for r in tries] == ["tsa_unavailable"]  # logged once: after the last retry
    request = ResultRequest.objects.get(dossier_id=dossier.pk)
    assert (request.state, request.reason) == ("failed", "tsa_unavailable")
    # the authority answers again; the sweep takes requests untouched for an hour
    monkeypatch.setenv("HCMGOV_TSA_URL", tsa["url"])
    assert tasks.results_sweep() == 0
    _age(dossier.pk)
    assert tasks.results_sweep() == 1
    assert Result.objects.filter(dossier_id=dossier.pk).count() == 1
    assert ResultRequest.objects.get(dossier_id=dossier.pk).state == "issued"
    _age(dossier.pk)
    assert tasks.results_sweep() == 0


def test_a_result_refused_for_want_of_a_certificate_is_issued_by_the_sweep_once_there_is_one(
    submit, agency, pki_folder, no_tsa, eager
):
    dossier, _ = submit()
    _issue(OutboxEvent(topic="dossier.finished", key=dossier.code, payload={"dossier_id": dossier.pk}))
    assert ResultRequest.objects.get(dossier_id=dossier.pk).state == "refused"
    _age(dossier.pk)
    assert tasks.results_sweep() == 0  # still no certificate: left alone
    pki.certificate_issue_demo(agency_id=agency.pk)
    _age(dossier.pk)
    assert tasks.results_sweep() == 1
    assert Result.objects.filter(dossier_id=dossier.pk).count() == 1


def test_the_sweep_signs_nothing_that_was_never_asked_for(submit, agency, pki_folder, no_tsa, eager):
    """A dossier finished outside the platform's flow (imported, the demo city) gets no result
    behind anyone's back."""
    pki.certificate_issue_demo(agency_id=agency.pk)
    dossier, _ = submit()
    Dossier.objects.filter(pk=dossier.pk).update(
        status=Status.FINISHED, finished_at=timezone.now() - dt.timedelta(hours=2)
    )
    assert tasks.results_sweep() == 0
    assert not Result.objects.exists()


def test_a_revoked_certificate_signs_nothing(submit, agency, pki_folder, tsa):
    certificate = pki.certificate_issue_demo(agency_id=agency.pk)
    pki.certificate_revoke(certificate=certificate, reason="keyCompromise")
    dossier, _ = submit()
    with pytest.raises(DomainError) as refused:
        results.result_issue(dossier_id=dossier.pk)
    assert refused.value.code == "no_certificate"  # a revoked certificate is not in force
    assert not Result.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_tasks_issuing_the_same_result_at_once_make_one_and_waste_no_number(
    submit,
    agency,
    pki_folder,
    no_tsa,
):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's test database cannot be shared between threads' connections")
    pki.certificate_issue_demo(agency_id=agency.pk)
    dossier, _ = submit()
    start = threading.Barrier(2)

    def issue(_: int) -> int:
        try:
            start.wait(timeout=30)
            return results.result_issue(dossier_id=dossier.pk).pk
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        pks = list(pool.map(issue, range(2)))
    assert len(set(pks)) == 1
    assert Result.objects.get().number.startswith("1/")
    other, _ = submit(idempotency_key="other")
    assert results.result_issue(dossier_id=other.pk).number.startswith("2/")  # the loser gave its number back
