"""The breakdowns' tables as files: the index by unit and the figures by field, for the period and
filters of their pages, as XLSX (openpyxl: numbers as numbers) or PDF (WeasyPrint, as the index by
agency: docs/decisions/0005). One row per unit or field: built in memory."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from hcmgov.common.access import leader_or_staff_required
from hcmgov.reporting.views_breakdowns import field_rows, unit_rows
from hcmgov.reporting.views_dashboard import BadRequestError, error_page
from hcmgov.reporting.views_dashboard_export import XLSX


def _workbook(title: str, heading: str, header: list[str], rows: list[list[Any]], name: str) -> HttpResponse:
    from openpyxl import Workbook  # only when a workbook is asked for

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([heading])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    response = HttpResponse(out.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


def _pdf(template: str, context: dict[str, Any], name: str) -> HttpResponse:
    from weasyprint import HTML  # heavy import: only when a PDF is asked for

    html = render_to_string(template, {**context, "made": timezone.localtime()})
    response = HttpResponse(HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(),
                            content_type="application/pdf")  # fmt: skip
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response


def _indicator_columns(indicators: list[Any]) -> list[str]:
    header = []
    for i in indicators:
        header += [f"{i.key} {i.name_vi} / {i.name}: đạt / meeting", f"{i.key}: tổng / counted",
                   f"{i.key}: tỷ lệ / rate"]  # fmt: skip
    return header


def _indicator_cells(cells: list[dict[str, Any]]) -> list[Any]:
    out: list[Any] = []
    for c in cells:
        out += [c["ok"], c["n"], c["value"]]
    return out


@leader_or_staff_required
def units_xlsx(request: HttpRequest) -> HttpResponse:
    """The index by unit: per indicator the dossiers meeting it, those counted and the rate (a
    fraction, empty when nothing was counted); the total points and their measurable maximum."""
    try:
        data = unit_rows(request)
    except BadRequestError as exc:
        return error_page(request, exc)
    label = data.choice.label
    header = ["Mã đơn vị / Unit code", "Tên đơn vị / Unit", "Cấp / Level", *_indicator_columns(data.indicators),
              "Tổng điểm / Total points", "Tối đa đo được / Measurable maximum"]  # fmt: skip
    rows = [[r["key"], r["name"], r["level"], *_indicator_cells(r["cells"]), r["earned"], r["most"]]
            for r in data.rows]  # fmt: skip
    heading = f"Chỉ số phục vụ (QĐ 766) theo đơn vị hành chính — kỳ {label} / Service-quality index by unit — {label}"
    return _workbook(f"766 don vi {label}", heading, header, rows, f"chi-so-766-don-vi-{label}")


@leader_or_staff_required
def units_pdf(request: HttpRequest) -> HttpResponse:
    try:
        data = unit_rows(request)
    except BadRequestError as exc:
        return error_page(request, exc)
    return _pdf("reporting/dashboard_units_pdf.html", {"data": data, "choice": data.choice},
                f"chi-so-766-don-vi-{data.choice.label}")  # fmt: skip


@leader_or_staff_required
def fields_xlsx(request: HttpRequest) -> HttpResponse:
    """Per field: the dossiers submitted, online, finished and finished on time, and the index's
    dossier-based figures (meeting, counted, rate)."""
    try:
        data = field_rows(request)
    except BadRequestError as exc:
        return error_page(request, exc)
    label = data.choice.label
    header = ["Lĩnh vực / Field", "Field (English)", "Hồ sơ nộp / Submitted", "Nộp trực tuyến / Online",
              "Đã giải quyết / Finished", "Đúng hạn / On time", *_indicator_columns(data.indicators)]  # fmt: skip
    rows = [[r["key"], r["name_en"], r["submitted"], r["online"], r["finished"], r["on_time"],
             *_indicator_cells(r["cells"])] for r in data.rows]  # fmt: skip
    heading = f"Hồ sơ và chỉ số phục vụ theo lĩnh vực — kỳ {label} / Dossiers and index by field — {label}"
    return _workbook(f"linh vuc {label}", heading, header, rows, f"chi-so-766-linh-vuc-{label}")


@leader_or_staff_required
def fields_pdf(request: HttpRequest) -> HttpResponse:
    try:
        data = field_rows(request)
    except BadRequestError as exc:
        return error_page(request, exc)
    return _pdf("reporting/dashboard_fields_pdf.html", {"data": data, "choice": data.choice},
                f"chi-so-766-linh-vuc-{data.choice.label}")  # fmt: skip
