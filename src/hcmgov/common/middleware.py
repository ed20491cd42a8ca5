"""The platform's own middleware: request id, early refusals, problem documents, metrics, language,
actor and lazy messages; and the log filter that stamps the request id.

Every request of the platform crosses these layers, the busiest public lookups too, so each one
does only what the request needs: nothing reads the session of a visitor who has no session
cookie, message storage is made only when a view or template touches it, and the four concerns that
wrap the whole request live in one layer (``PlatformMiddleware``)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject, empty

from hcmgov.common import context, metrics
from hcmgov.common.errors import Message
from hcmgov.common.problem import problem_response, status_problem

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# CKAN's Action API answers its errors in CKAN's own envelope (hcmgov.opendata.ckan), which its
# clients read: not replaced by problem documents
CKAN_PREFIXES = ("/api/3/", "/api/action/")
VNPAY_IPN = "/api/v1/payments/vnpay/ipn"  # hcmgov.payments: VNPay's IPN, answered in its own protocol
NGSI_PREFIX = "/ngsi-ld/"  # NGSI-LD answers ProblemDetails of its own (hcmgov.ngsi.errors)
_ANONYMOUS = context.Actor(user_id=None, label="anonymous", auth_method=context.AuthMethod.ANONYMOUS)


def ckan_error(status: int, kind: str, text: str) -> HttpResponse:
    """An error in CKAN's Action API envelope (``hcmgov.opendata.ckan``'s shape), for answers made
    before the API's own views run."""
    body = {"help": "/api/3/action/help_show", "success": False, "error": {"__type": kind, "message": text}}
    return HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type="application/json")


def ngsi_problem(status: int, kind: str, title: Message, detail: Message) -> HttpResponse:
    """An NGSI-LD ProblemDetails (``hcmgov.ngsi.errors``' shape: Vietnamese first, English beside),
    for answers made before the NGSI-LD views run."""
    problem = {
        "type": f"https://uri.etsi.org/ngsi-ld/errors/{kind}",
        "title": title.vi,
        "status": status,
        "detail": f"{detail.vi} / {detail.en}",
        "title_en": title.en,
        "detail_en": detail.en,
    }
    response = HttpResponse(json.dumps(problem, ensure_ascii=False), status=status, content_type="application/json")
    response["Content-Language"] = "vi"
    return response


def _refuse(request: HttpRequest, status: int, code: str, message: Message) -> HttpResponse:
    """Refuse before any view runs: in their own error shape on CKAN's Action API and on NGSI-LD
    (their clients read nothing else: STYLE.md rule 12), a problem document on the rest of the API,
    a bilingual page elsewhere."""
    if request.path == VNPAY_IPN:  # the gateway reads only its own answer: HTTP 200 with an RspCode
        answer = {"RspCode": "99", "Message": "Unknown error"}
        return HttpResponse(json.dumps(answer), status=200, content_type="application/json")
    if request.path.startswith(CKAN_PREFIXES):  # hcmgov.opendata.ckan's envelope, "Bad Request"
        return ckan_error(status, "Bad Request", f"Bad request - {message.vi} / {message.en}")
    if request.path.startswith(NGSI_PREFIX):  # hcmgov.ngsi.errors.BadRequestData's ProblemDetails
        return ngsi_problem(status, "BadRequestData", Message("Dữ liệu không hợp lệ", "Bad request data"), message)
    if request.path.startswith("/api/"):
        return problem_response(request, status=status, code=code, message=message)
    return HttpResponse(
        f'<!doctype html><html lang="vi"><meta charset="utf-8"><title>{status}</title><h1>{message.vi}</h1>'
        f'<p lang="en">{message.en}</p></html>',
        status=status,
    )


def refusal(request: HttpRequest) -> HttpResponse | None:
    """Refuse before reading: TRACE and TRACK (405: a request echoed back could carry cookies to a
    script, ASVS 13.4.4), a NUL in the address (400), a body larger than ``HCMGOV_REQUEST_MAX_BYTES``
    (413), in the caller's language, as a problem document on the API and a page elsewhere."""
    if request.method in ("TRACE", "TRACK"):
        message = Message("Phương thức không được hỗ trợ.", "Method not allowed.")
        response = _refuse(request, 405, "method_not_allowed", message)
        response["Allow"] = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
        return response
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        # NUL is never valid text here, and PostgreSQL refuses it in text columns
        message = Message("Địa chỉ có ký tự không hợp lệ.", "The address contains an invalid character.")
        return _refuse(request, 400, "invalid_character", message)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.REQUEST_MAX_BYTES:
        limit = settings.REQUEST_MAX_BYTES // (1024 * 1024)
        message = Message(
            f"Dữ liệu gửi lên quá lớn (tối đa {limit} MB). Hãy giảm dung lượng tệp đính kèm.",
            f"What you sent is too large (at most {limit} MB). Please send smaller files.",
        )
        return _refuse(request, 413, "too_large", message)
    return None


