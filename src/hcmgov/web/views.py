"""Pages of the citizen portal and the back office. Thin: parse, call a service or selector, render."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from hcmgov.catalog import selectors as catalog
from hcmgov.common import jsonform, ratelimit
from hcmgov.common.access import applicant_required, login_required, public, second_factor_missing
from hcmgov.common.errors import DomainError, FieldError, NotFound
from hcmgov.core import selectors as core
from hcmgov.documents import selectors as documents_read
from hcmgov.documents import services as store
from hcmgov.dossiers import documents, selectors, services
from hcmgov.dossiers.files import Attachment
from hcmgov.dossiers.selectors import Status
from hcmgov.identity import eid
from hcmgov.identity import selectors as identity_read
from hcmgov.identity import services as identity
from hcmgov.payments import selectors as payment_selectors
from hcmgov.payments import services as payment_services
from hcmgov.postal import selectors as postal_read
from hcmgov.registry import services as registry
from hcmgov.web import applying, schemaform
from hcmgov.web import eid as eid_pages
from hcmgov.web.responses import file_response, pdf_response, visible_dossier

# the form's submission token (``secrets.token_urlsafe``, or a test's): anything else — a NUL, which
# PostgreSQL refuses in the idempotency key's text column, or text no form of ours wrote — gets a new one
_SUBMISSION_TOKEN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

LEVELS = [
    ("commune", "Cấp xã", "Commune level"),
    ("district", "Cấp huyện", "District level"),
    ("city", "Cấp tỉnh", "City level"),
]


def _lang(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", "vi") or "vi"


def _today() -> dt.date:
    return timezone.localdate()


@public
@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    """Procedure search with filters (field, level, agency kind)."""
    params = {k: request.GET.get(k, "")[:100] for k in ("q", "field", "level", "agency_kind")}
    results = catalog.procedure_search(**params)
    page = Paginator(results, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "web/home.html",
        {
            "page": page,
            "params": params,
            "fields": catalog.procedure_fields(),
            "levels": LEVELS,
            "querystring": urlencode({k: v for k, v in params.items() if v}),
        },
    )


@public
@require_http_methods(["GET"])
def procedure_detail(request: HttpRequest, code: str) -> HttpResponse:
    procedure = _procedure_or_404(code)
    version = catalog.procedure_version_in_force(procedure=procedure, day=_today())
    return render(request, "web/procedure.html", {"procedure": procedure, "version": version})


def _procedure_or_404(code: str) -> Any:
    try:
        return catalog.procedure_get(code=code)
    except NotFound:
        raise Http404(code) from None


def _agencies_for(procedure: Any) -> list[Any]:
    agencies = core.agency_list(kind=procedure.agency_kind, day=_today())
    if procedure.agency_department:
        agencies = agencies.filter(department=procedure.agency_department)
    return list(agencies)


def _attachments(request: HttpRequest, version: Any) -> tuple[list[Attachment], list[FieldError]]:
    """The files of the form: uploads, or — where none was uploaded — the component of the
    applicant's data store chosen for reuse (``reuse-<code>``); a reuse refused is a field error."""
    out, problems = [], []
    owner_ids = identity_read.user_applicant_ids(user=request.user)
    for doc in version.required_documents:
        uploads = request.FILES.getlist(f"doc-{doc['code']}")
        for upload in uploads:
            if (upload.size or 0) > settings.UPLOAD_MAX_BYTES:  # not read: the check reports the size
                out.append(Attachment(doc["code"], upload.name or "", b"", unread_size=upload.size))
                continue
            out.append(Attachment(requirement=doc["code"], filename=upload.name or "", data=upload.read()))
        reuse = request.POST.get(f"reuse-{doc['code']}", "")
        if uploads or not reuse:
            continue
        try:
            component, data = store.component_attachment(code=reuse, owner_ids=owner_ids)
        except DomainError as exc:
            problems.append(FieldError(doc["code"], exc.code, exc.message))
            continue
        out.append(Attachment(doc["code"], component.filename, data, component_code=component.code))
    return out, problems


