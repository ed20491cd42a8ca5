"""Pages of ratings and feedback: the applicant's rating of a settled dossier, the public feedback
form and lookup, the back office's list and answer form. Thin: parse, call a service or selector,
render. Every form posts with a CSRF token and works without JavaScript."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from hcmgov.common import ratelimit
from hcmgov.common.access import applicant_required, official_required, public
from hcmgov.common.errors import DomainError, NotFound
from hcmgov.core import selectors as core
from hcmgov.dossiers import selectors as dossiers
from hcmgov.feedback import selectors, services
from hcmgov.identity import selectors as identity

_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,64}")
KIND_LABELS = [
    ("city_pc", "Ủy ban nhân dân Thành phố", "City People's Committee"),
    ("department", "Sở, ban, ngành", "Departments"),
    ("commune_pc", "Ủy ban nhân dân xã, phường, đặc khu", "Commune-level People's Committees"),
    ("district_pc", "Ủy ban nhân dân cấp huyện", "District People's Committees"),
    ("police", "Công an", "Police"),
]


def _lang(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", "vi") or "vi"


def _say(request: HttpRequest, vi: str, en: str) -> str:
    return en if _lang(request).startswith("en") else vi


def _by_field(error: DomainError | None) -> dict[str, Any]:
    return {e.field: e for e in error.errors} if error else {}


# --- rating a dossier ------------------------------------------------------------------------------


def _own_dossier(request: HttpRequest, code: str) -> Any:
    try:
        dossier = dossiers.dossier_visible_to(user=request.user, code=code)
    except NotFound:
        raise Http404(code) from None
    if not identity.user_acts_for(user=request.user, applicant_id=dossier.applicant_id):
        raise Http404(code)  # an official who may see the dossier does not rate it
    return dossier


@applicant_required
@require_http_methods(["GET", "POST"])
def rate(request: HttpRequest, code: str) -> HttpResponse:
    """The rating form of ``feedback/_rating.html`` posts here; the same form on its own page
    (GET), and again with the errors when a rating was refused."""
    dossier = _own_dossier(request, code)
    error: DomainError | None = None
    values: dict[str, str] = {}
    if request.method == "POST":
        values = {
            k: request.POST.get(k, "") for k in ("score", "contacts", "publicity", "attitude", "online", "comment")
        }
        try:
            _, created = services.rating_submit(
                applicant=request.user,
                dossier_code=dossier.code,
                score=values["score"],
                comment=values["comment"],
                contacts=values["contacts"],
                publicity=values["publicity"],
                attitude=values["attitude"],
                online=values["online"],
            )
        except DomainError as exc:
            error = exc
        else:
            if created:
                messages.success(request, _say(request, "Cảm ơn bạn đã đánh giá.", "Thank you for your rating."))
            return redirect(reverse("web:dossier", args=[dossier.code]) + "#danh-gia")
    return render(
        request,
        "feedback/rate.html",
        {
            "dossier": dossier,
            "status_en": dossiers.STATUS_EN,
            "rating_error": error,
            "rating_errors": _by_field(error),
            "rating_values": values,
        },
        status=error.status if error else 200,
    )


# --- feedback: the public side ---------------------------------------------------------------------


def _agency_groups() -> list[tuple[str, str, list[Any]]]:
    """The agencies in force, grouped by kind for the form's list."""
    agencies = list(core.agency_list(day=timezone.localdate()))
    groups = [(vi, en, [a for a in agencies if a.kind == kind]) for kind, vi, en in KIND_LABELS]
    return [group for group in groups if group[2]]


@public
@require_http_methods(["GET", "POST"])
@ratelimit.limited("public_feedback", methods=("POST",))
def feedback_new(request: HttpRequest) -> HttpResponse:
    """Gửi phản ánh, kiến nghị: signed in as a citizen or business, or with a name and a contact."""
    author = request.user if request.user.is_authenticated else None
    source = request.POST if request.method == "POST" else request.GET
    fields = ("agency", "category", "dossier", "dossier_secret", "subject", "text", "name", "email", "phone")
    values = {k: source.get(k, "")[:6000] for k in fields}
    token = request.POST.get("submission_token", "")
    if not _TOKEN.fullmatch(token):
        token = secrets.token_urlsafe(16)
    error: DomainError | None = None
    if request.method == "POST":
        try:
            feedback, _ = services.feedback_submit(
                author=author,
                agency_code=values["agency"],
                subject=values["subject"],
                text=values["text"],
                category=values["category"] or "regulation",
                dossier_code=values["dossier"],
                dossier_secret=values["dossier_secret"],
                name=values["name"],
                email=values["email"],
                phone=values["phone"],
                idempotency_key=f"web:{token}",
                language=_lang(request),
            )
        except DomainError as exc:
            error = exc
        else:  # shown, not redirected: the secret is shown once; a re-post returns the same feedback
            return render(request, "feedback/submitted.html", {"feedback": feedback})
    return render(
        request,
        "feedback/new.html",
        {
            "groups": _agency_groups(),
            "values": values,
            "error": error,
            "errors": _by_field(error),
            "token": token,
            "author": author,
            "categories": [(c.value, c.label, selectors.CATEGORY_EN[c]) for c in selectors.Category],
        },
        status=error.status if error else 200,
    )


