"""The WSGI fast path of the public status lookup (``dossiers.fastpath``, decision 0038): requests
go through the application ``hcmgov.wsgi`` serves, as a server sends them. The fast answer is
Django's answer — the same body and headers — and every other answer is Django's own: a wrong
secret, an unknown code, a refused rate, any other query or a cookie. The rate limit takes one
token per lookup on either path."""

from __future__ import annotations

import json

import pytest

from hcmgov.common import metrics, ratelimit
from hcmgov.common.tests.wsgi import WsgiServer
from hcmgov.dossiers import fastpath

pytestmark = pytest.mark.django_db


@pytest.fixture
def server() -> WsgiServer:
    return WsgiServer(fastpath.FastTrack)


@pytest.fixture
def dossier(submit):
    return submit()[0]


@pytest.fixture(autouse=True)
def _fresh_buckets():
    ratelimit.reset()
    yield
    ratelimit.reset()


def _lookup(server: WsgiServer, code: str, query: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return server.call("GET", fastpath.PREFIX + code, QUERY_STRING=query, **headers)


def test_a_lookup_is_answered_by_the_fast_path_with_the_django_answer(server, dossier):
    query = f"secret={dossier.tracking_secret}"
    status, django_headers, django_body = _lookup(server, dossier.code, query)
    assert status == 200
    assert server.inner.calls == 1  # the first one learns the headers from Django
    counted = metrics.REQUESTS.labels("GET", server.app.route(), "200")
    seen = counted._value.get()
    status, headers, body = _lookup(server, dossier.code, query)
    assert status == 200
    assert server.inner.calls == 1  # Django not called
    assert counted._value.get() == seen + 1  # counted under the route's name, as Django's path counts it
    assert body == django_body
    assert json.loads(body)["code"] == dossier.code
    assert headers.pop("X-Request-ID") != django_headers.pop("X-Request-ID")
    assert headers == django_headers  # every security header, Cache-Control, Content-Language, Vary …
    assert headers["Content-Length"] == str(len(body))
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in headers


def test_the_answer_follows_the_dossier(server, dossier):
    query = f"secret={dossier.tracking_secret}"
    _lookup(server, dossier.code, query)
    dossier.status = 4
    dossier.save(update_fields=["status"])
    status, _, body = _lookup(server, dossier.code, query)
    assert server.inner.calls == 1
    assert (status, json.loads(body)["status"]) == (200, 4)  # nothing kept between lookups but headers


def test_the_request_id_is_taken_or_made(server, dossier):
    query = f"secret={dossier.tracking_secret}"
    _lookup(server, dossier.code, query)
    _, headers, _ = _lookup(server, dossier.code, query, X_REQUEST_ID="portal-abc-123")
    assert headers["X-Request-ID"] == "portal-abc-123"
    _, headers, _ = _lookup(server, dossier.code, query, X_REQUEST_ID="bad id!")
    assert len(headers["X-Request-ID"]) == 32
    assert server.inner.calls == 1


def test_headers_are_learnt_per_language_as_the_api_answers_in_the_callers(server, dossier):
    query = f"secret={dossier.tracking_secret}"
    _lookup(server, dossier.code, query)
    _, headers, _ = _lookup(server, dossier.code, query, ACCEPT_LANGUAGE="en")
    assert server.inner.calls == 2  # a new key: Django answers and teaches it
    assert headers["Content-Language"] == "en"
    _, again, _ = _lookup(server, dossier.code, query, ACCEPT_LANGUAGE="en")
    assert server.inner.calls == 2
    assert again["Content-Language"] == "en"
    _, vietnamese, _ = _lookup(server, dossier.code, query)
    assert vietnamese["Content-Language"] == "vi"


@pytest.mark.parametrize(
    ("code", "query", "headers", "status"),
    [
        ("{code}", "secret=WRONG123", {}, 404),  # a wrong secret: Django's problem document
        ("NO-SUCH-CODE", "secret={secret}", {}, 404),
        ("{code}", "", {}, 422),  # no secret
        ("{code}", "secret=", {}, 404),  # an empty secret matches none
        ("{code}", "secret={secret}&x=1", {}, 200),  # another parameter: Django's path
        ("{code}", "secret=%20{secret}", {}, 200),  # escaped characters: Django's path
        ("{code}", "secret={secret}", {"COOKIE": "sessionid=abc"}, 200),
        ("{code}", "secret={secret}", {"AUTHORIZATION": "Bearer x"}, 200),  # a public route: Django ignores it
        ("{code}/", "secret={secret}", {}, 404),
        ("{code}%00", "secret={secret}", {}, 400),
    ],
)
def test_anything_else_is_answered_by_django(server, dossier, code, query, headers, status):
    good = f"secret={dossier.tracking_secret}"
    _lookup(server, dossier.code, good)  # headers learnt: the path is ready to answer
    calls = server.inner.calls
    path = code.format(code=dossier.code).replace("%00", "\x00")
    answer, got, body = _lookup(server, path, query.format(secret=dossier.tracking_secret), **headers)
    assert server.inner.calls == calls + 1
    assert answer == status, body
    if status >= 400:
        assert got["Content-Type"] == "application/problem+json"
        assert "detail" in json.loads(body)


def test_the_rate_limit_takes_one_token_per_lookup_on_either_path(server, dossier, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "public_lookup": (0.001, 4)}  # four at once, then one each 1,000 s
    ratelimit.reset()
    good, wrong = f"secret={dossier.tracking_secret}", "secret=WRONG123"
    assert _lookup(server, dossier.code, good)[0] == 200  # Django's path (it learns), token 1
    assert _lookup(server, dossier.code, wrong)[0] == 404  # the fast path took token 2, Django answered
    assert _lookup(server, dossier.code, good)[0] == 200  # token 3, the fast path
    assert _lookup(server, dossier.code, wrong)[0] == 404  # token 4
    status, headers, body = _lookup(server, dossier.code, good)
    assert status == 429  # counted once each above: the fifth is refused, by Django's problem document
    assert headers["Content-Type"] == "application/problem+json"
    assert "Retry-After" in headers
    assert "Quá nhiều yêu cầu" in json.loads(body)["detail"]


def test_off_when_switched_off_or_the_stack_changes(server, dossier, settings):
    settings.TRACKING_FAST_PATH = False
    assert not server.app.enabled()
    settings.TRACKING_FAST_PATH = True
    assert server.app.enabled()
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    assert not server.app.enabled()
    query = f"secret={dossier.tracking_secret}"
    for _ in range(3):
        assert _lookup(server, dossier.code, query)[0] == 200
    assert server.inner.calls == 3  # every lookup went to Django


def test_the_served_application_has_the_fast_path():
    from hcmgov import wsgi

    layers, app = [], wsgi.application
    while hasattr(app, "app"):
        layers.append(type(app).__name__)
        app = app.app
    assert "FastTrack" in layers