@applicant_required
@require_http_methods(["GET", "POST"])
def dossier_new(request: HttpRequest, code: str) -> HttpResponse:
    """The application form, rendered from the procedure's JSON Schema; validated on the server."""
    procedure = _procedure_or_404(code)
    version = catalog.procedure_version_in_force(procedure=procedure, day=_today())
    agencies = _agencies_for(procedure)
    data: dict[str, Any] = {}
    errors: list[Any] = []
    error: DomainError | None = None
    token = request.POST.get("submission_token", "")
    if not _SUBMISSION_TOKEN.fullmatch(token):  # the form's own token only: a NUL would reach the database
        token = secrets.token_urlsafe(16)
    agency_code = request.POST.get("agency", "").replace("\x00", "")  # PostgreSQL refuses NUL in a lookup
    reusable = documents_read.components_reusable(
        owner_ids=identity_read.user_applicant_ids(user=request.user),
        doc_types={doc["code"] for doc in version.required_documents},
    )
    if request.method == "POST" and (done := applying.draft_action(request, procedure=procedure, version=version)):
        return done  # saved as a draft, or the draft discarded (web/applying.py)
    if request.method == "POST":
        data = jsonform.coerce(version.form_schema, request.POST)
        attachments, reuse_problems = _attachments(request, version)
        try:
            dossier, created = services.dossier_submit(
                applicant=request.user,
                procedure_code=procedure.code,
                agency_code=agency_code,
                form_data=data,
                attachments=attachments,
                idempotency_key=f"web:{token}",
                dedupe_window=dt.timedelta(minutes=30),
                language=_lang(request),
                attachment_errors=reuse_problems,
            )
        except DomainError as exc:
            error, errors = exc, exc.errors
        else:
            applying.submitted(user=request.user, procedure=procedure)
            if created:
                messages.success(request, "Nộp hồ sơ thành công." if _lang(request) == "vi" else "Dossier submitted.")
            return redirect("web:dossier", code=dossier.code)
    # on a form sent back with errors, what it holds is shown again: no second lookup
    prefill = _prefill(version.form_schema, request.user, context=procedure.code, lookup=request.method != "POST")
    draft, reuse_chosen = None, _reuse_chosen(request, version)
    if request.method != "POST":
        draft, data = applying.resumed(user=request.user, procedure=procedure, prefill=prefill)
        if draft is not None:
            agency_code, reuse_chosen = draft.agency_code, draft.reuse
    by_field = {e.field: e for e in errors}
    return render(
        request,
        "web/dossier_new.html",
        {
            "procedure": procedure,
            "version": version,
            "agencies": agencies,
            "agency_code": agency_code,
            "items": schemaform.build(version.form_schema, data, errors),
            "error": error,
            "errors": errors,
            "doc_errors": by_field,
            "token": token,
            "max_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
            "reusable": reusable,
            "reuse_chosen": reuse_chosen,
            "prefill": prefill,
            "draft": draft,
            "draft_keep_days": settings.DRAFT_KEEP_DAYS,
            "steps": applying.steps(version=version, errors=errors),
        },
        status=422 if error else 200,
    )


def _reuse_chosen(request: HttpRequest, version: Any) -> dict[str, str | None]:
    """What the applicant chose to reuse, when the form comes back with errors (nothing on a new form)."""
    if request.method != "POST":
        return {}
    return {doc["code"]: request.POST.get(f"reuse-{doc['code']}") for doc in version.required_documents}


