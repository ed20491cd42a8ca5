"""The other printed one-stop-shop forms of Circular 01/2018/TT-VPCP (guiding Decree 61/2018/NĐ-CP),
rendered from HTML templates to PDF with WeasyPrint exactly like Form 01 and Form 03 in
``documents.py``:

- Form 02, Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ: :func:`supplement_request_pdf`;
- Form 04, Phiếu xin lỗi và hẹn lại ngày trả kết quả: :func:`apology_pdf`;
- Form 05, Phiếu kiểm soát quá trình giải quyết hồ sơ: :func:`control_sheet_pdf`;
- Form 06, Sổ theo dõi hồ sơ (A4 landscape): :func:`log_book_pdf`.

The inputs are plain frozen dataclasses, not models: whoever owns the data builds them, and this
module only lays it out. Every datetime must be timezone-aware; it is printed in Ho Chi Minh City
time (UTC+7) the way Vietnamese administrative documents write it ("14 giờ 30 phút, ngày 26 tháng
11 năm 2026"; the day below 10 and the months 1 and 2 take a leading zero, Decree 30/2020/NĐ-CP,
Annex I). The PDF body is Vietnamese only, like Forms 01 and 03.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.utils import timezone

# The rendering helpers of Forms 01/03, shared so that all six forms come out of one pipeline.
from hcmgov.dossiers.documents import _qr_svg, _render

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

Timeliness = Literal["early", "on_time", "late"]

#: Column "Kết quả giải quyết hồ sơ (Trước hạn/đúng hạn/quá hạn)" of Form 05.
TIMELINESS_LABELS: dict[str, str] = {"early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn"}


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupplementRequestForm:
    """Form 02: what the applicant must add or correct before the dossier can be processed."""

    agency_name: str
    dossier_code: str
    procedure_name: str
    applicant_name: str
    received_at: dt.datetime
    requested_at: dt.datetime  # the form's date
    items: Sequence[tuple[str, str]]  # (document or content to supplement, reason)
    official_name: str  # "Người hướng dẫn": the official who signs and answers questions
    tracking_url: str
    note: str = ""
    official_phone: str = ""  # optional: "liên hệ với … số điện thoại …"

    def __post_init__(self) -> None:
        _freeze(self, "items", [(str(what), str(why)) for what, why in self.items])
        if not self.items:
            raise ValueError("A supplement request lists at least one item.")
        _aware(received_at=self.received_at, requested_at=self.requested_at)


@dataclass(frozen=True)
class ApologyForm:
    """Form 04: the agency apologises for missing the due date and sets a new one."""

    agency_name: str
    dossier_code: str
    procedure_name: str
    applicant_name: str
    received_at: dt.datetime
    due_at: dt.datetime  # the appointment on the Form 01 receipt
    new_due_at: dt.datetime  # the new appointment
    reason: str
    signer_name: str
    signer_title: str  # e.g. "Giám đốc", "Chủ tịch"
    tracking_url: str
    issued_at: dt.datetime | None = None  # the form's date; None: when it is rendered

    def __post_init__(self) -> None:
        _aware(received_at=self.received_at, due_at=self.due_at, new_due_at=self.new_due_at, issued_at=self.issued_at)
        if self.new_due_at <= self.due_at:
            raise ValueError("The new appointment must come after the original due date.")


@dataclass(frozen=True)
class Handover:
    """One row of Form 05: the dossier handed from one person or unit to the next."""

    from_party: str  # "Giao": person and/or unit handing over
    to_party: str  # "Nhận": person and/or unit receiving
    handed_over_at: dt.datetime
    due_at: dt.datetime | None = None  # the receiving step's own deadline
    finished_at: dt.datetime | None = None  # when the receiving step was done; None: still open
    timeliness: Timeliness | None = None  # of the receiving step; None: not finished yet
    note: str = ""

    def __post_init__(self) -> None:
        _aware(handed_over_at=self.handed_over_at, due_at=self.due_at, finished_at=self.finished_at)
        if self.timeliness is not None and self.timeliness not in TIMELINESS_LABELS:
            raise ValueError(f"timeliness must be one of {sorted(TIMELINESS_LABELS)}, not {self.timeliness!r}.")


@dataclass(frozen=True)
class ControlSheet:
    """Form 05: travels with the dossier and records every handover and its timeliness."""

    agency_name: str
    dossier_code: str
    procedure_name: str
    applicant_name: str
    applicant_contact: str  # address, phone, e-mail: as it should be printed
    received_at: dt.datetime
    due_at: dt.datetime
    rows: Sequence[Handover]
    processing_agency: str = ""  # "Cơ quan (bộ phận) giải quyết hồ sơ"
    coordinating_agencies: str = ""  # "Cơ quan phối hợp giải quyết hồ sơ"
    issued_at: dt.datetime | None = None  # the form's date; None: received_at

    def __post_init__(self) -> None:
        _freeze(self, "rows", self.rows)
        _aware(received_at=self.received_at, due_at=self.due_at, issued_at=self.issued_at)


@dataclass(frozen=True)
class LogBookRow:
    """One dossier in Form 06."""

    number: int  # "TT"
    dossier_code: str
    procedure_name: str
    applicant_name: str
    received_at: dt.datetime
    due_at: dt.datetime
    applicant_address: str = ""
    applicant_phone: str = ""
    lead_agency: str = ""  # "Cơ quan chủ trì giải quyết"
    handed_to_processing_at: dt.datetime | None = None
    result_finished_at: dt.datetime | None = None
    returned_at: dt.datetime | None = None
    note: str = ""
    quantity: int = 1  # "Số lượng hồ sơ (bộ)"

    def __post_init__(self) -> None:
        _aware(
            received_at=self.received_at,
            due_at=self.due_at,
            handed_to_processing_at=self.handed_to_processing_at,
            result_finished_at=self.result_finished_at,
            returned_at=self.returned_at,
        )


@dataclass(frozen=True)
class LogBook:
    """Form 06: the one-stop shop's register of the dossiers received in a period."""

    agency_name: str
    period_from: dt.date
    period_to: dt.date
    rows: Sequence[LogBookRow] = field(default_factory=tuple)
    printed_at: dt.datetime | None = None  # the form's date; None: when it is rendered

    def __post_init__(self) -> None:
        _freeze(self, "rows", self.rows)
        _aware(printed_at=self.printed_at)
        if self.period_to < self.period_from:
            raise ValueError("The period ends before it starts.")