def lookup_query(feedback: Any) -> str:
    return urlencode({"code": feedback.code, "secret": feedback.secret})


@public
@require_http_methods(["GET", "POST"])
@ratelimit.limited("public_lookup")
def feedback_lookup(request: HttpRequest) -> HttpResponse:
    """Tra cứu phản ánh by code and secret; the author rates the answer here (POST)."""
    source = request.POST if request.method == "POST" else request.GET
    code, secret = source.get("code", "").strip()[:32], source.get("secret", "").strip()[:16]
    feedback, not_found, error = None, False, None
    if code and secret:
        try:
            feedback = selectors.feedback_lookup(code=code, secret=secret)
        except NotFound:
            not_found = True
    if request.method == "POST" and feedback is not None:
        try:
            services.feedback_rate_answer(
                feedback=feedback, score=request.POST.get("score", ""), comment=request.POST.get("comment", "")
            )
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, _say(request, "Cảm ơn bạn đã đánh giá.", "Thank you for your rating."))
            return redirect(f"{reverse('feedback:lookup')}?{lookup_query(feedback)}")
    status = 404 if not_found else (error.status if error else 200)
    return render(
        request,
        "feedback/lookup.html",
        {
            "code": code,
            "secret": secret,
            "feedback": feedback,
            "not_found": not_found,
            "error": error,
            "state_en": selectors.STATE_EN,
            "reason_en": selectors.REJECT_REASON_EN,
            "scores": _scores(),
        },
        status=status,
    )


def _scores() -> list[tuple[int, str, str]]:
    return [(s.value, s.label, selectors.SCORE_EN[s]) for s in selectors.Score]


# --- feedback: the back office ---------------------------------------------------------------------

STATE_FILTERS = [
    ("open", "Đang chờ xử lý", "Open"),
    ("overdue", "Quá hạn", "Overdue"),
    ("received", "Đã tiếp nhận", "Received"),
    ("handling", "Đang xử lý", "Being handled"),
    ("answered", "Đã trả lời", "Answered"),
    ("rejected", "Không xử lý", "Not handled"),
    ("all", "Tất cả", "All"),
]


@official_required
@require_http_methods(["GET"])
def office_list(request: HttpRequest) -> HttpResponse:
    """Feedback to the official's agencies, with deadlines and overdue marks."""
    state = request.GET.get("state", "open")
    if state not in selectors.LIST_FILTERS:
        state = "open"
    q = request.GET.get("q", "").strip()[:48].replace("\x00", "")
    page = Paginator(selectors.feedback_list_for_official(user=request.user, state=state, q=q), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "feedback/office_list.html",
        {
            "page": page,
            "state": state,
            "q": q,
            "filters": STATE_FILTERS,
            "querystring": urlencode({"state": state, "q": q}),
            "state_en": selectors.STATE_EN,
            "now": timezone.now(),
        },
    )


@official_required
@require_http_methods(["GET", "POST"])
def office_detail(request: HttpRequest, code: str) -> HttpResponse:
    """One feedback: take it up, answer it, or decline it."""
    try:
        feedback = selectors.feedback_for_official(user=request.user, code=code)
    except NotFound:
        raise Http404(code) from None
    error: DomainError | None = None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "start":
                services.feedback_start(feedback=feedback, official=request.user)
            elif action == "answer":
                services.feedback_answer(
                    feedback=feedback, official=request.user, answer=request.POST.get("answer", "")
                )
            elif action == "reject":
                services.feedback_reject(
                    feedback=feedback,
                    official=request.user,
                    reason=request.POST.get("reason", ""),
                    note=request.POST.get("note", ""),
                )
            else:
                raise Http404(action)
        except DomainError as exc:
            error = exc
        else:
            return redirect(reverse("feedback:office_detail", args=[feedback.code]))
        feedback = selectors.feedback_for_official(user=request.user, code=code)
    return render(
        request,
        "feedback/office_detail.html",
        {
            "feedback": feedback,
            "error": error,
            "errors": _by_field(error),
            "answer_text": request.POST.get("answer", "") if error else "",
            "state_en": selectors.STATE_EN,
            "reason_en": selectors.REJECT_REASON_EN,
            "category_en": selectors.CATEGORY_EN,
            "reasons": [(r.value, r.label, selectors.REJECT_REASON_EN[r]) for r in selectors.RejectReason],
            "score_en": selectors.SCORE_EN,
        },
        status=error.status if error else 200,
    )
