"""The index of Decision 766 as a file: the table of the dashboard page (same period, same order)
as XLSX (openpyxl) or PDF (WeasyPrint, the platform's PDF engine: docs/decisions/0005). Both are
small (one row per agency), so they are built in memory."""

from __future__ import annotations

import io

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from hcmgov.common.access import leader_or_staff_required
from hcmgov.reporting import quality
from hcmgov.reporting.views_dashboard import (
    BadRequestError,
    _agency_names,
    _score_cells,
    error_page,
    parse_choice,
    sorted_scores,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _header() -> list[str]:
    groups = [f"{vi} / {en}" for en, vi, _ in quality.GROUPS.values()]
    return ["Mã cơ quan / Agency code", "Tên cơ quan / Agency", *groups, "Tổng điểm / Total"]


@leader_or_staff_required
def index_xlsx(request: HttpRequest) -> HttpResponse:
    """The table as a workbook: per group and in total two columns, the points earned and the
    maximum of the measurable indicators (numbers, not text); texts are string cells."""
    from openpyxl import Workbook  # only when a workbook is asked for

    try:
        choice, table, _ = parse_choice(request)
    except BadRequestError as exc:
        return error_page(request, exc)
    names = _agency_names()
    book = Workbook()
    sheet = book.active
    sheet.title = f"766 {choice.label}"[:31]
    sheet.append([f"Chỉ số phục vụ (QĐ 766/QĐ-TTg) — kỳ {choice.label} / Service-quality index — {choice.label}"])
    header = ["Mã cơ quan / Agency code", "Tên cơ quan / Agency"]
    for title in _header()[2:]:
        header += [f"{title}: điểm / points", f"{title}: tối đa / maximum"]
    sheet.append(header)
    for row in sorted_scores(table, choice):
        cells: list[object] = [row["key"], names.get(row["key"], "")]
        for earned, most in (*row["groups"].values(), row["total"]):
            cells += [earned, most]
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    response = HttpResponse(out.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="chi-so-766-{choice.label}.xlsx"'
    return response


@leader_or_staff_required
def index_pdf(request: HttpRequest) -> HttpResponse:
    """The table as a PDF (A4 landscape), with the indicators not measurable and why."""
    from weasyprint import HTML  # heavy import: only when a PDF is asked for

    try:
        choice, table, _ = parse_choice(request)
    except BadRequestError as exc:
        return error_page(request, exc)
    names = _agency_names()
    rows = [{**r, "name": names.get(r["key"], ""), "cells": _score_cells(r)} for r in sorted_scores(table, choice)]
    html = render_to_string("reporting/dashboard_index_pdf.html", {
        "choice": choice, "rows": rows, "header": _header(), "made": timezone.localtime(),
        "not_measurable": [i for i in quality.INDICATORS if not i.measurable],
    })  # fmt: skip
    pdf = HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="chi-so-766-{choice.label}.pdf"'
    return response