class PlatformMiddleware:
    """The outermost layer, four concerns that wrap the whole request:

    - request id: take the caller's ``X-Request-ID`` when it is well-formed, else make one; it is in
      the logs and the problem documents of the request, and echoed back;
    - early refusals (``refusal``): before any other layer reads the request;
    - problem documents: every error under /api/ is one, including those raised before the API's
      own handlers (unknown path, wrong method, CSRF, a refusal): clients parse one error shape;
    - metrics: count and time requests by route name (not by path, to keep label sets bounded),
      with the status the client gets.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else context.new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        token = context.set_request_id(request_id)
        try:
            response = refusal(request) or self.get_response(request)
            if (
                response.status_code >= 400
                and request.path.startswith("/api/")
                and not request.path.startswith(CKAN_PREFIXES)
                and not response.get("Content-Type", "").startswith("application/problem+json")
            ):
                replaced = status_problem(request, response.status_code)
                if response.has_header("Allow"):
                    replaced["Allow"] = response["Allow"]
                response = replaced
        finally:
            context.reset_request_id(token)
        response["X-Request-ID"] = request_id
        match = getattr(request, "resolver_match", None)
        metrics.observe_request(
            method=request.method or "",
            route=(match.view_name or match.route) if match else "unmatched",
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


class LanguageMiddleware:
    """Vietnamese first: pages are in Vietnamese unless the visitor chose English with the switch
    (the language cookie); the API follows ``Accept-Language`` as HTTP clients expect.

    Answers as Django's ``LocaleMiddleware`` does for a site whose addresses carry no language
    prefix (no ``i18n_patterns``): ``Content-Language`` and ``Vary: Accept-Language``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.languages = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            language = translation.get_language_from_request(request)
        else:
            chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
            language = chosen if chosen in self.languages else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


class ActorMiddleware:
    """After authentication: attribute the request's changes to the logged-in user, with how the
    session logged in (``context.session_auth``): a password login whose second factor django-otp
    has seen in this session counts as password and one-time code.

    A visitor without a session cookie is anonymous: the session (and so the user) is not read.
    A bearer token on the API replaces the actor when it is read (``common.apiauth``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = context.set_actor(_actor(request))
        try:
            return self.get_response(request)
        finally:
            context.reset_actor(token)


def _actor(request: HttpRequest) -> context.Actor:
    user: Any = getattr(request, "user", None)
    if user is None:
        return _ANONYMOUS
    if (
        isinstance(user, SimpleLazyObject)
        and user._wrapped is empty  # still the session's lazy user (AuthenticationMiddleware)
        and settings.SESSION_COOKIE_NAME not in request.COOKIES  # no session: AnonymousUser
    ):
        return _ANONYMOUS
    if not user.is_authenticated:
        return _ANONYMOUS
    session: Any = getattr(request, "session", {})
    method, level, ref = context.session_auth(session, session_key=getattr(session, "session_key", None))
    if method == context.AuthMethod.PASSWORD:
        # django-otp's proof of the second factor, kept in the session (``is_verified``; read
        # only for password logins: an official's access checks read it anyway)
        is_verified = getattr(user, "is_verified", None)
        if is_verified is not None and is_verified():
            method, level = context.AuthMethod.PASSWORD_TOTP, max(level, context.MULTI_FACTOR)
    return context.Actor(
        user_id=user.pk, label=user.get_username(), auth_method=method, assurance_level=level, session_ref=ref
    )


class MessageMiddleware(DjangoMessageMiddleware):
    """Django's message middleware, whose storage is made on first use: most requests (the API,
    redirects, files) never touch messages, and making the storage costs a cookie signer."""

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        storage = getattr(request, "_messages", None)
        if isinstance(storage, SimpleLazyObject) and storage._wrapped is empty:
            return response  # never used: nothing to store
        return super().process_response(request, response)


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.get_request_id()
        return True
