"""The HTTP plumbing of /ngsi-ld/v1 (clause 6.3): the caller's bearer token and what it may do,
media types (``application/json`` with the ``@context`` in a Link header, ``application/ld+json``
with it in the body), the ``@context`` of a request, answers compacted with it, and every error
as ProblemDetails — no input reaches a 500.

Who may call (documented in docs/ngsi/api.md): every operation needs a bearer token of the
platform (a personal ``hcm_…`` token or an access token of the city's OpenID provider); reads are
open to any authenticated caller, writes to machine clients (client credentials), officials and
administrators. A browser session counts for nothing here (no cookies: no CSRF to guard)."""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from hcmgov.common.access import bearer_token
from hcmgov.ngsi import jsonld
from hcmgov.ngsi.errors import (
    BadRequestData,
    Forbidden,
    InvalidRequest,
    MethodNotAllowed,
    NgsiError,
    NotAcceptable,
    Unauthorized,
    UnsupportedMediaType,
)

log = logging.getLogger(__name__)

JSON, LD = "application/json", "application/ld+json"
LINK_REL = "http://www.w3.org/ns/json-ld#context"
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


@functools.cache
def _bearer() -> Any:
    """One authenticator per process (it keeps no state; making one per request cost ~10 µs). The
    token itself is verified by ``identity``, which keeps a verified token for at most
    ``TOKEN_CACHE_SECONDS`` (never past its expiry) and forgets it when revoked in this process."""
    from hcmgov.common.apiauth import BearerToken

    return BearerToken()


def _user(request: HttpRequest) -> Any:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Cần mã truy cập (Bearer)", "A bearer token is required")
    user = _bearer().authenticate(request, token.strip())
    if user is None:
        raise Unauthorized("Mã truy cập không hợp lệ", "The bearer token is not valid")
    return user


def may_write(user: Any) -> bool:
    """Machine clients, officials and administrators write; other callers only read."""
    return bool(
        getattr(user, "oauth_client_credentials", False)
        or getattr(user, "kind", "") in ("official", "admin")
        or user.is_staff
    )


def wants_ld(request: HttpRequest) -> bool:
    """Whether the answer is application/ld+json (else application/json); 406 for neither."""
    accept = request.headers.get("Accept", "") or "*/*"
    types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if LD in types and JSON not in types[: types.index(LD)]:
        return True
    if any(t in (JSON, "*/*", "application/*", "application/geo+json") for t in types):
        return False
    raise NotAcceptable(f"Không phục vụ được {accept[:60]}", f"Cannot answer {accept[:60]}")


def link_context(request: HttpRequest) -> Any:
    """The @context URL of the Link header, or None."""
    return link_header_context(request.META.get("HTTP_LINK", ""))  # not request.headers: it copies every header


def link_header_context(header: str) -> Any:
    """The @context URL of a Link header's value, or None (``ngsi.fastpath`` reads the header
    off the WSGI environ itself)."""
    for m in _LINK.finditer(header):
        if LINK_REL in m.group(2):
            return m.group(1)
    return None


def body_and_context(request: HttpRequest) -> tuple[Any, jsonld.Context]:
    """The JSON body of a write and its active @context (clause 6.3.5)."""
    kind = (request.content_type or "").lower()
    if kind not in (JSON, LD):
        raise UnsupportedMediaType(
            f"Kiểu nội dung {kind[:60]!r} không được hỗ trợ", f"Content type {kind[:60]!r} not supported"
        )
    if len(request.body) > settings.NGSI_LD_MAX_BODY:
        raise BadRequestData("Dữ liệu gửi lên quá lớn", "The body is too large")
    try:
        body = loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
        raise InvalidRequest("Nội dung không phải JSON hợp lệ", "The body is not valid JSON") from None
    if b"\\u" in request.body and not _utf8(body):
        raise InvalidRequest(
            "Nội dung chứa ký tự không hợp lệ (nửa cặp thay thế \\uD800–\\uDFFF)",
            "The body holds an invalid character (an unpaired surrogate \\uD800–\\uDFFF)",
        )
    link = link_context(request)
    if kind == LD:
        if link is not None:
            raise BadRequestData("Không dùng Link với application/ld+json", "No Link header with application/ld+json")
        user_ctx = _body_context(body)
        if user_ctx is None:
            raise BadRequestData(
                "application/ld+json cần @context trong nội dung", "application/ld+json needs an @context"
            )
    else:
        if isinstance(body, dict) and "@context" in body:
            raise BadRequestData(
                "application/json không được chứa @context", "application/json must not hold an @context"
            )
        user_ctx = link
    return body, jsonld.context_for(user_ctx)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is beyond a double")
    return value


