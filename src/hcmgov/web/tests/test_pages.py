"""The portal's pages through Django's test client: search, procedure, the form of every seeded
procedure submitted as a browser would post it, errors, tracking, the back office."""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from hcmgov.catalog.models import Procedure
from hcmgov.common import jsonform
from hcmgov.dossiers.models import Dossier, DossierStep

pytestmark = pytest.mark.django_db


def as_post(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten form data the way an HTML form posts it."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(as_post(value, prefix=f"{name}."))
        elif isinstance(value, bool):
            if value:
                out[name] = "on"
        else:
            out[name] = [str(v) for v in value] if isinstance(value, list) else str(value)
    return out


def valid_sample(schema: dict[str, Any]) -> dict[str, Any]:
    data = jsonform.sample_valid(schema, random.Random(7))
    assert data is not None, "could not build a valid sample"
    return data


def test_search_page_filters_and_language(client, city):
    page = client.get("/", {"q": "ket hon"})
    assert page.status_code == 200
    assert "Đăng ký kết hôn" in page.content.decode()
    # Vietnamese first: a browser's Accept-Language does not switch pages; the switch does
    assert "Tìm thủ tục" in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert switched.status_code == 302
    english = client.get("/", {"q": "ket hon"}).content.decode()
    assert "Find an administrative procedure" in english
    assert "Marriage registration" in english
    assert "Tìm thủ tục" not in english
    filtered = client.get("/", {"level": "city"}).content.decode()
    assert "Đăng ký khai sinh" not in filtered


def test_procedure_page(client, city):
    body = client.get("/thu-tuc/1.001193/").content.decode()
    assert "Đăng ký khai sinh" in body
    assert "Thành phần hồ sơ" in body
    assert client.get("/thu-tuc/9.999999/").status_code == 404


@pytest.mark.parametrize(
    "code",
    sorted(
        p.stem
        for p in __import__("pathlib").Path(__file__).parents[2].joinpath("catalog/data/procedures").glob("*.yaml")
    ),
)
def test_every_seeded_procedure_can_be_submitted_through_its_form(client, city, citizen, pdf_bytes, code):
    procedure = Procedure.objects.get(code=code)
    client.force_login(citizen)
    form_page = client.get(f"/thu-tuc/{code}/nop-ho-so/")
    assert form_page.status_code == 200
    html = form_page.content.decode()
    version = procedure.versions.order_by("-version").first()
    for field in jsonform.flat_fields(version.form_schema):
        assert f'name="{field.name}"' in html, field.name
    agencies = form_page.context["agencies"]
    assert agencies, f"no agency in force handles {code}"
    post = as_post(valid_sample(version.form_schema))
    post.update(agency=agencies[0].code, submission_token=f"t-{code}")
    for doc in version.required_documents:
        if doc.get("kind") != "present" and doc.get("required", True):
            post[f"doc-{doc['code']}"] = SimpleUploadedFile(f"{doc['code']}.pdf", pdf_bytes, "application/pdf")
    response = client.post(f"/thu-tuc/{code}/nop-ho-so/", post)
    assert response.status_code == 302, response.context and [e.message.vi for e in response.context["errors"]]
    dossier = Dossier.objects.get(procedure=procedure)
    assert response["Location"] == f"/ho-so/{dossier.code}/"
    assert dossier.code.startswith(agencies[0].code + "-")
    page = client.get(response["Location"]).content.decode()
    assert dossier.code in page
    assert "Mới" in page


def test_form_errors_keep_values_name_fields_and_write_nothing(client, city, citizen, png_bytes):
    client.force_login(citizen)
    post = {"agency": "", "submission_token": "t1", "ho_ten_nguoi_yeu_cau": "Nguyễn Văn A",
            "doc-TOKHAI": SimpleUploadedFile("to-khai.pdf", png_bytes, "application/pdf")}  # fmt: skip
    response = client.post("/thu-tuc/1.001193/nop-ho-so/", post)
    assert response.status_code == 422
    body = response.content.decode()
    assert "Hồ sơ chưa hợp lệ" in body
    assert "không đúng với loại tệp .pdf" in body
    assert 'href="#f-agency"' in body
    assert 'aria-invalid="true"' in body
    assert Dossier.objects.count() == 0


def test_double_submit_with_the_same_token_makes_one_dossier(client, city, citizen, pdf_bytes):
    procedure = Procedure.objects.get(code="1.004873")
    version = procedure.versions.first()
    client.force_login(citizen)
    agencies = client.get("/thu-tuc/1.004873/nop-ho-so/").context["agencies"]
    post = as_post(valid_sample(version.form_schema))
    post.update(agency=agencies[0].code, submission_token="same-token")

    def files():
        return {
            f"doc-{d['code']}": SimpleUploadedFile("a.pdf", pdf_bytes, "application/pdf")
            for d in version.required_documents
            if d.get("kind") != "present" and d.get("required", True)
        }

    first = client.post("/thu-tuc/1.004873/nop-ho-so/", {**post, **files()})
    second = client.post("/thu-tuc/1.004873/nop-ho-so/", {**post, **files()})
    assert first["Location"] == second["Location"]
    assert Dossier.objects.count() == 1


def test_tracking_page(client, submit):
    dossier, _ = submit()
    ok = client.get("/tra-cuu/", {"code": dossier.code, "secret": dossier.tracking_secret})
    assert ok.status_code == 200
    assert dossier.code in ok.content.decode()
    wrong = client.get("/tra-cuu/", {"code": dossier.code, "secret": "NOPE"})
    assert wrong.status_code == 404
    assert "Không tìm thấy hồ sơ" in wrong.content.decode()


def test_back_office_receives_and_refuses(client, submit, receiver):
    first, _ = submit()
    second, _ = submit()
    client.force_login(receiver)
    queue = client.get("/office/?queue=receive").content.decode()
    assert first.code in queue
    assert second.code in queue

    def decide(dossier, decision, note=""):
        step = DossierStep.objects.get(dossier=dossier, state="open")
        data = {"action": "act", "step": step.pk, "decision": decision, "note": note}
        return client.post(f"/office/ho-so/{dossier.code}/", data)

    assert decide(first, "receive").status_code == 302
    missing_reason = decide(second, "refuse")
    assert missing_reason.status_code == 409
    assert "lý do" in missing_reason.content.decode()
    assert decide(second, "refuse", "Thiếu giấy tờ").status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (2, 3)
    assert client.get(f"/ho-so/{second.code}/phieu-tu-choi.pdf")["Content-Type"] == "application/pdf"
    page = client.get(f"/office/ho-so/{first.code}/").content.decode()
    assert "Thẩm định hồ sơ" in page  # the next step, shown with its decisions
    assert client.get(f"/office/ho-so/{first.code}/phieu-kiem-soat.pdf")["Content-Type"] == "application/pdf"


def test_an_oversized_upload_is_named_without_being_read(client, city, citizen, pdf_bytes, settings):
    settings.UPLOAD_MAX_BYTES = 100
    client.force_login(citizen)
    big = SimpleUploadedFile("to-khai.pdf", pdf_bytes + b"0" * 200, "application/pdf")
    response = client.post("/thu-tuc/1.001193/nop-ho-so/", {"submission_token": "t2", "doc-TOKHAI": big})
    assert response.status_code == 422
    assert [e.code for e in response.context["errors"] if e.field == "TOKHAI"] == ["too_large"]
    assert Dossier.objects.count() == 0


def test_my_dossiers_list_reads_no_dossiers_contents(client, submit, citizen):
    """The list shows codes, procedures and statuses: the encrypted form, process state and address
    of each row are not fetched nor decrypted (bench/pages.py's profile found them read for nothing)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        submit()
    client.force_login(citizen)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/ho-so/")
    assert page.status_code == 200
    listed = [q["sql"] for q in queries.captured_queries if '"dossiers_dossier"."code"' in q["sql"]]
    assert listed, "the list's query was not seen"
    assert not any('"form_data"' in sql or '"workflow_state"' in sql for sql in listed)
