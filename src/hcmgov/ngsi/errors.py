"""NGSI-LD's errors (ETSI GS CIM 009 V1.6.1, clause 5.5.2 and table 5.5.3-1) as ProblemDetails
(RFC 7807, ``application/json``). ``title`` is Vietnamese (the platform's language first), ``detail``
is Vietnamese then English, and ``title_en``/``detail_en`` carry the English alone: clients that
read ``type`` (all NGSI-LD clients do) are unaffected by the language."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


class NgsiError(Exception):
    """An NGSI-LD error: its ``type`` (the last part of the URI), HTTP status and bilingual text."""

    kind = "InternalError"
    status = 500
    title_vi = "Lỗi nội bộ"
    title_en = "Internal error"

    def __init__(self, vi: str = "", en: str = "") -> None:
        super().__init__(en or vi)
        self.vi = vi or self.title_vi
        self.en = en or self.title_en

    def body(self) -> dict[str, Any]:
        return {
            "type": ERRORS + self.kind,
            "title": self.title_vi,
            "status": self.status,
            "detail": f"{self.vi} / {self.en}",
            "title_en": self.title_en,
            "detail_en": self.en,
        }

    def response(self) -> HttpResponse:
        response = HttpResponse(
            json.dumps(self.body(), ensure_ascii=False), status=self.status, content_type="application/json"
        )
        response["Content-Language"] = "vi"
        return response


class InvalidRequest(NgsiError):
    kind, status, title_vi, title_en = "InvalidRequest", 400, "Yêu cầu không hợp lệ", "Invalid request"


class BadRequestData(NgsiError):
    kind, status, title_vi, title_en = "BadRequestData", 400, "Dữ liệu không hợp lệ", "Bad request data"


class AlreadyExists(NgsiError):
    kind, status, title_vi, title_en = "AlreadyExists", 409, "Đã tồn tại", "Already exists"


class OperationNotSupported(NgsiError):
    kind, status, title_vi, title_en = (
        "OperationNotSupported",
        422,
        "Thao tác không được hỗ trợ",
        "Operation not supported",
    )


class ResourceNotFound(NgsiError):
    kind, status, title_vi, title_en = "ResourceNotFound", 404, "Không tìm thấy", "Resource not found"


class LdContextNotAvailable(NgsiError):
    kind, status, title_vi, title_en = (
        "LdContextNotAvailable",
        503,
        "Không lấy được @context",
        "LD context not available",
    )


class TooManyResults(NgsiError):
    kind, status, title_vi, title_en = "TooManyResults", 403, "Quá nhiều kết quả", "Too many results"


class Unauthorized(NgsiError):
    # not an NGSI-LD error type of its own: the platform's, under the same shape
    kind, status, title_vi, title_en = "Unauthorized", 401, "Cần xác thực", "Authentication required"


class Forbidden(NgsiError):
    kind, status, title_vi, title_en = "Forbidden", 403, "Không có quyền", "Forbidden"


class NotAcceptable(NgsiError):
    kind, status, title_vi, title_en = "NotAcceptable", 406, "Không phục vụ được định dạng", "Not acceptable"


class UnsupportedMediaType(NgsiError):
    kind, status, title_vi, title_en = (
        "UnsupportedMediaType",
        415,
        "Kiểu nội dung không được hỗ trợ",
        "Unsupported media type",
    )


class MethodNotAllowed(NgsiError):
    kind, status, title_vi, title_en = "MethodNotAllowed", 405, "Phương thức không được hỗ trợ", "Method not allowed"
