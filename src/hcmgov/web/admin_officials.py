"""Back-office pages of an agency's administrator (``agency_admin``): the agency's officials, a new
official (with a first password or an invitation), roles granted and revoked within the agency,
optionally for one procedure field, and accounts deactivated. Every change goes through an
audited service in ``identity.services``, which checks again that the actor administers the agency.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from hcmgov.catalog import selectors as catalog
from hcmgov.common.access import official_required
from hcmgov.common.errors import DomainError, Message
from hcmgov.core import selectors as core
from hcmgov.identity import selectors as identity_read
from hcmgov.identity import services as identity

ADMIN_ROLE = "agency_admin"


def _lang(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", "vi") or "vi"


def _agency(request: HttpRequest) -> Any:
    """The agency the request is about: one the user administers (``?agency=``, else the first)."""
    administered = sorted(identity_read.user_agency_ids(user=request.user, roles={ADMIN_ROLE}))
    if not administered:
        raise Http404("not an agency administrator")
    wanted = request.GET.get("agency") or request.POST.get("agency") or ""
    agency_id = int(wanted) if wanted.isdigit() else administered[0]
    if agency_id not in administered:
        raise Http404("agency")  # someone else's agency: as if it did not exist
    return core.agency_list().get(pk=agency_id)


def _others(request: HttpRequest, agency: Any) -> list[Any]:
    """The other agencies the user administers (to switch to)."""
    administered = identity_read.user_agency_ids(user=request.user, roles={ADMIN_ROLE})
    return [a for a in core.agency_list().filter(pk__in=administered) if a.pk != agency.pk]


def _roles() -> list[tuple[str, str]]:
    return identity_read.role_choices()


def _link(request: HttpRequest) -> Any:
    def make(uidb64: str, token: str) -> str:
        path = reverse("web:password_set", kwargs={"uidb64": uidb64, "token": token})
        return settings.PUBLIC_URL.rstrip("/") + path

    return make


def _detail_url(agency_id: int, user_id: int) -> str:
    return f"{reverse('web:official', kwargs={'user_id': user_id})}?{urlencode({'agency': agency_id})}"


@official_required
@require_http_methods(["GET"])
def officials(request: HttpRequest) -> HttpResponse:
    agency = _agency(request)
    return render(
        request,
        "web/officials.html",
        {
            "agency": agency,
            "others": _others(request, agency),
            "officials": identity_read.agency_officials(agency_id=agency.pk),
        },
    )


@official_required
@require_http_methods(["GET", "POST"])
def official_new(request: HttpRequest) -> HttpResponse:
    agency = _agency(request)
    error = None
    data = {k: request.POST.get(k, "").strip()[:150] for k in ("username", "full_name", "email", "role")}
    if request.method == "POST":
        invite = request.POST.get("how") == "invite"
        try:
            user = identity.official_create(
                actor=request.user,
                agency_id=agency.pk,
                username=data["username"],
                full_name=data["full_name"],
                email=data["email"],
                password="" if invite else request.POST.get("password", ""),
                role=data["role"] or "receiver",
            )
            if invite:
                identity.official_invitation(
                    actor=request.user, official=user, agency_id=agency.pk, link=_link(request)
                )
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, "Đã tạo tài khoản." if _lang(request) == "vi" else "Account created.")
            return redirect(_detail_url(agency.pk, user.pk))
    return render(
        request,
        "web/official_new.html",
        {"agency": agency, "roles": _roles(), "data": data, "error": error},
        status=422 if error else 200,
    )


@official_required
@require_http_methods(["GET", "POST"])
def official(request: HttpRequest, user_id: int) -> HttpResponse:
    agency = _agency(request)
    person = identity_read.agency_official(agency_id=agency.pk, user_id=user_id)
    if person is None:
        raise Http404("official")
    error = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            done = _act(request, action, agency.pk, person)
        except DomainError as exc:
            if exc.status in {403, 404}:  # not this agency's: as if it did not exist
                raise Http404(exc.code) from None
            error = exc.message
        else:
            messages.success(request, done.in_language(_lang(request)))
            return redirect(_detail_url(agency.pk, person.pk))
    return render(
        request,
        "web/official.html",
        {
            "agency": agency,
            "person": person,
            "roles": _roles(),
            "role_names": dict(_roles()),
            "fields": catalog.procedure_fields(),
            "error": error,
        },
        status=422 if error else 200,
    )


def _act(request: HttpRequest, action: str, agency_id: int, person: Any) -> Any:
    actor = request.user
    if action == "grant":
        identity.official_role_grant(
            actor=actor,
            official=person,
            agency_id=agency_id,
            role=request.POST.get("role", ""),
            field=request.POST.get("field", ""),
        )
        return Message("Đã cấp vai trò.", "Role granted.")
    if action == "revoke":
        assignment = request.POST.get("assignment", "")
        if not assignment.isdigit():
            raise Http404("assignment")
        identity.official_role_revoke(actor=actor, assignment_id=int(assignment), agency_id=agency_id)
        return Message("Đã thu hồi vai trò.", "Role revoked.")
    if action == "deactivate":
        identity.official_deactivate(actor=actor, official=person, agency_id=agency_id)
        return Message("Đã khóa tài khoản.", "Account deactivated.")
    if action == "invite":
        identity.official_invitation(actor=actor, official=person, agency_id=agency_id, link=_link(request))
        return Message("Đã gửi thư mời đặt mật khẩu.", "Invitation sent.")
    raise Http404("action")
