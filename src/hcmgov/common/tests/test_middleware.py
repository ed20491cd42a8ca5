"""The platform's middleware: what each layer adds, and that it does nothing a request does not need."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.utils.functional import empty

from hcmgov.common import context
from hcmgov.common.access import AccessMiddleware, public
from hcmgov.common.middleware import ActorMiddleware, MessageMiddleware


def _with_session_and_user(request):
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    AuthenticationMiddleware(lambda r: HttpResponse()).process_request(request)
    return request


def _actor_seen(request):
    seen = []

    def view(request):
        seen.append(context.get_actor())
        return HttpResponse()

    ActorMiddleware(view)(request)
    return seen[0]


def test_a_visitor_without_session_is_anonymous_and_the_session_is_not_read(rf):
    request = _with_session_and_user(rf.get("/"))
    assert _actor_seen(request).label == "anonymous"
    assert not request.session.accessed
    assert context.get_actor() == context.Actor.system()  # reset after the request


@pytest.mark.django_db
def test_a_logged_in_user_is_the_actor(client, rf):
    from hcmgov.identity.tests.factories import UserFactory

    user = UserFactory()
    client.force_login(user)
    request = rf.get("/")
    request.COOKIES[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    actor = _actor_seen(_with_session_and_user(request))
    assert (actor.user_id, actor.label) == (user.pk, user.username)


def test_an_api_answer_does_not_vary_on_cookies_it_never_read(client):
    response = client.get("/healthz")
    assert "Cookie" not in response.get("Vary", "")
    assert response.wsgi_request._messages._wrapped is empty  # never made


def test_message_storage_is_made_on_first_use_and_still_stores(rf):
    def adds(request):
        messages.success(request, "Đã lưu")
        return HttpResponse()

    request = _with_session_and_user(rf.get("/"))
    response = MessageMiddleware(adds)(request)
    assert "messages" in response.cookies  # stored for the next page

    unused = _with_session_and_user(rf.get("/"))
    response = MessageMiddleware(lambda r: HttpResponse())(unused)
    assert unused._messages._wrapped is empty
    assert "messages" not in response.cookies


def test_request_id_problem_and_metrics_cover_early_refusals(client):
    refused = client.get("/api/v1/units", {"level": "a\x00b"}, HTTP_X_REQUEST_ID="abc12345-req")
    assert refused.status_code == 400
    assert refused["X-Request-ID"] == "abc12345-req"
    assert refused.json()["request_id"] == "abc12345-req"
    missing = client.get("/api/v1/no-such-route")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"
    assert missing.json()["request_id"] == missing["X-Request-ID"]
    text = client.get("/metrics").content.decode()
    assert 'hcmgov_http_requests_total{method="GET",route="unmatched",status="400"}' in text


def test_access_decisions_are_kept_per_view_and_still_refuse(rf):
    from django.core.exceptions import PermissionDenied

    def naked(request):
        return HttpResponse()

    @public
    def declared(request):
        return HttpResponse()

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]
        access = "public"

        def __call__(self, request):
            return HttpResponse()

    middleware = AccessMiddleware(lambda r: HttpResponse())
    for _ in range(2):
        with pytest.raises(PermissionDenied):
            middleware.process_view(rf.get("/x"), naked, (), {})
        assert middleware.process_view(rf.get("/x"), declared, (), {}) is None
        assert middleware.process_view(rf.get("/x"), Unhashable(), (), {}) is None
    assert middleware.declared == {naked: False, declared: True}
