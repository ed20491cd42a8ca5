"""The dossier's printed forms (Circular 01/2018/TT-VPCP), rendered from HTML templates to PDF
with WeasyPrint: Form 01 receipt and appointment slip, Form 03 refusal slip.

Generated when asked for, not at submission: a PDF costs tens of milliseconds and the
submission path must stay fast; the inputs are immutable history, so the output is too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation


def tracking_url(dossier: Any) -> str:
    query = urlencode({"code": dossier.code, "secret": dossier.tracking_secret})
    return f"{settings.PUBLIC_URL.rstrip('/')}{reverse('web:track')}?{query}"


def _qr_svg(data: str) -> str:
    return segno.make(data, error="m").svg_inline(scale=3, border=1)


def _render(template: str, context: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # heavy import: only when a PDF is asked for

    with translation.override("vi"):  # the legal forms are Vietnamese documents
        html = render_to_string(template, context)
    pdf: bytes = HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
    return pdf


def receipt_pdf(dossier: Any) -> bytes:
    """Form 01: Giấy tiếp nhận hồ sơ và hẹn trả kết quả."""
    version = dossier.procedure_version
    return _render(
        "dossiers/pdf/form01.html",
        {
            "dossier": dossier,
            "version": version,
            "documents": list(dossier.documents.all()),
            "qr": _qr_svg(tracking_url(dossier)),
            "tracking_url": tracking_url(dossier),
            "now": timezone.localtime(),
            "received_or_submitted": timezone.localtime(dossier.received_at or dossier.submitted_at),
            "due": timezone.localtime(dossier.due_at),
        },
    )


def refusal_pdf(dossier: Any) -> bytes:
    """Form 03: Phiếu từ chối tiếp nhận giải quyết hồ sơ."""
    return _render(
        "dossiers/pdf/form03.html",
        {
            "dossier": dossier,
            "now": timezone.localtime(dossier.finished_at or timezone.now()),
            "qr": _qr_svg(tracking_url(dossier)),
        },
    )


# --- Forms 02, 04, 05, 06: built from the dossier's history (``forms`` renders them) -------------


def supplement_request_pdf(dossier: Any, request: Any) -> bytes:
    """Form 02: Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ (one supplement request)."""
    from hcmgov.dossiers import forms

    return forms.supplement_request_pdf(
        forms.SupplementRequestForm(
            agency_name=dossier.agency.name,
            dossier_code=dossier.code,
            procedure_name=dossier.procedure.name,
            applicant_name=dossier.applicant_name,
            received_at=dossier.received_at or dossier.submitted_at,
            requested_at=request.requested_at,
            items=[(i["document"], i.get("reason", "")) for i in request.items],
            official_name=request.requested_by_label,
            tracking_url=tracking_url(dossier),
            note=request.note,
        )
    )


def apology_pdf(dossier: Any, letter: Any) -> bytes:
    """Form 04: Phiếu xin lỗi và hẹn lại ngày trả kết quả."""
    from hcmgov.dossiers import forms

    return forms.apology_pdf(
        forms.ApologyForm(
            agency_name=dossier.agency.name,
            dossier_code=dossier.code,
            procedure_name=dossier.procedure.name,
            applicant_name=dossier.applicant_name,
            received_at=dossier.received_at or dossier.submitted_at,
            due_at=letter.previous_appointment,
            new_due_at=letter.new_appointment,
            reason=letter.reason,
            signer_name=letter.signer_label,
            signer_title="Thủ trưởng cơ quan",
            tracking_url=tracking_url(dossier),
            issued_at=letter.created_at,
        )
    )


def control_sheet_pdf(dossier: Any, steps: list[Any]) -> bytes:
    """Form 05: Phiếu kiểm soát quá trình giải quyết hồ sơ — one row per handover of the dossier
    from one step's holder to the next, with the receiving step's deadline and timeliness."""
    from hcmgov.dossiers import forms

    rows = []
    previous = "Bộ phận tiếp nhận và trả kết quả"
    for step in steps:
        holder = step.actor_label or (step.assignee.full_name if step.assignee else "")
        to_party = f"{holder} — {step.agency.name}" if holder else step.agency.name
        rows.append(
            forms.Handover(
                from_party=previous,
                to_party=f"{to_party} ({step.name})",
                handed_over_at=step.opened_at,
                due_at=step.due_at,
                finished_at=step.finished_at if step.state == "done" else None,
                timeliness=step.timeliness or None if step.state == "done" else None,
                note="Chuyển lại bước trước" if step.outcome == "send_back" else "",
            )
        )
        previous = to_party
    partners = sorted({s.agency.name for s in steps if s.agency_id != dossier.agency_id})
    return forms.control_sheet_pdf(
        forms.ControlSheet(
            agency_name=dossier.agency.name,
            dossier_code=dossier.code,
            procedure_name=dossier.procedure.name,
            applicant_name=dossier.applicant_name,
            applicant_contact=" · ".join(x for x in (dossier.applicant.phone, dossier.applicant.email) if x),
            received_at=dossier.received_at or dossier.submitted_at,
            due_at=dossier.due_at,
            rows=rows,
            processing_agency=dossier.agency.name,
            coordinating_agencies=", ".join(partners),
        )
    )


def log_book_pdf(agency: Any, start: Any, end: Any, dossiers: list[Any]) -> bytes:
    """Form 06: Sổ theo dõi hồ sơ — the dossiers an agency received in a period."""
    from hcmgov.dossiers import forms

    rows = [
        forms.LogBookRow(
            number=n,
            dossier_code=d.code,
            procedure_name=d.procedure.name,
            applicant_name=d.applicant_name,
            received_at=d.received_at or d.submitted_at,
            due_at=d.due_at,
            applicant_phone=d.applicant.phone or "",
            lead_agency=agency.name,
            handed_to_processing_at=d.received_at,
            result_finished_at=d.finished_at,
            returned_at=d.returned_at,
            note=d.get_status_display(),
        )
        for n, d in enumerate(dossiers, start=1)
    ]
    return forms.log_book_pdf(forms.LogBook(agency_name=agency.name, period_from=start, period_to=end, rows=rows))