# --- rendering --------------------------------------------------------------------------------


def supplement_request_pdf(form: SupplementRequestForm) -> bytes:
    """Form 02: Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ."""
    return _pdf(
        "dossiers/pdf/form02.html",
        form.agency_name,
        form.requested_at,
        {
            "form": form,
            "received": vn_datetime(form.received_at),
            "items": [{"what": what, "why": why} for what, why in form.items],
            "qr": _qr_svg(form.tracking_url),
        },
    )


def apology_pdf(form: ApologyForm) -> bytes:
    """Form 04: Phiếu xin lỗi và hẹn lại ngày trả kết quả."""
    return _pdf(
        "dossiers/pdf/form04.html",
        form.agency_name,
        form.issued_at or timezone.now(),
        {
            "form": form,
            "received_day": vn_date(form.received_at),
            "due": vn_datetime(form.due_at),
            "new_due": vn_datetime(form.new_due_at),
            "qr": _qr_svg(form.tracking_url),
        },
    )


def control_sheet_pdf(sheet: ControlSheet) -> bytes:
    """Form 05: Phiếu kiểm soát quá trình giải quyết hồ sơ."""
    rows = [
        {
            "from_party": row.from_party,
            "to_party": row.to_party,
            "handed_over": vn_datetime(row.handed_over_at),
            "due": _short(row.due_at),
            "finished": _short(row.finished_at),
            "timeliness": TIMELINESS_LABELS[row.timeliness] if row.timeliness else "",
            "note": row.note,
        }
        for row in sheet.rows
    ]
    return _pdf(
        "dossiers/pdf/form05.html",
        sheet.agency_name,
        sheet.issued_at or sheet.received_at,
        {"sheet": sheet, "received": vn_datetime(sheet.received_at), "due": vn_datetime(sheet.due_at), "rows": rows},
    )


