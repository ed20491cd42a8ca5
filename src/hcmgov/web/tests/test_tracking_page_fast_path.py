"""The WSGI fast path of the public tracking page (``web.fastpath``, decision 0039): requests go
through the application ``hcmgov.wsgi`` serves, as a server sends them. The fast answer is
Django's page — the same bytes and headers — in the visitor's language, and every other answer is
Django's own: a wrong secret, an unknown code, the empty form, a refused rate, any other query or
cookie. The rate limit takes one token per lookup on either path. The language switch the page
needs for it — a link, no CSRF token — sets the cookie and goes back only within the site."""

from __future__ import annotations

import pytest

from hcmgov.common import metrics, ratelimit
from hcmgov.common.tests.wsgi import WsgiServer
from hcmgov.web import fastpath

pytestmark = pytest.mark.django_db


@pytest.fixture
def server() -> WsgiServer:
    return WsgiServer(fastpath.FastTrackPage)


@pytest.fixture
def dossier(submit):
    return submit()[0]


@pytest.fixture(autouse=True)
def _fresh_buckets():
    ratelimit.reset()
    yield
    ratelimit.reset()


def _page(server: WsgiServer, query: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return server.call("GET", fastpath.PATH, QUERY_STRING=query, **headers)


def _query(dossier) -> str:
    return f"code={dossier.code}&secret={dossier.tracking_secret}"


def test_a_page_is_answered_by_the_fast_path_with_django_s_page(server, dossier):
    status, django_headers, django_body = _page(server, _query(dossier))
    assert status == 200
    assert server.inner.calls == 1  # the first one learns the headers from Django
    assert "Set-Cookie" not in django_headers  # no CSRF token on the page: nothing to set
    counted = metrics.REQUESTS.labels("GET", server.app.route(), "200")
    seen = counted._value.get()
    status, headers, body = _page(server, _query(dossier))
    assert status == 200
    assert server.inner.calls == 1  # Django not called
    assert counted._value.get() == seen + 1  # counted under the route's name, as Django's path counts it
    assert body == django_body  # byte for byte: header, language switch, form, status, timeline
    html = body.decode()
    assert dossier.code in html
    assert "Trạng thái" in html
    assert "csrfmiddlewaretoken" not in html
    assert headers.pop("X-Request-ID") != django_headers.pop("X-Request-ID")
    assert headers == django_headers  # every security header, Cache-Control, Content-Language, Vary …
    assert headers["Content-Length"] == str(len(body))
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Language"] == "vi"
    assert "Content-Security-Policy" in headers


def test_the_page_follows_the_dossier(server, dossier):
    _page(server, _query(dossier))
    dossier.status = 4
    dossier.save(update_fields=["status"])
    _, _, body = _page(server, _query(dossier))
    assert server.inner.calls == 1
    assert '<span class="status s4">' in body.decode()  # nothing kept between lookups but headers


def test_the_language_cookie_gives_the_english_page(server, dossier):
    _page(server, _query(dossier))
    _, django_headers, django_body = _page(server, _query(dossier), COOKIE="django_language=en")
    assert server.inner.calls == 2  # a new key: Django answers and teaches it
    _, headers, body = _page(server, _query(dossier), COOKIE="django_language=en")
    assert server.inner.calls == 2
    assert body == django_body
    assert "Track a dossier" in body.decode()
    assert headers["Content-Language"] == "en"
    headers.pop("X-Request-ID"), django_headers.pop("X-Request-ID")
    assert headers == django_headers
    _, vietnamese, body = _page(server, _query(dossier))
    assert (vietnamese["Content-Language"], "Tra cứu tình trạng hồ sơ" in body.decode()) == ("vi", True)


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("code={code}&secret=WRONG123", {}, 404),  # a wrong secret: Django's page says so
        ("code=NO-SUCH-CODE&secret={secret}", {}, 404),
        ("", {}, 200),  # the empty form
        ("code={code}&secret=", {}, 200),  # no secret: the form again
        ("secret={secret}&code={code}", {}, 200),  # another order: Django's path
        ("code={code}&secret={secret}&x=1", {}, 200),  # another parameter
        ("code={code}&secret=%20{secret}", {}, 200),  # escaped characters
        ("code={code}&secret={secret}", {"COOKIE": "sessionid=abc"}, 200),  # a session may be someone's
        ("code={code}&secret={secret}", {"COOKIE": "csrftoken=x; django_language=en"}, 200),
        ("code={code}&secret={secret}", {"COOKIE": "django_language=fr"}, 200),  # not a language of ours
        ("code={code}&secret={secret}", {"AUTHORIZATION": "Bearer x"}, 200),
    ],
)
def test_anything_else_is_answered_by_django(server, dossier, query, headers, status):
    _page(server, _query(dossier))  # headers learnt: the path is ready to answer
    calls = server.inner.calls
    answer, _, body = _page(server, query.format(code=dossier.code, secret=dossier.tracking_secret), **headers)
    assert server.inner.calls == calls + 1
    assert answer == status, body[:300]