def _prefill(schema: dict[str, Any], user: Any, *, context: str = "", lookup: bool = True) -> dict[str, Any]:
    """Fill what the city already holds about the applicant (``x-prefill`` names the fact): never
    ask twice. Each prefilled field carries its source (``sources``, by field name); the form says
    when a national database could not be reached (``pending``) and asks for consent when none
    is given (``consent``)."""
    fields = [(f.name, f.schema["x-prefill"]) for f in jsonform.flat_fields(schema) if f.schema.get("x-prefill")]
    found = registry.applicant_prefill(user=user, facts=[fact for _, fact in fields], context=context, lookup=lookup)
    data: dict[str, Any] = {}
    sources: dict[str, Any] = {}
    for name, fact in fields:
        if fact not in found.values:
            continue
        node = data
        *parents, leaf = name.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = found.values[fact]
        sources[name] = found.provenance[fact]
    return {"data": data, "sources": sources, "consent": found.consent, "pending": found.pending, "asked": bool(fields)}


@applicant_required
@require_POST
def prefill_consent(request: HttpRequest, code: str) -> HttpResponse:
    """The applicant agrees that the city's shared data store fill their forms (purpose
    ``prefill``, identity, address, business and contact data), then goes back to the form."""
    procedure = _procedure_or_404(code)
    user: Any = request.user
    identity.consent_grant(
        subject=user,
        purpose="prefill",
        recipient=registry.RECIPIENT,
        recipient_name="Kho dữ liệu dùng chung của Thành phố / The city's shared data store",
        data_categories=["identity", "address", "contact", "business"],
        source="portal",
    )
    messages.success(
        request,
        "Đã ghi nhận sự đồng ý: biểu mẫu được điền sẵn từ dữ liệu Thành phố đã có."
        if _lang(request) == "vi"
        else "Consent recorded: forms are prefilled from what the city holds.",
    )
    return redirect("web:dossier_new", code=procedure.code)


@applicant_required
@require_http_methods(["GET"])
def my_dossiers(request: HttpRequest) -> HttpResponse:
    dossiers = selectors.dossier_list_for_applicant(user=request.user, summary=True)
    page = Paginator(dossiers, 20).get_page(request.GET.get("page"))
    drafts = applying.drafts_of(user=request.user)
    return render(request, "web/my_dossiers.html", {"page": page, "drafts": drafts})


@login_required
@require_http_methods(["GET"])
def dossier_detail(request: HttpRequest, code: str) -> HttpResponse:
    dossier = visible_dossier(request, code)
    return render(
        request,
        "web/dossier.html",
        {
            "dossier": dossier,
            "events": selectors.dossier_events(dossier=dossier),
            "documents": list(dossier.documents.all()),
            "tracking_url": documents.tracking_url(dossier),
            "supplements": selectors.dossier_supplement_requests(dossier=dossier),
            "apologies": selectors.dossier_apologies(dossier=dossier),
            "requirements": dossier.procedure_version.required_documents,
            "results": documents_read.results_of_dossier(dossier_id=dossier.pk),
            **fees_context(dossier),
        },
    )


def fees_context(dossier: Any) -> dict[str, Any]:
    """The dossier's fees: its payment orders, or — before the first is made — the lines it will
    owe (read only: the order is made when the dossier's submission event is handled, or on paying)."""
    orders = payment_selectors.dossier_orders(dossier_id=dossier.pk)
    preview = None
    if not orders and payment_services.order_possible(dossier=dossier):
        stage, lines = payment_services.order_lines(dossier=dossier)
        preview = {"stage": stage, "lines": lines, "total": sum(line.amount or 0 for line in lines)} if lines else None
    return {
        "orders": orders,
        "fee_preview": preview,
        "deliveries": postal_read.dossier_deliveries(dossier_id=dossier.pk),
    }


@login_required
@require_http_methods(["GET"])
def receipt_pdf(request: HttpRequest, code: str) -> HttpResponse:
    """Form 01: the receipt and appointment slip, with a QR code to public tracking."""
    dossier = visible_dossier(request, code)
    return pdf_response(documents.receipt_pdf(dossier), f"phieu-hen-{dossier.code}.pdf")


@login_required
@require_http_methods(["GET"])
def dossier_document_file(request: HttpRequest, code: str, document_id: int) -> HttpResponseBase:
    """A file of the dossier, for its applicant and the officials taking part."""
    dossier = visible_dossier(request, code)
    try:
        document, handle, content_type = selectors.dossier_document_open(dossier=dossier, document_id=document_id)
    except NotFound:
        raise Http404(str(document_id)) from None
    return file_response(handle, content_type=content_type, filename=document.filename)


