"""The public tracking page, ``GET /tra-cuu/?code=…&secret=…``, answered before Django's request
cycle (decision 0039; issue 15's 1,500 pages/s on 2 cores).

Profiled (``bench/run.py``, py-spy), a page spent 24 % of the web workers' Python time in the
middleware around the view, for an anonymous GET without a cookie, and 48 % in its template. This
WSGI layer (``common.fastpath.PublicLookup``), mounted in ``hcmgov.wsgi``, answers the shape the
receipt's link and the page's own form send — ``code=`` then ``secret=``, of the characters codes
and secrets are made of — from a visitor without a cookie, or with only the language cookie, with
the view's own context (``views.track_context``) rendered by the view's template, and a ``200``.
Everything else goes to Django unchanged: the empty form, a dossier not found (404), a refused rate
(429), any other query, any other cookie (a session, a CSRF cookie: Django's page may differ for
them).

How the page stands to each of Django's layers — as the API's lookup does (``dossiers.fastpath``,
decision 0038), and:

- language (``LanguageMiddleware``): a page is in Vietnamese unless the language cookie says
  otherwise; the cookie's value is part of the headers' key (Content-Language, Vary);
- CSRF: the page carries no token (the language switch is a link, decision 0039), so Django's answer
  sets no cookie, and its headers can be learnt (a ``200`` that sets a cookie is never learnt);
- messages, sessions, authentication: a visitor without a session cookie has none; the template
  sees an anonymous user and no messages, as on Django's path;
- the rate limit is the view's (``ratelimit.limited``), which reads the decision left here.

Tests (``web/tests/test_tracking_page_fast_path.py``) hold the answer to Django's, byte for byte.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.handlers.wsgi import WSGIRequest
from django.template.loader import get_template
from django.urls import resolve
from django.utils import translation

from hcmgov.common import fastpath as shared
from hcmgov.web import views

PATH = "/tra-cuu/"
# the form's query as a browser sends it: dossier codes (letters, digits, dots, dashes), secrets
_QUERY = re.compile(r"code=([A-Za-z0-9][A-Za-z0-9.\-]{0,39})&secret=([A-Za-z0-9]{1,16})\Z")


class FastTrackPage(shared.PublicLookup):
    """WSGI layer around Django's application: answers eligible tracking pages itself (``200``),
    and hands every other request, untouched, to Django."""

    prefix = PATH
    route_path = PATH
    limit = "public_lookup"  # the view's rate limit
    setting = "TRACKING_FAST_PATH"

    def __init__(self, app: shared.WSGIApp) -> None:
        super().__init__(app)
        self._cookie: re.Pattern[str] | None = None
        self._match: Any = None

    def parse(self, environ: dict[str, Any], path: str) -> tuple[tuple[str, ...], Any] | None:
        if path != PATH:
            return None
        query = _QUERY.match(environ.get("QUERY_STRING", ""))
        if query is None:
            return None
        language = settings.LANGUAGE_CODE
        cookie = environ.get("HTTP_COOKIE")
        if cookie:  # only the language cookie (the switch's): anything else, Django's path
            if self._cookie is None:
                names = "|".join(re.escape(code) for code, _ in settings.LANGUAGES)
                self._cookie = re.compile(rf"{re.escape(settings.LANGUAGE_COOKIE_NAME)}=({names})\Z")
            chosen = self._cookie.match(cookie.strip())
            if chosen is None:
                return None
            language = chosen.group(1)
        return (language,), (language, query.group(1), query.group(2))

    def answer(self, environ: dict[str, Any], arguments: Any) -> bytes | None:
        language, code, secret = arguments
        found = views.track_context(code, secret)
        if found["not_found"]:  # Django's view answers the 404
            return None
        request = WSGIRequest(environ)  # what the template and context processors read of it
        request.user = AnonymousUser()
        request.LANGUAGE_CODE = language
        if self._match is None:
            self._match = resolve(PATH)
        request.resolver_match = self._match
        with translation.override(language):
            html = get_template(views.TRACK_TEMPLATE).render(found, request)
        return html.encode()
