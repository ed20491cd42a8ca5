"""The public status lookup, ``GET /api/v1/tracking/{code}?secret=…``, answered before Django's
request cycle (decision 0038; issue 15's 1,500 lookups/s on 2 cores).

Profiled (``bench/run.py``, py-spy), a lookup spent 38 % of the web workers' Python time in the
sixteen middleware around the view, for an anonymous GET without a cookie; the view itself was
already one prepared statement (``selectors.dossier_track``) and a JSON dump. This WSGI layer,
mounted in ``hcmgov.wsgi`` around Django's application, answers the one request shape the
receipt's link and the portal's clients send — a GET of ``/api/v1/tracking/{code}`` whose query
is only ``secret=``, both of the characters codes and secrets are made of, without a cookie or
an Authorization header — with the view's own selector and body (``api.track_body``) and a
``200``. Everything else goes to Django unchanged, including every answer that is not a ``200``:
404, 422 and 429 are made by the ordinary view, whose problem documents stay the only ones.

What Django's layers did, and how this path stands to each (``common.fastpath.REVIEWED_MIDDLEWARE``;
if the stack changes the fast path turns itself off until someone reviews it again):

- response headers (security headers, CSP, X-Frame-Options, Cache-Control, Content-Language,
  Vary …): the headers of a ``200`` the Django path gave in this process to this route for the
  same scheme, forwarded proto, Host (forwarded or not) and ``Accept-Language`` (the API's
  Content-Language follows it) are replayed; Content-Length is computed. Until Django has answered
  one, the requests go to Django. ``X-Request-ID`` is taken or made, as ``PlatformMiddleware`` does;
- request id and metrics (``PlatformMiddleware``): the id is set for the logs, the request is
  counted and timed under the route's name;
- refusals (NUL, oversized bodies), host checks, SSL redirect: the path takes only requests that
  cannot trip them (a GET without a body, a query of letters and digits, a Host and scheme Django
  has already served);
- sessions, CSRF, OTP, session timeouts, messages, axes, actor: they act on browser sessions;
  the path takes no request carrying a cookie (the tracking page's form posts to its own page);
  a lookup writes nothing and no audit event on either path;
- access rule (``AccessMiddleware``): the route is ``public``;
- the rate limit of public lookups per client address (``ratelimit.check_address``) is the view's:
  taken here, from the same bucket, and left in the environ so that Django, answering the same
  request (a 404 or a 429), does not take a second token.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from hcmgov.common import context, metrics, ratelimit
from hcmgov.common import fastpath as shared
from hcmgov.common.errors import DomainError
from hcmgov.common.fastpath import StartResponse, WSGIApp

log = logging.getLogger(__name__)

PREFIX = "/api/v1/tracking/"
LIMIT = "public_lookup"  # the view's rate limit
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,39}\Z")  # dossier codes: letters, digits, dots, dashes
_QUERY = re.compile(r"secret=([A-Za-z0-9]{1,32})\Z")  # receipts' secrets: letters and digits


def enabled() -> bool:
    """Whether the fast path may answer: switched on, and over the middleware stack it was
    reviewed against. On SQLite too: it runs the view's own selector."""
    return bool(settings.TRACKING_FAST_PATH) and shared.reviewed_stack()


class FastTrack:
    """WSGI layer around Django's application: answers eligible lookups itself (``200``), and hands
    every other request, untouched, to Django."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.templates = shared.HeaderTemplates("200", computed=("Content-Length",))
        self._on: bool | None = None  # decided on the first lookup (settings read after setup)
        self._route = ""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "GET" or not path.startswith(PREFIX):
            return self.app(environ, start_response)
        if self._on is None:
            self._on = enabled()
            if not self._on and settings.TRACKING_FAST_PATH:
                log.warning("tracking fast path off: the middleware stack changed")
        if not self._on:
            return self.app(environ, start_response)
        return self._lookup(environ, start_response, path)

    def _lookup(self, environ: dict[str, Any], start_response: StartResponse, path: str) -> Iterable[bytes]:
        started = time.perf_counter()
        code = path[len(PREFIX) :]
        query = _QUERY.match(environ.get("QUERY_STRING", ""))
        if (
            query is None
            or not _CODE.match(code)
            or environ.get("HTTP_COOKIE")
            or environ.get("HTTP_AUTHORIZATION")
            or environ.get("CONTENT_LENGTH") not in (None, "", "0")
        ):
            return self.app(environ, start_response)
        key = shared.request_key(environ, environ.get("HTTP_ACCEPT_LANGUAGE", ""))
        template = self.templates.get(key)
        if template is None:  # learnt only from requests of the shape answered here
            return self.templates.learn(self.app, environ, start_response, key)
        request_id = shared.request_id(environ)
        token = context.set_request_id(request_id)
        try:
            body = self._answer(environ, code, query.group(1))
        finally:
            context.reset_request_id(token)
        if body is None:  # Django answers it (its rate limit reads the decision taken here)
            return self.app(environ, start_response)
        start_response("200 OK", [*template, ("Content-Length", str(len(body))), ("X-Request-ID", request_id)])
        metrics.observe_request(method="GET", route=self.route(), status=200, seconds=time.perf_counter() - started)
        return [body]

    def _answer(self, environ: dict[str, Any], code: str, secret: str) -> bytes | None:
        """The view's answer, or None — nothing done but the rate limit's token, whose decision
        is left in ``environ`` — when it is not a ``200``."""
        from hcmgov.dossiers import selectors
        from hcmgov.dossiers.api import track_body

        allowed = ratelimit.allow(LIMIT, lambda: ratelimit.client_address(SimpleNamespace(META=environ)))  # type: ignore[arg-type]
        environ[ratelimit.decided_key(LIMIT)] = allowed
        if not allowed:
            return None
        try:
            if not connection.in_atomic_block:  # (a test's transaction: keep it)
                close_old_connections()  # as Django's request_started: a connection past its age or broken goes
            return track_body(selectors.dossier_track(code=code, secret=secret))
        except DomainError:  # not found: Django's view answers the problem document
            return None
        except Exception:  # a database error: Django's path meets it again and answers a problem document
            log.exception("tracking fast path failed; the request goes to Django")
            return None

    def route(self) -> str:
        """The route's name as ``PlatformMiddleware`` labels its metrics (the URL's view name)."""
        if not self._route:
            from django.urls import resolve

            self._route = resolve(PREFIX + "X").view_name
        return self._route
