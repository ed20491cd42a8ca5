"""The personal data store (kho quản lý dữ liệu điện tử) as people use it: the owner's list of
documents and results, each file, and the officials' queue of digitised documents to confirm.
Thin: parse, call a service or selector, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from hcmgov.common.access import applicant_required, login_required, official_required
from hcmgov.common.errors import DomainError, NotFound
from hcmgov.documents import search, storage
from hcmgov.documents import selectors as documents_read
from hcmgov.documents import services as store
from hcmgov.identity import selectors as identity


@applicant_required
@require_http_methods(["GET"])
def my_store(request: HttpRequest) -> HttpResponse:
    """Everything the city keeps for the applicant (and the businesses they represent)."""
    items = documents_read.store_of(owner_ids=identity.user_applicant_ids(user=request.user))
    return render(request, "web/store.html", {"items": items})


@login_required
@require_http_methods(["GET"])
def component_file(request: HttpRequest, code: str) -> HttpResponse:
    """The file of a component, for its owner or an official of the agency that holds it."""
    try:
        component = documents_read.component_visible(user=request.user, code=code)
    except NotFound:
        raise Http404(code) from None
    response = HttpResponse(storage.blob_read(blob=component.blob), content_type=component.blob.content_type)
    safe = "".join(c for c in component.filename if c.isascii() and (c.isalnum() or c in "._-")) or component.code
    response["Content-Disposition"] = f'inline; filename="{safe}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@official_required
@require_http_methods(["GET", "POST"])
def digitised(request: HttpRequest) -> HttpResponse:
    """Digitised documents of the official's agencies waiting for confirmation against the paper,
    and a search of their recognised text (``q``)."""
    agency_ids = identity.user_agency_ids(user=request.user, roles=store.DIGITISER_ROLES)
    error = None
    if request.method == "POST":
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
    context = {"pending": pending, "error": error, "query": query, "found": found}
    return render(request, "web/office_digitised.html", context, status=409 if error else 200)
