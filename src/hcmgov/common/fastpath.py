"""What the WSGI fast paths share: the two hottest routes, sensors' NGSI-LD updates
(``hcmgov.ngsi.fastpath``, decision 0033) and the public status lookup
(``hcmgov.dossiers.fastpath``, decision 0038), are answered before Django's request cycle.

Each fast path answers only the one request shape it was built for, and only with the answer the
Django path gives to it (a ``204`` for the update, a ``200`` for the lookup); everything else goes
to Django untouched, errors included, so the ordinary views stay the only makers of them.

Shared here:

- the middleware stack the paths were reviewed against (``REVIEWED_MIDDLEWARE``, each path's
  docstring says what every layer does to its route): a stack that differs turns them off;
- the response headers, learnt from Django (``HeaderTemplates``): the headers of an answer Django
  gave in this process to the same route, for the same scheme, forwarded proto, Host (forwarded
  or not) and whatever else the route's answer depends on, are replayed, so that whatever a layer
  adds is there too; until Django has answered one, the requests go to Django;
- the request id, as ``PlatformMiddleware`` takes or makes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from hcmgov.common import context, metrics, ratelimit
from hcmgov.common.errors import DomainError
from hcmgov.common.middleware import _SAFE_ID  # the request ids PlatformMiddleware takes from callers

log = logging.getLogger(__name__)
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Key = tuple[str, ...]
MAX_TEMPLATES = 32  # keys whose headers are kept; past them requests of a new key go to Django
_PER_ANSWER = {"x-request-id", "date", "server"}

# Django's layers as the fast paths were reviewed against them. A stack that differs turns them off.
REVIEWED_MIDDLEWARE = (
    "hcmgov.common.headers.SecurityHeadersMiddleware",  # headers: replayed
    "hcmgov.common.middleware.PlatformMiddleware",  # request id, metrics: re-done; refusals: not reachable
    "django.middleware.security.SecurityMiddleware",  # headers: replayed; SSL redirect: not reachable
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files only
    "django.contrib.sessions.middleware.SessionMiddleware",  # no cookie: no session
    "hcmgov.common.middleware.LanguageMiddleware",  # headers: replayed (part of the key where they vary)
    "django.middleware.common.CommonMiddleware",  # Content-Length: computed; host: one Django accepted
    "django.middleware.csrf.CsrfViewMiddleware",  # NGSI-LD views are exempt; the lookup is a GET
    "django.contrib.auth.middleware.AuthenticationMiddleware",  # sessions; a bearer token is checked in SQL
    "django_otp.middleware.OTPMiddleware",  # sessions
    "hcmgov.identity.middleware.SessionTimeoutMiddleware",  # sessions
    "hcmgov.common.middleware.ActorMiddleware",  # actor for audit events: neither route writes one
    "hcmgov.common.access.AccessMiddleware",  # the route's rule (bearer; public), applied or none
    "hcmgov.common.middleware.MessageMiddleware",  # browser messages
    "django.middleware.clickjacking.XFrameOptionsMiddleware",  # headers: replayed
    "axes.middleware.AxesMiddleware",  # login lockouts (sessions)
)


def reviewed_stack() -> bool:
    return tuple(settings.MIDDLEWARE) == REVIEWED_MIDDLEWARE


def request_key(environ: dict[str, Any], *more: str) -> Key:
    """What Django's answer to a route depends on besides its data: the scheme (SSL redirect,
    HSTS), and the Host (``ALLOWED_HOSTS``, also when read from X-Forwarded-Host); ``more``: what
    else the route's headers depend on (the lookup's ``Accept-Language``)."""
    proxy = settings.SECURE_PROXY_SSL_HEADER
    forwarded = environ.get(proxy[0], "") if proxy else ""
    host = environ.get("HTTP_HOST", "")
    return (environ.get("wsgi.url_scheme", ""), forwarded, host, environ.get("HTTP_X_FORWARDED_HOST", ""), *more)


def request_id(environ: dict[str, Any]) -> str:
    """The caller's ``X-Request-ID`` when it is well-formed, else a new one (``PlatformMiddleware``)."""
    incoming = environ.get("HTTP_X_REQUEST_ID", "")
    return incoming if _SAFE_ID.match(incoming) else context.new_request_id()


