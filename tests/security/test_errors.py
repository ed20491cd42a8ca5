"""V16.5.1 generic error messages and V13.4.2 no debug output (OWASP ASVS 5.0): 400, 403, 404 and
500 pages in Vietnamese (English on request or below), problem documents on the API, never a
stack trace, a query or a setting; the unexpected error is logged in full for the operators
(V16.3.4). The 500s come from views that raise, under DEBUG off."""

from __future__ import annotations

import logging

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

from hcmgov.common.access import public

pytestmark = pytest.mark.django_db

SECRET_DETAIL = "kết nối tới 10.0.0.7:5432 bị từ chối, mật khẩu postgres=hunter2"
LEAKS = ("Traceback", "RuntimeError", SECRET_DETAIL, "hunter2", "django", "Django", "DEBUG", "SECRET_KEY", 'File "')


@public
def _raising(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_DETAIL)


# This module is the URL configuration of the tests that set ROOT_URLCONF to it: the platform's
# addresses, and two that fail the way a bug would.
urlpatterns = [
    path("loi-thu/", _raising),
    path("api/v1/loi-thu", _raising),
    path("", include("hcmgov.urls")),
]


@pytest.fixture
def failing_site(settings):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False
    return Client(raise_request_exception=False)


def _no_leak(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, leak


def test_an_unexpected_error_on_a_page_is_a_generic_bilingual_page(failing_site, caplog):
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = failing_site.get("/loi-thu/")
    assert response.status_code == 500
    text = response.content.decode()
    body = text.split("<main>", 1)[1]
    assert body.index("Hệ thống đang gặp sự cố") < body.index("Server error")  # Vietnamese first
    _no_leak(text)
    # the operators get the whole story, with the request id the visitor's page carries
    record = next(r for r in caplog.records if r.name == "django.request" and r.levelno == logging.ERROR)
    assert record.exc_info is not None
    assert SECRET_DETAIL in str(record.exc_info[1])


def test_an_unexpected_error_on_the_api_is_a_generic_problem_document(failing_site):
    response = failing_site.get("/api/v1/loi-thu", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 500
    assert body["request_id"] == response["X-Request-ID"]
    _no_leak(response.content.decode())


def test_not_found_is_a_bilingual_page_without_details(client):
    response = client.get("/khong-co-trang-nay/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "Không tìm thấy trang" in text
    assert "/khong-co-trang-nay/" not in text.split("<main", 1)[1]  # no echo of what was tried
    _no_leak(text)
    client.cookies["django_language"] = "en"
    assert "Page not found" in client.get("/khong-co-trang-nay/").content.decode()


def test_forbidden_is_a_bilingual_page_without_the_rule(client, citizen):
    client.force_login(citizen)
    response = client.get("/office/")  # the back office, to a citizen
    assert response.status_code == 403
    text = response.content.decode()
    assert "Không có quyền truy cập" in text
    assert "official" not in text.split("<main", 1)[1]  # the access rule named in the exception stays inside
    _no_leak(text)


def test_a_bad_request_and_a_csrf_failure_are_bilingual_pages(citizen):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(citizen)
    refused = strict.post("/dang-xuat/")  # no CSRF token
    assert refused.status_code == 403
    text = refused.content.decode()
    assert text.index("Không gửi được biểu mẫu") < text.index("The form could not be sent")
    _no_leak(text)
    bad_host = Client(HTTP_HOST="ke-gian-lan.example").get("/")  # not in ALLOWED_HOSTS
    assert bad_host.status_code == 400
    text = bad_host.content.decode()
    assert text.index("Yêu cầu không hợp lệ") < text.index("Bad request")
    _no_leak(text)


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["TRACE", "TRACK"])
def test_trace_is_refused_everywhere_and_nothing_is_echoed(client, method):
    """ASVS 13.4.4: TRACE (and IIS's TRACK) would echo the request — cookies and headers — back."""
    page = client.generic(method, "/", HTTP_X_SECRET_HEADER="echo-me")
    assert page.status_code == 405
    assert "GET" in page["Allow"]
    assert b"echo-me" not in page.content
    api = client.generic(method, "/api/v1/procedures", HTTP_X_SECRET_HEADER="echo-me")
    assert api.status_code == 405
    assert api["Content-Type"] == "application/problem+json"
    assert b"echo-me" not in api.content