def test_other_paths_are_django_s(server, dossier):
    _page(server, _query(dossier))
    assert server.call("GET", "/tra-cuu/x", QUERY_STRING=_query(dossier))[0] == 404
    assert server.inner.calls == 2


def test_the_rate_limit_takes_one_token_per_lookup_on_either_path(server, dossier, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "public_lookup": (0.001, 4)}  # four at once, then one each 1,000 s
    ratelimit.reset()
    good, wrong = _query(dossier), f"code={dossier.code}&secret=WRONG123"
    assert _page(server, good)[0] == 200  # Django's path (it learns), token 1
    assert _page(server, wrong)[0] == 404  # the fast path took token 2, Django answered
    assert _page(server, good)[0] == 200  # token 3, the fast path
    assert _page(server, wrong)[0] == 404  # token 4
    status, headers, body = _page(server, good)
    assert status == 429  # counted once each above: the fifth is refused, by Django's page
    assert "Retry-After" in headers
    assert "Quá nhiều yêu cầu" in body.decode()


def test_off_when_switched_off(server, dossier, settings):
    settings.TRACKING_FAST_PATH = False
    for _ in range(3):
        assert _page(server, _query(dossier))[0] == 200
    assert server.inner.calls == 3  # every page went to Django


def test_the_served_application_has_the_fast_path():
    from hcmgov import wsgi

    layers, app = [], wsgi.application
    while hasattr(app, "app"):
        layers.append(type(app).__name__)
        app = app.app
    assert "FastTrackPage" in layers


def test_the_language_switch_is_a_link_that_sets_the_cookie_and_goes_back(client):
    home = client.get("/")
    assert "Set-Cookie" not in home.headers  # no CSRF token on an anonymous page: no cookie either
    assert 'href="/ngon-ngu/?lang=en&amp;next=%2F"' in home.content.decode()
    back = client.get("/ngon-ngu/", {"lang": "en", "next": "/tra-cuu/?code=A&secret=B"})
    assert (back.status_code, back["Location"]) == (302, "/tra-cuu/?code=A&secret=B")
    assert back.cookies["django_language"].value == "en"
    page = client.get("/tra-cuu/", {"code": "A", "secret": "B"}).content.decode()
    assert 'href="/ngon-ngu/?lang=vi&amp;next=%2Ftra-cuu%2F%3Fcode%3DA%26secret%3DB"' in page
    assert "Track a dossier" in page


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)", ""])
def test_the_language_switch_goes_back_only_within_the_site(client, next_url):
    back = client.get("/ngon-ngu/", {"lang": "en", "next": next_url})
    assert (back.status_code, back["Location"]) == (302, "/")


def test_an_unknown_language_changes_nothing(client):
    back = client.get("/ngon-ngu/", {"lang": "fr", "next": "/"})
    assert back.status_code == 302
    assert "django_language" not in back.cookies


def test_the_timeline_writes_local_times_badges_meanings_on_change_and_escaped_notes():
    """``{% timeline events %}`` (it replaced an include): an item an event, in city time."""
    import datetime as dt
    from types import SimpleNamespace

    from django.utils import translation

    from hcmgov.web.templatetags.bilingual import timeline

    at = dt.datetime(2026, 11, 28, 9, 5, tzinfo=dt.UTC)  # 16:05 in the city
    events = [
        SimpleNamespace(at=at, status_from=1, status_to=2, note=""),
        SimpleNamespace(at=at, status_from=2, status_to=2, note="<b>xem</b> lại"),
    ]
    with translation.override("vi"):
        html = str(timeline(events))
    first, second = html.split("</li>")[:2]
    assert '<time datetime="2026-11-28T16:05:00+07:00">28/11/2026 16:05</time>' in first
    assert '<span class="status s2">' in first
    assert "<div>" in first  # the status changed: what it means
    assert "<div>" not in second.replace('<div class="small">', "")  # no change: no meaning again
    assert '<div class="small">&lt;b&gt;xem&lt;/b&gt; lại</div>' in second
    assert html.startswith('<ol class="timeline">')
    assert str(timeline([])) == '<ol class="timeline">\n\n</ol>'