class HeaderTemplates:
    """The headers of Django's answers of one status to one route, per ``request_key``, without
    those made per answer (request id, date, server, and ``computed``: those the path makes itself,
    the lookup's Content-Length)."""

    def __init__(self, status: str, *, computed: tuple[str, ...] = ()) -> None:
        self.status = status  # "204", "200"
        self.skipped = _PER_ANSWER | {name.lower() for name in computed}
        self.templates: dict[Key, list[tuple[str, str]]] = {}

    def get(self, key: Key) -> list[tuple[str, str]] | None:
        return self.templates.get(key)

    def learn(self, app: WSGIApp, environ: dict[str, Any], start_response: StartResponse, key: Key) -> Any:
        """Hand the request to Django; keep the headers of its answer when it has this status and
        sets no cookie: what every layer adds to this route's answers, for this key."""

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            names = {name.lower() for name, _ in headers}
            if status.startswith(self.status) and "set-cookie" not in names and len(self.templates) < MAX_TEMPLATES:
                self.templates[key] = [(n, v) for n, v in headers if n.lower() not in self.skipped]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return app(environ, capture)


def connections_checked() -> None:
    """As Django's ``request_started``: a database connection past its age or broken is closed
    before a fast path uses it (inside a test's transaction, kept)."""
    if not connection.in_atomic_block:
        close_old_connections()


class PublicLookup:
    """A WSGI layer around Django's application that answers one public GET's ``200`` itself and
    hands every other request, untouched, to Django (the status lookups: ``dossiers.fastpath``,
    ``web.fastpath``). A subclass says which requests it takes (``parse``: their arguments and
    what their headers depend on, or None) and makes the body (``answer``: None when the answer is
    not a ``200``, Django then makes it). Here: the on/off decision, the headers learnt from Django
    (``HeaderTemplates``, per ``request_key`` and the subclass's key), the request id, the metrics
    under the route's name, the rate limit ``limit`` taken once and left in the environ for
    Django's path (``ratelimit.decided_key``), a fresh connection, and any error handed to Django."""

    prefix = ""  # the paths it looks at
    route_path = ""  # a path of the route, resolved once for the metrics' route name
    limit = ""  # the route's rate limit (ratelimit), or ""
    setting = ""  # the setting that switches it on

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.templates = HeaderTemplates("200", computed=("Content-Length",))
        self._on: bool | None = None  # decided on the first request (settings read after setup)
        self._route = ""

    def enabled(self) -> bool:
        """Switched on, and over the middleware stack it was reviewed against."""
        return bool(getattr(settings, self.setting)) and reviewed_stack()

    def parse(self, environ: dict[str, Any], path: str) -> tuple[tuple[str, ...], Any] | None:
        """(what the headers depend on besides ``request_key``, the arguments of ``answer``), or
        None: Django's path."""
        raise NotImplementedError

    def answer(self, environ: dict[str, Any], arguments: Any) -> bytes | None:
        raise NotImplementedError

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "GET" or not path.startswith(self.prefix):
            return self.app(environ, start_response)
        if self._on is None:
            self._on = self.enabled()
            if not self._on and getattr(settings, self.setting):
                log.warning("%s off: the middleware stack changed", type(self).__name__)
        if not self._on or environ.get("HTTP_AUTHORIZATION") or environ.get("CONTENT_LENGTH") not in (None, "", "0"):
            return self.app(environ, start_response)
        parsed = self.parse(environ, path)
        if parsed is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        key = request_key(environ, *parsed[0])
        template = self.templates.get(key)
        if template is None:  # learnt only from requests of the shape answered here
            return self.templates.learn(self.app, environ, start_response, key)
        rid = request_id(environ)
        token = context.set_request_id(rid)
        try:
            body = self._guarded(environ, parsed[1])
        finally:
            context.reset_request_id(token)
        if body is None:  # Django answers it (its rate limit reads the decision taken here)
            return self.app(environ, start_response)
        start_response("200 OK", [*template, ("Content-Length", str(len(body))), ("X-Request-ID", rid)])
        metrics.observe_request(method="GET", route=self.route(), status=200, seconds=time.perf_counter() - started)
        return [body]

    def _guarded(self, environ: dict[str, Any], arguments: Any) -> bytes | None:
        """``answer``, after the rate limit's token (its decision left in ``environ``); None —
        nothing done but the token — when it is refused, not a ``200``, or fails."""
        if self.limit:
            allowed = ratelimit.allow(self.limit, lambda: ratelimit.client_address(SimpleNamespace(META=environ)))  # type: ignore[arg-type]
            environ[ratelimit.decided_key(self.limit)] = allowed
            if not allowed:
                return None
        try:
            connections_checked()
            return self.answer(environ, arguments)
        except DomainError:  # not found and the like: Django's view answers
            return None
        except Exception:  # a database error: Django's path meets it again and answers it
            log.exception("%s failed; the request goes to Django", type(self).__name__)
            return None

    def route(self) -> str:
        """The route's name as ``PlatformMiddleware`` labels its metrics (the URL's view name)."""
        if not self._route:
            from django.urls import resolve

            self._route = resolve(self.route_path).view_name
        return self._route
