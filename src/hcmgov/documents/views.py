"""The documents app's pages for officials: the certification book (/office/chung-thuc/) and the
desk's digitisation of a dossier's paper components (/office/so-hoa/ho-so/<code>/).

Thin: parse, call ``certification`` / ``desk`` (which check the official's role at the agency),
render. No JavaScript: forms post and redirect (POST-redirect-GET); a refusal shows the same page
with the service's message, Vietnamese then English. An entry or a dossier of another agency is a
404 (its existence is not told)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from hcmgov.common.access import official_required
from hcmgov.common.errors import DomainError, Message, NotFound
from hcmgov.common.pagination import CappedPaginator
from hcmgov.core import selectors as core
from hcmgov.documents import certification, desk, selectors, storage
from hcmgov.documents.models import CertificationKind
from hcmgov.dossiers import selectors as dossiers
from hcmgov.identity import selectors as identity

PAGE = 50
KIND_EN = {"electronic": "Electronic copy", "paper": "Paper copy"}
HOW = {
    "uploaded": ("Nộp trực tuyến", "Uploaded online"),
    "reused": ("Dùng lại từ kho dữ liệu", "Reused from the data store"),
    "scanned": ("Số hoá tại bộ phận một cửa", "Scanned at the desk"),
    "": ("Chưa có bản điện tử", "Not held electronically"),
}


def _number(value: str | None, low: int, high: int) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() and low <= int(text) <= high else None


def _shown(exc: DomainError) -> DomainError:
    if exc.status == 403:
        raise PermissionDenied(exc.code)
    return exc


@official_required
@require_http_methods(["GET"])
def certification_list(request: HttpRequest) -> HttpResponse:
    """The certification books of the official's agencies: a year's entries, newest first."""
    agency_ids = identity.user_agency_ids(user=request.user)
    year = _number(request.GET.get("year"), 2000, 2100) or timezone.localdate().year
    kind = request.GET.get("kind", "")
    kind = kind if kind in CertificationKind.values else ""
    page = CappedPaginator(selectors.certifications_of(agency_ids=agency_ids, year=year, kind=kind), PAGE).get_page(
        request.GET.get("page")
    )
    may_certify = bool(identity.user_agency_ids(user=request.user, roles=certification.CERTIFIER_ROLES))
    return render(
        request,
        "documents/certification_list.html",
        {"page": page, "year": year, "kind": kind, "kinds": CertificationKind.choices, "kind_en": KIND_EN,
         "may_certify": may_certify},
    )  # fmt: skip


@official_required
@require_http_methods(["GET", "POST"])
def certification_new(request: HttpRequest) -> HttpResponse:
    """Record a certification: paper (pages, copies) or electronic (the scan of the original)."""
    agencies = list(
        core.agency_list().filter(
            pk__in=identity.user_agency_ids(user=request.user, roles=certification.CERTIFIER_ROLES)
        )
    )
    if not agencies:
        raise PermissionDenied("certify")
    error = None
    posted = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        post = request.POST
        wanted = _number(post.get("agency"), 1, 2**31)
        agency = agencies[0] if len(agencies) == 1 else next((a for a in agencies if a.pk == wanted), None)
        upload = request.FILES.get("file")
        given = certification.CertificationInput(
            requester_name=post.get("requester_name", "")[:150],
            requester_id=post.get("requester_id", "").strip()[:12],
            document_title=post.get("document_title", "")[:300],
            document_issuer=post.get("document_issuer", "")[:300],
            pages=_number(post.get("pages"), 0, 100_000),
            copies=_number(post.get("copies"), 0, 100_000),
        )
        try:
            if agency is None:
                raise PermissionDenied("agency")
            entry = certification.certification_record(
                official=request.user,
                agency_id=agency.pk,
                kind=post.get("kind", ""),
                given=given,
                original=upload.read() if upload is not None else b"",
                filename=(upload.name or "") if upload is not None else "",
            )
        except DomainError as exc:
            error = _shown(exc)
        else:
            messages.success(
                request, f"Đã vào sổ chứng thực số {entry.book_number}. / Entered as number {entry.book_number}."
            )
            return redirect(reverse("documents:certification", args=[entry.pk]))
    fields = {e.field: e.message for e in (error.errors if error else [])}
    return render(
        request,
        "documents/certification_new.html",
        {"agencies": agencies, "error": error, "errors": fields, "posted": posted, "kinds": CertificationKind.choices,
         "kind_en": KIND_EN},
        status=(error.status if error and 400 <= error.status < 500 else 422) if error else 200,
    )  # fmt: skip


def _entry(request: HttpRequest, pk: int) -> Any:
    try:
        return selectors.certification_visible(user=request.user, pk=pk)
    except NotFound:
        raise Http404(str(pk)) from None


@official_required
@require_http_methods(["GET"])
def certification_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = _entry(request, pk)
    return render(request, "documents/certification_detail.html", {"e": entry, "kind_en": KIND_EN})


@official_required
@require_http_methods(["GET"])
def certification_pdf(request: HttpRequest, pk: int) -> FileResponse:
    """The signed electronic copy (an entry of a paper certification has none: 404)."""
    entry = _entry(request, pk)
    if entry.signed is None:
        raise Http404("paper")
    response = FileResponse(
        storage.blob_open(blob=entry.signed),
        content_type="application/pdf",
        filename=f"ban-sao-chung-thuc-{entry.number}-{entry.year}.pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@official_required
@require_http_methods(["GET", "POST"])
def desk_dossier(request: HttpRequest, code: str) -> HttpResponse:
    """The required documents of a dossier and how each is held electronically; the desk scans the
    paper components that are not (one form per component)."""
    try:
        dossier = dossiers.dossier_visible_to(user=request.user, code=code)
    except NotFound:
        raise Http404(code) from None
    error = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise DomainError(
                    "file_required",
                    Message("Vui lòng chọn tệp bản quét.", "Please choose the scan's file."),
                    422,
                )
            component = desk.desk_component_scan(
                official=request.user,
                dossier=dossier,
                requirement=request.POST.get("requirement", "")[:40],
                filename=upload.name or "ban-quet",
                data=upload.read(),
            )
        except DomainError as exc:
            error = _shown(exc)
        else:
            messages.success(request, f"Đã số hoá {component.code}. / {component.code} digitised.")
            return redirect(reverse("documents:desk_dossier", args=[dossier.code]))
    rows = desk.dossier_desk_rows(dossier=dossier)
    wanted = [r for r in rows if r.component]
    return render(
        request,
        "documents/desk_dossier.html",
        {"dossier": dossier, "rows": rows, "how": HOW, "error": error,
         "complete": all(r.how for r in wanted), "missing": sum(1 for r in wanted if not r.how)},
        status=(error.status if 400 <= error.status < 500 else 422) if error else 200,
    )  # fmt: skip