@login_required
@require_http_methods(["GET"])
def refusal_pdf(request: HttpRequest, code: str) -> HttpResponse:
    """Form 03: the refusal slip, for a dossier that was not received."""
    dossier = visible_dossier(request, code)
    if dossier.status != Status.NOT_RECEIVED:
        raise Http404(code)
    return pdf_response(documents.refusal_pdf(dossier), f"phieu-tu-choi-{dossier.code}.pdf")


@public
@require_http_methods(["GET"])
@ratelimit.limited("public_lookup")
def track(request: HttpRequest) -> HttpResponse:
    """Public status lookup by dossier code plus the secret printed on the receipt (its common
    shape is answered before Django by ``web.fastpath.FastTrackPage``, with ``track_context``)."""
    found = track_context(request.GET.get("code", ""), request.GET.get("secret", ""))
    return render(request, TRACK_TEMPLATE, found, status=404 if found["not_found"] else 200)


TRACK_TEMPLATE = "web/track.html"


def track_context(code: str, secret: str) -> dict[str, Any]:
    """The tracking page's context for the code and secret asked (both may be empty: the form)."""
    code, secret = code.strip()[:48], secret.strip()[:16]
    dossier, events, not_found = None, [], False
    if code and secret:
        try:
            dossier = selectors.dossier_track(code=code, secret=secret)
            events = dossier.events
        except NotFound:
            not_found = True
    return {"code": code, "secret": secret, "dossier": dossier, "events": events, "not_found": not_found}


@public
@require_http_methods(["GET"])
def language(request: HttpRequest) -> HttpResponse:
    """The language switch in every page's header: a link (``/ngon-ngu/?lang=en&next=…``), not a form, so
    that a page carries no CSRF token and sets no cookie until someone switches (decision 0039).
    Sets the language cookie as Django's ``set_language`` does and goes back to ``next`` when it is
    an address of this site, else to the home page. An unknown language changes nothing."""
    from django.utils.http import url_has_allowed_host_and_scheme

    code, back = request.GET.get("lang", ""), request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("web:home")
    response = redirect(back)
    if code in {lang for lang, _ in settings.LANGUAGES}:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, code, max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )  # fmt: skip
    return response


@applicant_required
@never_cache
@require_http_methods(["GET"])
def consents(request: HttpRequest) -> HttpResponse:
    """Chia sẻ dữ liệu: what sharing of their data the person agreed to, in force or past, with a
    button to withdraw each one in force (Decree 13/2023/NĐ-CP, Art. 12)."""
    given = identity_read.consents_of(user=request.user)
    return render(
        request,
        "web/consents.html",
        {"in_force": [c for c in given if c.in_force], "past": [c for c in given if not c.in_force]},
    )


@applicant_required
@require_POST
def consent_withdraw(request: HttpRequest, consent_id: int) -> HttpResponse:
    """Withdraw a consent; again, or someone else's: nothing changes (someone else's is not found)."""
    user: Any = request.user
    try:
        identity.consent_withdraw(subject=user, consent_id=consent_id)
    except NotFound:
        raise Http404("consent") from None
    messages.success(request, "Đã rút lại sự đồng ý." if _lang(request) == "vi" else "Your consent is withdrawn.")
    return redirect("web:consents")


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True
    access = "public"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "eid_enabled": eid.eid_enabled()}

    def get_success_url(self) -> str:
        # officials and administrators go on to their one-time code (web/security.py) first
        url = super().get_success_url()
        if second_factor_missing(self.request.user):
            return f"{reverse(settings.SECOND_FACTOR_URL)}?{urlencode({'next': url})}"
        return url


@public
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    end_session = eid_pages.end_session_url(request)  # read before the session ends
    logout(request)
    return redirect(end_session or "web:home")  # an e-ID login also ends at the provider
