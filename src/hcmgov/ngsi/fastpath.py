"""The hot path of sensors' single updates, ``PATCH /ngsi-ld/v1/entities/{id}/attrs``, answered
before Django's request cycle (decision 0033; issue 11's 3,000 updates/s on 2 cores).

Profiled (``bench/ngsi_profile.py``), a PATCH spent about two thirds of its web CPU in Django's
request cycle and the platform's middleware, not in NGSI-LD: building the request, the sixteen
layers, URL resolution, the response object and its headers. This WSGI layer, mounted in
``hcmgov.wsgi`` around Django's application, answers the one request shape sensors send —
application/json, a bearer token, default instances of attributes that exist, no subscription
active — with one SQL statement that checks the token, writes the entity and appends its history
(``fastwrite.entity_patch``), and a ``204``. Everything else goes to Django unchanged, including
every answer that is not a ``204``: errors, 207, 401/403, 404 are made by the ordinary views,
whose ProblemDetails and logs stay the only ones.

What it shares with the Django path rather than copying: the request's validation
(``representation.fragment_in``, ``views._check_id``, ``http.link_header_context``,
``jsonld.context_for``), what may take one statement (``fastwrite.patchable``), the history
rows (``services.history_lines``), the statement itself and its subscription check; the rule of
who writes (``http.may_write``) is the same predicate in SQL, over the account the identity app's
``bearer_account_sql`` finds — checked in the write's own statement, never kept by the process.

What Django's layers did, and how this path stands to each (``common.fastpath.REVIEWED_MIDDLEWARE``; if the
stack changes the fast path turns itself off until someone reviews it again):

- response headers (security headers, CSP, X-Frame-Options, Content-Language, Vary …): the
  headers of a ``204`` the Django path gave in this process for the same scheme, forwarded proto
  and Host (forwarded or not) are replayed, so that whatever a layer adds is here too; until Django has answered one,
  the requests go to Django. ``X-Request-ID`` is made per request, as ``PlatformMiddleware`` does;
- request id and metrics (``PlatformMiddleware``): the id is taken or made and set for the logs,
  the request is counted and timed under the same route name;
- refusals (NUL, oversized bodies), host checks, SSL redirect: the path takes only requests that
  cannot trip them (small body, no query, a Host and scheme Django has already served);
- sessions, CSRF, OTP, session timeouts, messages, axes, actor: they act on browser sessions; the
  path takes no request carrying a cookie, and NGSI-LD counts a session for nothing anyway. An
  update writes no audit event on either path (the attribute history is the record);
- access rule (``AccessMiddleware``): the route's rule is ``bearer``, which this path applies.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils import timezone

from hcmgov.common import context, metrics
from hcmgov.common import fastpath as shared
from hcmgov.common.fastpath import StartResponse, WSGIApp
from hcmgov.ngsi import fastwrite, http, jsonld, services, views
from hcmgov.ngsi.errors import NgsiError
from hcmgov.ngsi.representation import format_time, fragment_in

log = logging.getLogger(__name__)

PREFIX, SUFFIX = "/ngsi-ld/v1/entities/", "/attrs"
ROUTE = "ngsi:entity_attrs"  # PlatformMiddleware's label for the route: its URL name
MAX_BODY = 16 * 1024  # a sensor's update is a few hundred bytes; larger ones take the ordinary path


def enabled() -> bool:
    """Whether the fast path may answer: switched on, on PostgreSQL (the statement is PostgreSQL's;
    SQLite takes Django's path), and over the middleware stack it was reviewed against."""
    return bool(settings.NGSI_LD_FAST_PATH) and fastwrite.available() and shared.reviewed_stack()


class FastPatch:
    """WSGI layer around Django's application: answers eligible PATCH …/attrs itself (``204``), and
    hands every other request, untouched, to Django."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.templates = shared.HeaderTemplates("204")
        self._on: bool | None = None  # decided on the first PATCH (settings read after setup)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "PATCH":
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
            return self.app(environ, start_response)
        if self._on is None:
            self._on = enabled()
            if not self._on and settings.NGSI_LD_FAST_PATH:
                log.warning("NGSI-LD fast path off: the database is not PostgreSQL or the middleware stack changed")
        if not self._on:
            return self.app(environ, start_response)
        return self._patch(environ, start_response, path)

    def _patch(self, environ: dict[str, Any], start_response: StartResponse, path: str) -> Iterable[bytes]:
        started = time.perf_counter()
        body = _eligible_body(environ)
        if body is None:
            return self.app(environ, start_response)
        key = shared.request_key(environ)
        template = self.templates.get(key)
        if template is None:  # learnt only from requests of the shape answered here (no cookie …)
            environ["wsgi.input"] = io.BytesIO(body)
            return self.templates.learn(self.app, environ, start_response, key)
        request_id = shared.request_id(environ)
        token = context.set_request_id(request_id)
        try:
            done = _write(environ, path, body)
        finally:
            context.reset_request_id(token)
        if not done:  # Django answers it, from the same bytes (nothing was written)
            environ["wsgi.input"] = io.BytesIO(body)
            return self.app(environ, start_response)
        start_response("204 No Content", [*template, ("X-Request-ID", request_id)])
        metrics.observe_request(method="PATCH", route=ROUTE, status=204, seconds=time.perf_counter() - started)
        return []


def _eligible_body(environ: dict[str, Any]) -> bytes | None:
    """The body of a request this path may answer, or None: application/json, a bearer token, no
    query, no cookie, a small body read in full."""
    if environ.get("QUERY_STRING") or environ.get("HTTP_COOKIE"):
        return None
    if environ.get("HTTP_AUTHORIZATION", "")[:7].lower() != "bearer ":
        return None
    if environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() != http.JSON:
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    body = environ["wsgi.input"].read(length)
    if len(body) != length:
        environ["wsgi.input"] = io.BytesIO(body)  # Django reads what came, and answers it
        return None
    return body


def _write(environ: dict[str, Any], path: str, body: bytes) -> bool:
    """Validate as the view does and write in one statement; True when written (answer 204). False
    — nothing written — when anything is off the sensors' path: Django then answers."""
    try:
        # PATH_INFO is the path's bytes as latin-1 (PEP 3333); Django decodes it as UTF-8 the same way
        entity_id = path[len(PREFIX) : -len(SUFFIX)].encode("latin-1").decode()
        if not entity_id or "/" in entity_id or "\x00" in entity_id:
            return False
        views._check_id(entity_id)
        data = http.loads(body)
        if not isinstance(data, dict) or not data or "@context" in data:
            return False
        ctx = jsonld.context_for(http.link_header_context(environ.get("HTTP_LINK", "")))
        now = timezone.now()
        new = fragment_in(data, ctx, format_time(now))
        if not fastwrite.patchable(new, services.LOCATION) or services.subscriptions_seen():
            return False
        raw = environ["HTTP_AUTHORIZATION"][7:].strip()
        if not raw:
            return False
        shared.connections_checked()
        done = fastwrite.entity_patch(
            entity_id=entity_id, new=new, now=now, history=services.history_lines(new), token=raw
        )
    except (NgsiError, ValueError, UnicodeError):
        return False
    except Exception:  # a database error: Django's path meets it again and answers ProblemDetails
        log.exception("NGSI-LD fast path failed; the request goes to Django")
        return False
    if done == fastwrite.WATCHED:
        services.subscriptions_seen_now()
    return done == fastwrite.WRITTEN
