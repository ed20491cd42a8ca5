"""The personal data store (kho quản lý dữ liệu điện tử) as people use it: the owner's list of
documents and results, each file, and the officials' queue of digitised documents to confirm.
Thin: parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_http_methods

from hcmgov.common.access import applicant_required, login_required, official_required
from hcmgov.common.errors import DomainError, Message, NotFound
from hcmgov.core import selectors as core
from hcmgov.documents import search, storage
from hcmgov.documents import selectors as documents_read
from hcmgov.documents import services as store
from hcmgov.identity import selectors as identity
from hcmgov.web.responses import file_response


@applicant_required
@require_http_methods(["GET"])
def my_store(request: HttpRequest) -> HttpResponse:
    """Everything the city keeps for the applicant (and the businesses they represent)."""
    items = documents_read.store_of(owner_ids=identity.user_applicant_ids(user=request.user))
    return render(request, "web/store.html", {"items": items})


@login_required
@require_http_methods(["GET"])
def component_file(request: HttpRequest, code: str) -> HttpResponseBase:
    """The file of a component, for its owner or an official of the agency that holds it."""
    try:
        component = documents_read.component_visible(user=request.user, code=code)
    except NotFound:
        raise Http404(code) from None
    return file_response(
        storage.blob_open(blob=component.blob),
        content_type=component.blob.content_type,
        filename=component.filename or component.code,
    )


@official_required
@require_http_methods(["GET", "POST"])
def digitised(request: HttpRequest) -> HttpResponse:
    """Digitised documents of the official's agencies waiting for confirmation against the paper,
    and a search of their recognised text (``q``)."""
    agency_ids = identity.user_agency_ids(user=request.user, roles=store.DIGITISER_ROLES)
    error = None
    if request.method == "POST" and request.POST.get("action") == "scan":
        try:
            component = _scan(request, agency_ids)
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, f"Đã số hoá {component.code}. / {component.code} digitised.")
            return redirect(reverse("web:office_digitised"))
    elif request.method == "POST":
        code = request.POST.get("component", "")[:40]
        try:
            component = documents_read.component_visible(user=request.user, code=code)
            if request.POST.get("action") == "confirm":
                store.component_confirm(component=component, official=request.user)
                messages.success(request, f"Đã xác nhận {code}. / {code} confirmed.")
            elif request.POST.get("action") == "revoke":
                store.component_revoke(component=component, official=request.user)
                messages.success(request, f"Đã thu hồi {code}. / {code} revoked.")
            else:
                raise Http404("action")
        except NotFound:
            raise Http404(code) from None
        except DomainError as exc:
            error = exc
        else:
            return redirect(reverse("web:office_digitised"))
    pending = documents_read.components_pending(agency_ids=agency_ids)
    query = request.GET.get("q", "")[:200]
    found = list(search.components_search(query=query, agency_ids=agency_ids)) if query.strip() else None
    context = {"pending": pending, "error": error, "query": query, "found": found, "agencies": _agencies(agency_ids)}
    return render(request, "web/office_digitised.html", context, status=error.status if error else 200)


def _agencies(agency_ids: list[int]) -> list[Any]:
    return list(core.agency_list().filter(pk__in=agency_ids))


def _scan(request: HttpRequest, agency_ids: list[int]) -> Any:
    """A paper the applicant brought to the desk, scanned, into their data store."""
    post = request.POST
    owner = identity.user_by_personal_id(personal_id=post.get("personal_id", "")[:12])
    if owner is None:
        raise DomainError(
            "owner_not_found",
            Message(
                "Không có tài khoản nào với số định danh này: người dân cần đăng nhập bằng VNeID một lần trước.",
                "No account has this personal ID: the citizen must log in with VNeID once first.",
            ),
            422,
        )
    upload = request.FILES.get("file")
    if upload is None:
        raise DomainError(
            "file_required", Message("Vui lòng chọn tệp bản quét.", "Please choose the scan's file."), 422
        )
    agency_id = int(post["agency"]) if post.get("agency", "").isdigit() else (agency_ids[0] if agency_ids else 0)
    try:
        valid_until = parse_date(post.get("valid_until", "")[:10]) if post.get("valid_until") else None
    except ValueError:  # well formed, not a date (2026-02-30)
        valid_until = None
    if post.get("valid_until") and valid_until is None:
        raise DomainError("bad_date", Message("Ngày hiệu lực không hợp lệ.", "The validity date is not valid."), 422)
    return store.component_digitise(
        official=request.user,
        agency_id=agency_id,
        owner=owner,
        doc_type=post.get("doc_type", "")[:40],
        title=post.get("title", "")[:300],
        filename=upload.name or "ban-quet",
        data=upload.read(),
        valid_until=valid_until,
    )
