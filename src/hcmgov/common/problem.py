"""The RFC 9457 problem-details body, as documented in the OpenAPI schema (no postponed
annotations here: ninja and pydantic read them at import)."""

import json
from typing import Any

from django.http import HttpResponse
from django.utils import translation
from ninja import Schema

from hcmgov.common.errors import Message


class FieldProblem(Schema):
    field: str
    code: str
    message: str


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str
    request_id: str
    errors: list[FieldProblem] | None = None


def problems(*statuses: int) -> dict[int, type[Problem]]:
    """``response={200: Out, **problems(404)}`` — document the error answers of a route."""
    return dict.fromkeys(statuses, Problem)


PROBLEM_BASE = "https://dichvucong.hochiminhcity.gov.vn/problems/"

# What a bare HTTP status means, for errors raised below the API's own handlers
STATUS_MESSAGES = {
    400: ("Yêu cầu không hợp lệ.", "The request is not valid."),
    401: ("Vui lòng đăng nhập.", "Please log in."),
    403: ("Bạn không có quyền thực hiện thao tác này.", "You may not do this."),
    404: ("Không tìm thấy.", "Not found."),
    405: ("Phương thức không được hỗ trợ.", "Method not allowed."),
    413: ("Dữ liệu gửi lên quá lớn.", "What you sent is too large."),
    429: ("Quá nhiều yêu cầu, vui lòng thử lại sau.", "Too many requests: try again later."),
    500: (
        "Hệ thống gặp lỗi, vui lòng thử lại. Dữ liệu của bạn không bị mất.",
        "The system hit an error; please try again. Nothing you sent was lost.",
    ),
}


def wants_english(request: Any) -> bool:
    return str(getattr(request, "LANGUAGE_CODE", "") or translation.get_language_from_request(request)).startswith("en")


def problem_response(
    request: Any, *, status: int, code: str, message: Message, errors: list[dict[str, str]] | None = None
) -> HttpResponse:
    """An RFC 9457 ``application/problem+json`` response in the caller's language."""
    english = wants_english(request)
    text = message.en if english else message.vi
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": text,
        "status": status,
        "detail": text,
        "code": code,
        "instance": request.path,
        "request_id": getattr(request, "request_id", ""),
    }
    if errors:
        body["errors"] = errors
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type="application/problem+json"
    )
    response["Content-Language"] = "en" if english else "vi"
    return response


def status_problem(request: Any, status: int) -> HttpResponse:
    vi, en = STATUS_MESSAGES.get(status, STATUS_MESSAGES[400] if status < 500 else STATUS_MESSAGES[500])
    return problem_response(request, status=status, code=f"http_{status}", message=Message(vi, en))
