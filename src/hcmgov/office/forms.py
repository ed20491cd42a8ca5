"""Parsing of the electronic office's page forms: each value read, bounded and checked against its
choices before a service sees it, so that a hand-made POST (an unknown urgency, a number that is
not one, a file too large) is a message by its field, never a database error. What the rules of
Decree 30/2020 decide (which type, which roles, which state) stays in the services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from hcmgov.common.errors import DomainError, FieldError, Message
from hcmgov.office.doctypes import DOCUMENT_TYPE_CHOICES
from hcmgov.office.models import Confidentiality, Urgency

MAX_UPLOAD = 20 * 1024 * 1024  # a draft of an administrative document is far smaller
TYPE_CODES = {code for code, _ in DOCUMENT_TYPE_CHOICES}


@dataclass
class Parsed:
    """The values read from a form, and the problems found, by field."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)

    def fail(self, name: str, vi: str, en: str) -> None:
        self.errors.append(FieldError(name, "invalid", Message(vi, en)))

    def raise_errors(self) -> None:
        if self.errors:
            first = self.errors[0].message
            raise DomainError("form_invalid", first, 422, errors=list(self.errors))


def clean(value: str, limit: int) -> str:
    """Trimmed, bounded, without NUL characters (PostgreSQL refuses them in text)."""
    return value.replace("\x00", "").strip()[:limit]


def text(request: HttpRequest, name: str, limit: int) -> str:
    return clean(request.POST.get(name, ""), limit)


def integer(value: str | None, *, low: int = 0, high: int = 2_000_000_000) -> int | None:
    """A whole number within bounds, or None (blank, not a number, out of bounds)."""
    value = (value or "").strip()
    # ASCII digits only: "²" and other Unicode digits pass isdigit() but not int()
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    number = int(value)
    return number if low <= number <= high else None


def date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((value or "").strip()[:10]) if value else None
    except ValueError:
        return None


def _choice(parsed: Parsed, request: HttpRequest, name: str, choices: Any, default: str) -> None:
    value = request.POST.get(name, "") or default
    if value not in choices.values:
        parsed.fail(name, "Giá trị không hợp lệ.", "Not a valid choice.")
    parsed.values[name] = value


def _optional_int(parsed: Parsed, request: HttpRequest, name: str, *, low: int = 1, high: int = 100_000) -> None:
    raw = request.POST.get(name, "").strip()
    number = integer(raw, low=low, high=high)
    if raw and number is None:
        parsed.fail(name, f"Cần một số từ {low} đến {high}.", f"A number from {low} to {high} is needed.")
    parsed.values[name] = number


def _optional_date(parsed: Parsed, request: HttpRequest, name: str) -> None:
    raw = request.POST.get(name, "").strip()
    day = date(raw)
    if raw and day is None:
        parsed.fail(name, "Ngày không hợp lệ (năm-tháng-ngày).", "Not a valid date (year-month-day).")
    parsed.values[name] = day


def upload(parsed: Parsed, request: HttpRequest, name: str = "file") -> None:
    """The uploaded draft: a PDF (the signature is PAdES), not empty, at most 20 MB."""
    handle = request.FILES.get(name)
    if handle is None or not handle.size:
        parsed.fail(name, "Vui lòng chọn tệp dự thảo (PDF).", "Please choose the draft file (PDF).")
        return
    if handle.size > MAX_UPLOAD:
        parsed.fail(name, "Tệp lớn hơn 20 MB.", "The file is larger than 20 MB.")
        return
    data = handle.read()
    if not data.startswith(b"%PDF-"):
        parsed.fail(name, "Tệp dự thảo phải là PDF.", "The draft must be a PDF.")
        return
    parsed.values["data"] = data
    parsed.values["filename"] = clean(handle.name or "", 255) or "du-thao.pdf"


def draft_form(request: HttpRequest) -> Parsed:
    """A new outgoing document: type, summary, urgency, confidentiality, abbreviations, the PDF."""
    parsed = Parsed()
    parsed.values["doc_type"] = request.POST.get("doc_type", "")
    if parsed.values["doc_type"] not in TYPE_CODES:
        parsed.fail("doc_type", "Vui lòng chọn loại văn bản.", "Please choose the type of document.")
    parsed.values["summary"] = text(request, "summary", 500)
    if not parsed.values["summary"]:
        parsed.fail("summary", "Vui lòng nhập trích yếu.", "Please give the summary.")
    parsed.values["agency_abbreviation"] = text(request, "agency_abbreviation", 20)
    if not parsed.values["agency_abbreviation"]:
        parsed.fail("agency_abbreviation", "Cần chữ viết tắt tên cơ quan (ví dụ UBND).", "The agency's abbreviation.")
    parsed.values["unit_abbreviation"] = text(request, "unit_abbreviation", 20)
    parsed.values["recipients"] = text(request, "recipients", 2000)
    _choice(parsed, request, "urgency", Urgency, Urgency.NORMAL)
    _choice(parsed, request, "confidentiality", Confidentiality, Confidentiality.NORMAL)
    _optional_int(parsed, request, "pages")
    upload(parsed, request)
    return parsed


def incoming_form(request: HttpRequest) -> Parsed:
    """An incoming paper document: the sender's number and symbol, body, date, type, summary."""
    parsed = Parsed()
    parsed.values["number_symbol"] = text(request, "number_symbol", 80)
    if not parsed.values["number_symbol"]:
        parsed.fail("number_symbol", "Vui lòng nhập số, ký hiệu.", "Please give the number and symbol.")
    parsed.values["issuing_body"] = text(request, "issuing_body", 300)
    if not parsed.values["issuing_body"]:
        parsed.fail("issuing_body", "Vui lòng nhập cơ quan ban hành.", "Please give the issuing body.")
    parsed.values["doc_type"] = request.POST.get("doc_type", "")
    if parsed.values["doc_type"] not in TYPE_CODES:
        parsed.fail("doc_type", "Vui lòng chọn loại văn bản.", "Please choose the type of document.")
    parsed.values["summary"] = text(request, "summary", 500)
    if not parsed.values["summary"]:
        parsed.fail("summary", "Vui lòng nhập trích yếu.", "Please give the summary.")
    _optional_date(parsed, request, "issued_on")
    _choice(parsed, request, "urgency", Urgency, Urgency.NORMAL)
    _choice(parsed, request, "confidentiality", Confidentiality, Confidentiality.NORMAL)
    _optional_int(parsed, request, "pages")
    return parsed


def record_form(request: HttpRequest) -> Parsed:
    """A new work record: code (from the agency's list of records), title, lead, deadline."""
    parsed = Parsed()
    parsed.values["code"] = text(request, "code", 60)
    if not parsed.values["code"]:
        parsed.fail("code", "Vui lòng nhập ký hiệu hồ sơ.", "Please give the record's code.")
    parsed.values["title"] = text(request, "title", 300)
    if not parsed.values["title"]:
        parsed.fail("title", "Vui lòng nhập tiêu đề hồ sơ.", "Please give the record's title.")
    parsed.values["lead_id"] = integer(request.POST.get("lead"), low=1)
    if parsed.values["lead_id"] is None:
        parsed.fail("lead", "Vui lòng chọn người chủ trì.", "Please choose the lead.")
    _optional_date(parsed, request, "deadline")
    return parsed
