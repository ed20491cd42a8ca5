"""The platform's REST API at /api/v1: routers of each app, RFC 9457 problem details for errors."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from hcmgov.audit.api import router as audit_statistics_router
from hcmgov.catalog.api import router as catalog_router
from hcmgov.common.errors import DomainError, Message
from hcmgov.common.problem import STATUS_MESSAGES, problem_response
from hcmgov.common.ratelimit import RateLimited
from hcmgov.core.api import router as core_router
from hcmgov.documents.api import router as documents_router
from hcmgov.dossiers.api import office_router, tracking_router
from hcmgov.dossiers.api import router as dossiers_router
from hcmgov.exchange.api import router as exchange_router
from hcmgov.feedback.api import router as feedback_router
from hcmgov.identity.api import me_router
from hcmgov.payments.api import ipn_router
from hcmgov.payments.api import router as payments_router
from hcmgov.postal.api import router as postal_router
from hcmgov.reporting.api import router as reporting_router

log = logging.getLogger(__name__)


class PlatformAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document declares problem details as ``application/problem+json``."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        for path in schema["paths"].values():
            for operation in path.values():
                for response in operation.get("responses", {}).values():
                    content = response.get("content", {})
                    body = content.get("application/json", {})
                    if body.get("schema", {}).get("$ref", "").endswith("/Problem"):
                        content["application/problem+json"] = content.pop("application/json")
        return schema


api = PlatformAPI(
    title="hcmgov API",
    version="1.0.0",
    description=(
        "API của Nền tảng chính quyền số TP. Hồ Chí Minh — the REST API of Ho Chi Minh City's "
        "digital-government platform. Lỗi theo RFC 9457 (application/problem+json), thông điệp theo "
        "ngôn ngữ trong Accept-Language (vi, en). Errors are RFC 9457 problem details in the caller's language."
    ),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("/procedures", catalog_router)
api.add_router("/", core_router)
api.add_router("/dossiers", dossiers_router)
api.add_router("/tracking", tracking_router)
api.add_router("/office", office_router)
api.add_router("/office/statistics", audit_statistics_router)
api.add_router("/me", me_router)
api.add_router("/", feedback_router)
api.add_router("/payments", payments_router)
api.add_router("/payments", ipn_router)
api.add_router("/", postal_router)
api.add_router("/", documents_router)
api.add_router("/exchange", exchange_router)
api.add_router("/reporting", reporting_router)
api.add_router("/eoffice", "hcmgov.office.api.router")  # the electronic office (issue 12)


def _language(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", "vi") or "vi"


def problem(
    request: HttpRequest, *, status: int, code: str, message: Message, errors: list | None = None
) -> HttpResponse:
    return problem_response(request, status=status, code=code, message=message, errors=errors)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    lang = _language(request)
    errors = [{"field": e.field, "code": e.code, "message": e.message.in_language(lang)} for e in exc.errors]
    response = problem(request, status=exc.status, code=exc.code, message=exc.message, errors=errors)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "payload", "query", "path", "header")]
        field = ".".join(loc) or "request"
        errors.append(
            {
                "field": field,
                "code": str(err.get("type", "invalid")),
                "message": Message(
                    f"Trường «{field}» không hợp lệ.", f"Field “{field}” is not valid: {err.get('msg', '')}"
                ).in_language(_language(request)),
            }
        )
    return problem(
        request,
        status=422,
        code="invalid_request",
        message=Message("Yêu cầu không hợp lệ.", "The request is not valid."),
        errors=errors,
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(
        request, status=401, code="unauthenticated", message=Message("Vui lòng đăng nhập.", "Please log in.")
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(request, status=404, code="not_found", message=Message("Không tìm thấy.", "Not found."))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    vi, en = STATUS_MESSAGES.get(exc.status_code, STATUS_MESSAGES[400])
    return problem(request, status=exc.status_code, code=f"http_{exc.status_code}", message=Message(vi, en))


@api.exception_handler(DataError)
def on_data_error(request: HttpRequest, exc: DataError) -> HttpResponse:
    """A value the database cannot hold (a number out of range…): the caller's input, not a fault."""
    return problem(
        request,
        status=400,
        code="invalid_value",
        message=Message("Giá trị gửi lên nằm ngoài phạm vi cho phép.", "A value sent is outside the allowed range."),
    )


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def on_database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database could not be reached or could not answer now (a fail-over in progress, a lost
    connection, a lock that timed out). A commit whose answer was lost may still have landed
    (scripts/failover.py sees it happen), so the caller is told to send the same request again —
    with the same Idempotency-Key, which then finds what landed. 503 with Retry-After, not 500."""
    log.warning("database unavailable for an API request", extra={"error": str(exc)[:200]})
    response = problem(
        request,
        status=503,
        code="database_unavailable",
        message=Message(
            "Cơ sở dữ liệu tạm thời không trả lời. Vui lòng gửi lại sau giây lát, với cùng Idempotency-Key nếu có.",
            "The database is not answering for a moment. Please send again shortly, with the same Idempotency-Key "
            "if you sent one.",
        ),
    )
    response["Retry-After"] = "2"
    return response


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unexpected API error")
    vi, en = STATUS_MESSAGES[500]
    return problem(request, status=500, code="internal_error", message=Message(vi, en))
