"""Security headers on every answer, the errors too, and a log record of each refusal
(OWASP ASVS 5.0 V3.4, V16.3.2).

Django's ``SecurityMiddleware`` and ``XFrameOptionsMiddleware`` sit inside ``PlatformMiddleware``,
which turns every error under /api/ into a problem document and refuses oversized or malformed
requests before any other layer runs: those answers are made after (or without) Django's layers
and carried none of their headers. This layer is the outermost, so what it adds is on every
answer: the Content-Security-Policy Django 5.2 has no setting for (its ``frame-ancestors`` is what
ASVS 3.4.6 relies on; X-Frame-Options stays for old browsers), and ``nosniff``, the referrer
policy, HSTS and X-Frame-Options where an inner layer did not set them; and ``Cache-Control:
no-store`` on answers to a logged-in caller that set no caching policy of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

security_log = logging.getLogger("hcmgov.security")

# The browser's PDF viewer runs its own scripts and styles inside the document it shows: a
# document-wide policy can leave it blank. A PDF keeps only the part that forbids framing it.
_PDF_POLICY = "frame-ancestors 'none'"


def _who(request: HttpRequest) -> tuple[Any, str]:
    """The refused caller's id and name, without reading a session the request did not bring."""
    user: Any = getattr(request, "user", None)
    if user is None:
        return None, "anonymous"
    if (
        isinstance(user, SimpleLazyObject)
        and user._wrapped is empty
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    ):
        return None, "anonymous"
    if not user.is_authenticated:
        return None, "anonymous"
    return user.pk, user.get_username()


class SecurityHeadersMiddleware:
    """Outermost layer: the browser security headers on every response, and a ``hcmgov.security``
    warning for each 401 and 403 naming who was refused what (Django's own ``django.request``
    record names the path only)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy: str = settings.CONTENT_SECURITY_POLICY
        referrer = settings.SECURE_REFERRER_POLICY
        self.referrer = ",".join(referrer) if isinstance(referrer, list | tuple) else referrer
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        self.hsts = hsts if settings.SECURE_HSTS_SECONDS else ""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        headers = response.headers
        if self.policy:
            pdf = headers.get("Content-Type", "").startswith("application/pdf")
            headers.setdefault("Content-Security-Policy", _PDF_POLICY if pdf else self.policy)
        if settings.SECURE_CONTENT_TYPE_NOSNIFF:
            headers.setdefault("X-Content-Type-Options", "nosniff")
        if self.referrer:
            headers.setdefault("Referrer-Policy", self.referrer)
        if not getattr(response, "xframe_options_exempt", False):
            headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        if self.hsts and request.is_secure():
            headers.setdefault("Strict-Transport-Security", self.hsts)
        if "Cache-Control" not in headers and (
            settings.SESSION_COOKIE_NAME in request.COOKIES or "HTTP_AUTHORIZATION" in request.META
        ):
            # an answer to a logged-in caller may hold personal data: no browser or proxy keeps it
            # (V14.3.2); what sets its own policy (static files, public open data) keeps it
            headers["Cache-Control"] = "no-store"
        if response.status_code in (401, 403):
            user_id, username = _who(request)
            security_log.warning(
                "authorization failed: %s %s answered %s to %s",
                request.method,
                request.path,
                response.status_code,
                username,
                extra={
                    "event": "authorization_failed",
                    "status_code": response.status_code,
                    "method": request.method,
                    "path": request.path,
                    "user_id": user_id,
                    "username": username,
                    "ip": request.META.get("REMOTE_ADDR", ""),
                },
            )
        return response
