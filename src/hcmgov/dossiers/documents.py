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
