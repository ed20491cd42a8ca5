"""The applicant's actions on a dossier from the portal: answer a supplement request with files,
withdraw the dossier, and the printed Forms 02 and 04. Thin: parse, call, render or redirect."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from hcmgov.common.access import applicant_required, login_required
from hcmgov.common.errors import DomainError, Message
from hcmgov.dossiers import documents, selectors, services
from hcmgov.dossiers.files import Attachment
from hcmgov.web.responses import pdf_response, visible_dossier
from hcmgov.web.templatetags.bilingual import msg

MAX_FILES = 20


@applicant_required
@require_POST
def supplement(request: HttpRequest, code: str) -> HttpResponse:
    """Send what the agency asked for: files (each tagged with the document it answers) and a note."""
    dossier = visible_dossier(request, code)
    attachments = []
    for upload in request.FILES.getlist("files")[:MAX_FILES]:
        attachments.append(
            Attachment(
                requirement=request.POST.get("requirement", "BOSUNG")[:40] or "BOSUNG",
                filename=upload.name or "bo-sung",
                data=upload.read(),
            )
        )
    try:
        services.dossier_supplement(
            dossier=dossier, applicant=request.user, note=request.POST.get("note", "")[:4000], attachments=attachments
        )
    except DomainError as exc:
        details = " ".join(msg(e.message) for e in exc.errors)
        messages.error(request, f"{msg(exc.message)} {details}".strip())
    else:
        messages.success(request, msg(_SENT))
    return redirect(reverse("web:dossier", args=[dossier.code]))


@applicant_required
@require_POST
def withdraw(request: HttpRequest, code: str) -> HttpResponse:
    dossier = visible_dossier(request, code)
    try:
        services.dossier_withdraw(dossier=dossier, by=request.user, reason=request.POST.get("reason", "")[:4000])
    except DomainError as exc:
        messages.error(request, msg(exc.message))
    return redirect(reverse("web:dossier", args=[dossier.code]))


@login_required
@require_http_methods(["GET"])
def supplement_pdf(request: HttpRequest, code: str, number: int) -> HttpResponse:
    """Form 02 of one supplement request (numbered from 1 in the order they were made)."""
    dossier = visible_dossier(request, code)
    requests = selectors.dossier_supplement_requests(dossier=dossier)
    if not 1 <= number <= len(requests):
        raise Http404(str(number))
    return pdf_response(
        documents.supplement_request_pdf(dossier, requests[number - 1]), f"phieu-bo-sung-{code}-{number}.pdf"
    )


@login_required
@require_http_methods(["GET"])
def apology_pdf(request: HttpRequest, code: str, number: int) -> HttpResponse:
    """Form 04 of one apology letter."""
    dossier = visible_dossier(request, code)
    letters = selectors.dossier_apologies(dossier=dossier)
    if not 1 <= number <= len(letters):
        raise Http404(str(number))
    return pdf_response(documents.apology_pdf(dossier, letters[number - 1]), f"phieu-xin-loi-{code}-{number}.pdf")


_SENT = Message(
    "Đã gửi hồ sơ bổ sung. Thời hạn giải quyết được tính tiếp từ bây giờ.",
    "Your supplement was sent. The time limit runs again from now.",
)
