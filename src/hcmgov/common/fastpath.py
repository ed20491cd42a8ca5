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

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

from hcmgov.common import context
from hcmgov.common.middleware import _SAFE_ID  # the request ids PlatformMiddleware takes from callers

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