def loads(body: bytes | str) -> Any:
    """JSON as RFC 8259 has it: Python's parser also takes ``NaN``, ``Infinity`` and ``-Infinity``,
    and turns a number beyond a double (``1e400``) into infinity; none of them is JSON, and
    PostgreSQL's jsonb refuses them when written (a 500, found by the property tests). Here they are
    a ValueError, as any other invalid JSON."""
    return json.loads(body, parse_constant=_no_constant, parse_float=_finite)


def _utf8(body: Any) -> bool:
    """Whether every string of ``body`` is text UTF-8 can hold. JSON's ``\\uDFFF`` escape can name half
    of a surrogate pair alone (RFC 8259 8.2), which no UTF-8 text, PostgreSQL column or answer can carry;
    I-JSON (RFC 7493 2.1) refuses it, and so does NGSI-LD here, before anything is written."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _body_context(body: Any) -> Any:
    if isinstance(body, dict):
        return body.get("@context")
    if isinstance(body, list) and body and all(isinstance(item, dict) and "@context" in item for item in body):
        return body[0]["@context"]
    return None


def query_context(request: HttpRequest) -> jsonld.Context:
    return jsonld.context_for(link_context(request))


def answer(
    request: HttpRequest,
    data: Any,
    ctx: jsonld.Context,
    *,
    status: int = 200,
    ld: bool | None = None,
    finish: Callable[[str], str] | None = None,
) -> HttpResponse:
    """A JSON answer: ``@context`` in the body (ld+json) or in a Link header (json)."""
    ld = wants_ld(request) if ld is None else ld
    if ld:
        context = jsonld.response_context(ctx)
        if isinstance(data, list):
            data = [{"@context": context, **item} if isinstance(item, dict) else item for item in data]
        elif isinstance(data, dict):
            data = {"@context": context, **data}
    text = json.dumps(data, ensure_ascii=False)
    if finish is not None:
        text = finish(text)
    response = HttpResponse(text, status=status, content_type=LD if ld else JSON)
    if not ld:
        response["Link"] = jsonld.link_header(ctx)
    return response


def no_content() -> HttpResponse:
    return HttpResponse(status=204)


def options(request: HttpRequest) -> set[str]:
    raw = ",".join(request.GET.getlist("options") + request.GET.getlist("format"))
    return {o.strip() for o in raw.split(",") if o.strip()}


def int_param(request: HttpRequest, name: str, default: int, *, maximum: int | None = None) -> int:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise BadRequestData(f"{name} phải là số nguyên", f"{name} must be an integer") from None
    if value < 0 or (maximum is not None and value > maximum):
        raise BadRequestData(f"{name} ngoài khoảng cho phép", f"{name} is out of range (0..{maximum})")
    return value


def list_param(request: HttpRequest, name: str) -> list[str] | None:
    raw = request.GET.get(name)
    if raw is None:
        return None
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items:
        raise BadRequestData(f"{name} rỗng", f"{name} is empty")
    return items


Handler = Callable[..., HttpResponse]


def endpoint(**methods: tuple[Handler, bool]) -> Handler:
    """A view dispatching on the method to ``(handler, is_write)``; authenticates, checks the
    write rule, and turns every error into ProblemDetails."""

    @bearer_token
    @csrf_exempt
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        try:
            user = _user(request)
            entry = methods.get(request.method or "")
            if entry is None:
                raise MethodNotAllowed(f"Không hỗ trợ {request.method}", f"{request.method} is not supported here")
            handler, write = entry
            if write and not may_write(user):
                raise Forbidden(
                    "Chỉ máy khách, cán bộ và quản trị được ghi",
                    "Only machine clients, officials and administrators write",
                )
            request.ngsi_user = user  # type: ignore[attr-defined]
            return handler(request, **kwargs)
        except NgsiError as error:
            response = error.response()
        except Exception:  # never a 500 page: an InternalError ProblemDetails, logged
            log.exception("NGSI-LD request failed")
            response = NgsiError().response()
        if response.status_code == 405:
            response["Allow"] = ", ".join(methods)
        return response

    view.__name__ = "ngsi_" + "_".join(sorted(methods)).lower()
    return view


def public_view(fn: Handler) -> Handler:
    """A route anyone may call (the core @context)."""
    from hcmgov.common.access import public

    return public(fn)
