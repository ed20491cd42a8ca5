"""Request id, actor and metrics middleware, and the log filter that stamps the request id."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from hcmgov.common import context, metrics
from hcmgov.common.errors import Message
from hcmgov.common.problem import problem_response, status_problem

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Take the caller's ``X-Request-ID`` when it is well-formed, else make one; echo it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else context.new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        token = context.set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            context.reset_request_id(token)
        response["X-Request-ID"] = request_id
        return response


class ActorMiddleware:
    """After authentication: attribute the request's changes to the logged-in user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = context.Actor(user_id=user.pk, label=user.get_username())
        else:
            actor = context.Actor(user_id=None, label="anonymous")
        token = context.set_actor(actor)
        try:
            return self.get_response(request)
        finally:
            context.reset_actor(token)


class MetricsMiddleware:
    """Count requests and time them by route name (not by path, to keep label sets bounded)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.view_name or match.route) if match else "unmatched"
        metrics.observe_request(
            method=request.method or "",
            route=route,
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.get_request_id()
        return True


def _refuse(request: HttpRequest, status: int, code: str, message: Message) -> HttpResponse:
    """Refuse before any view runs: a problem document on the API, a bilingual page elsewhere."""
    if request.path.startswith("/api/"):
        return problem_response(request, status=status, code=code, message=message)
    return HttpResponse(
        f"<!doctype html><html lang=vi><meta charset=utf-8><title>{status}</title><h1>{message.vi}</h1>"
        f"<p lang=en>{message.en}</p></html>",
        status=status,
    )


class RequestSizeMiddleware:
    """Refuse before reading: a NUL in the address (400), a body larger than ``HCMGOV_REQUEST_MAX_BYTES`` (413), in
    the caller's language, as a problem document on the API and a page elsewhere."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            # NUL is never valid text here, and PostgreSQL refuses it in text columns
            message = Message("Địa chỉ có ký tự không hợp lệ.", "The address contains an invalid character.")
            return _refuse(request, 400, "invalid_character", message)
        if length > settings.REQUEST_MAX_BYTES:
            limit = settings.REQUEST_MAX_BYTES // (1024 * 1024)
            message = Message(
                f"Dữ liệu gửi lên quá lớn (tối đa {limit} MB). Hãy giảm dung lượng tệp đính kèm.",
                f"What you sent is too large (at most {limit} MB). Please send smaller files.",
            )
            return _refuse(request, 413, "too_large", message)
        return self.get_response(request)


class LanguageMiddleware(LocaleMiddleware):
    """Vietnamese first: pages are in Vietnamese unless the visitor chose English with the switch
    (the language cookie); the API follows ``Accept-Language`` as HTTP clients expect."""

    def process_request(self, request: HttpRequest) -> None:
        if request.path.startswith("/api/"):
            super().process_request(request)
            return
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class ApiProblemMiddleware:
    """Every error under /api/ is a problem document, including those raised before the API's own
    handlers (unknown path, wrong method, CSRF): clients parse one error shape."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/problem+json")
        ):
            replaced = status_problem(request, response.status_code)
            if response.has_header("Allow"):
                replaced["Allow"] = response["Allow"]
            return replaced
        return response