def log_book_pdf(book: LogBook) -> bytes:
    """Form 06: Sổ theo dõi hồ sơ, A4 landscape."""
    rows = [
        {
            "number": row.number,
            "dossier_code": row.dossier_code,
            "procedure_name": row.procedure_name,
            "quantity": row.quantity,
            "applicant_name": row.applicant_name,
            "contact": ", ".join(part for part in (row.applicant_address, row.applicant_phone) if part),
            "lead_agency": row.lead_agency,
            # columns (8) to (12), in the annex's order
            "dates": [
                _cell(row.received_at),
                _cell(row.due_at),
                _cell(row.handed_to_processing_at),
                _cell(row.result_finished_at),
                _cell(row.returned_at),
            ],
            "note": row.note,
        }
        for row in book.rows
    ]
    return _pdf(
        "dossiers/pdf/form06.html",
        book.agency_name,
        book.printed_at or timezone.now(),
        {"book": book, "period_from": vn_date(book.period_from), "period_to": vn_date(book.period_to), "rows": rows},
    )


# --- Vietnamese dates -------------------------------------------------------------------------


def vn_date(value: dt.date | dt.datetime) -> str:
    """``ngày 05 tháng 3 năm 2026``: day below 10 and months 1, 2 with a leading zero (Decree 30/2020)."""
    day = _local(value).date() if isinstance(value, dt.datetime) else value
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def vn_time(value: dt.datetime) -> str:
    """``14 giờ 30 phút`` in Ho Chi Minh City time (two digits each, as Form 01 prints them)."""
    local = _local(value)
    return f"{local.hour:02d} giờ {local.minute:02d} phút"


def vn_datetime(value: dt.datetime) -> str:
    """``14 giờ 30 phút, ngày 26 tháng 11 năm 2026``."""
    return f"{vn_time(value)}, {vn_date(value)}"


# --- helpers ----------------------------------------------------------------------------------


def _pdf(template: str, agency_name: str, dated: dt.datetime, context: dict[str, Any]) -> bytes:
    # base.html (shared with Forms 01/03) prints the heading from ``dossier.agency.name`` and the
    # place and date line from ``now`` through Django's date filter, which follows the active time
    # zone: pin it to Ho Chi Minh City so the heading and the body agree whatever is active.
    with timezone.override(VN_TZ):
        return _render(
            template, {**context, "dossier": {"agency": {"name": agency_name}}, "now": timezone.localtime(dated, VN_TZ)}
        )


def _short(value: dt.datetime | None) -> str:
    """``17 giờ 00 phút, ngày 04/11/2026``, as Form 01 prints times, for narrow cells."""
    return f"{vn_time(value)}, ngày {_local(value):%d/%m/%Y}" if value is not None else ""


def _cell(value: dt.datetime | None) -> dict[str, str] | None:
    """A date cell of Form 06: the date (dd/mm/yyyy) and, below it, the time."""
    if value is None:
        return None
    local = _local(value)
    return {"date": f"{local:%d/%m/%Y}", "time": f"{local.hour:02d} giờ {local.minute:02d}"}


def _local(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} is naive: the forms need timezone-aware datetimes.")
    return value.astimezone(VN_TZ)


def _aware(**values: dt.datetime | None) -> None:
    for name, value in values.items():
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"{name} must be a timezone-aware datetime, not {value!r}.")


def _freeze(instance: object, name: str, items: Sequence[Any]) -> None:
    """Store a list argument as a tuple, so that the frozen dataclass really is immutable."""
    object.__setattr__(instance, name, tuple(items))
