"""The electronic office's pages for officials (issue 12): outgoing documents from draft to issue
and dispatch. Thin, like the reporting pages: parse (``forms``), call the services (which check
the acting official's role in the document's agency), render. No JavaScript: forms post and
redirect (POST-redirect-GET); a refusal shows the same page with the service's message, in
Vietnamese then English, by its field when it has one.

Who sees what: an official sees the documents of the agencies where they hold a role today
(``identity.user_agency_ids``); another agency's document is a 404 (its existence is not told).
What they may do there is the services' role check; the pages only hide the forms they would refuse.
Work records and the incoming register: ``views_records``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from hcmgov.common.access import official_required
from hcmgov.common.errors import DomainError, Message
from hcmgov.common.pagination import CappedPaginator
from hcmgov.core import selectors as core
from hcmgov.documents import services as documents
from hcmgov.identity import selectors as identity
from hcmgov.office import dispatches, doctypes, forms, selectors, services
from hcmgov.office.models import Confidentiality, Direction, DocumentState, Urgency

PAGE = 25
DOCUMENT_ACTIONS = {"version", "submit", "approve", "return", "sign", "issue", "send"}


# --- shared by the office's pages -------------------------------------------------------------------


def agency_ids(request: HttpRequest) -> list[int]:
    """The agencies where the official holds a role today (read once per request)."""
    cached = getattr(request, "_office_agency_ids", None)
    if cached is None:
        cached = identity.user_agency_ids(user=request.user)
        request._office_agency_ids = cached  # type: ignore[attr-defined]
    return list(cached)


def agencies_for(request: HttpRequest, roles: set[str]) -> list[Any]:
    """The agencies where the official holds one of ``roles`` (the choice of a "new" form)."""
    ids = identity.user_agency_ids(user=request.user, roles=roles)
    return list(core.agency_list().filter(pk__in=ids))


def agencies_or_denied(request: HttpRequest, roles: set[str], what: str) -> list[Any]:
    """The agencies a "new" form may act for (:func:`agencies_for`); none: 403."""
    agencies = agencies_for(request, roles)
    if not agencies:
        raise PermissionDenied(what)
    return agencies


def new_form_post(
    request: HttpRequest,
    agencies: list[Any],
    parse: Callable[[HttpRequest], forms.Parsed],
    act: Callable[[Any, dict[str, Any]], Any],
) -> tuple[Any, DomainError | None]:
    """The POST of a "new" form: parsed, its agency chosen (:func:`chosen_agency`), then
    ``act(agency, values)`` — what it made, or the refusal (the form's or the service's) to show."""
    parsed = parse(request)
    agency = chosen_agency(request, agencies, parsed)
    try:
        parsed.raise_errors()
        return act(agency, parsed.values), None
    except DomainError as exc:
        return None, refusal(exc)


def chosen_agency(request: HttpRequest, agencies: list[Any], parsed: forms.Parsed) -> Any:
    """The agency a "new" form acts for: the posted one among ``agencies``, or the only one."""
    if len(agencies) == 1:
        return agencies[0]
    wanted = forms.integer(request.POST.get("agency"), low=1)
    agency = next((a for a in agencies if a.pk == wanted), None)
    if agency is None:
        parsed.fail("agency", "Vui lòng chọn cơ quan.", "Please choose the agency.")
    return agency


def year_param(request: HttpRequest) -> int | None:
    return forms.integer(request.GET.get("year"), low=2000, high=2100)


def refusal(exc: DomainError) -> DomainError:
    """A refusal shown on the page; a refusal of the caller's role is a 403 page instead."""
    if exc.status == 403:
        raise PermissionDenied(exc.code)
    return exc


def status_of(error: DomainError | None) -> int:
    if error is None:
        return 200
    return error.status if 400 <= error.status < 500 else 422


def say(request: HttpRequest, vi: str, en: str) -> str:
    return Message(vi, en).in_language(getattr(request, "LANGUAGE_CODE", None))


def by_field(error: DomainError | None) -> dict[str, Any]:
    return {e.field: e.message for e in (error.errors if error else [])}


def has_role(request: HttpRequest, agency_id: int, roles: set[str]) -> bool:
    return identity.user_has_role(user=request.user, agency_id=agency_id, roles=roles)


# --- outgoing documents ---------------------------------------------------------------------------


def _problems(ids: list[int], year: int | None) -> dict[str, Any]:
    """What the checks find in the agencies' registers (issue 12's "bad input"): numbers held
    twice, numbers missing, signatures on a superseded draft. Shown, not refused: they may come
    from numbers brought from outside."""
    checks = [c for agency_id in ids for c in selectors.registers_check(agency_id=agency_id, year=year)]
    superseded = [s for agency_id in ids for s in selectors.signatures_superseded(agency_id=agency_id)]
    return {
        "duplicates": [c for c in checks if c.duplicates],
        "gaps": [c for c in checks if c.gaps],
        "superseded": superseded,
    }


@official_required
@require_http_methods(["GET"])
def document_list(request: HttpRequest) -> HttpResponse:
    """The agency's outgoing documents (drafts, in review, signed, issued), filtered by state,
    register (ordinary or confidential) and year, with the registers' problems on top; the
    incoming register is ``views_records.incoming_list``."""
    ids = agency_ids(request)
    state = request.GET.get("state", "")
    state = state if state in DocumentState.values else ""
    register = request.GET.get("register", "")
    register = register if register in {"", "normal", "confidential"} else ""
    year = year_param(request)
    confidential = None if not register else register == "confidential"
    rows = selectors.outgoing_list(agency_ids=ids, state=state, year=year, confidential=confidential)
    page = CappedPaginator(rows, PAGE).get_page(request.GET.get("page"))
    params = {"state": state, "register": register, "year": str(year or "")}
    return render(
        request,
        "office/document_list.html",
        {
            "page": page,
            "params": params,
            "states": DocumentState.choices,
            "states_en": selectors.DOCUMENT_STATES_EN,
            "querystring": urlencode({k: v for k, v in params.items() if v}),
            "problems": _problems(ids, year),
            "may_draft": bool(identity.user_agency_ids(user=request.user, roles=services.DRAFTER_ROLES)),
        },
    )


@official_required
@require_http_methods(["GET", "POST"])
def document_new(request: HttpRequest) -> HttpResponse:
    """Start an outgoing document: its particulars and the draft PDF (``services.document_draft``)."""
    agencies = agencies_or_denied(request, services.DRAFTER_ROLES, "office drafter")
    error: DomainError | None = None
    if request.method == "POST":
        document, error = new_form_post(
            request,
            agencies,
            forms.draft_form,
            lambda agency, values: services.document_draft(
                official=request.user,
                agency_id=agency.pk,
                agency_abbreviation=values["agency_abbreviation"],
                unit_abbreviation=values["unit_abbreviation"],
                doc_type=values["doc_type"],
                summary=values["summary"],
                urgency=values["urgency"],
                confidentiality=values["confidentiality"],
                recipients=values["recipients"],
                pages=values["pages"],
                data=values["data"],
                filename=values["filename"],
            ),
        )
        if error is None:
            messages.success(request, say(request, "Đã tạo dự thảo.", "The draft was created."))
            return redirect("eoffice:document", document.pk)
    return render(
        request,
        "office/document_new.html",
        {
            "agencies": agencies,
            "types": doctypes.TYPES,
            "urgencies": Urgency.choices,
            "confidentialities": Confidentiality.choices,
            "error": error,
            "errors": by_field(error),
            "posted": request.POST,
        },
        status=status_of(error),
    )


def _document(request: HttpRequest, pk: int) -> Any:
    document = selectors.outgoing_get(agency_ids=agency_ids(request), pk=pk)
    if document is None:
        raise Http404("document")
    return document


def _version(document: Any, request: HttpRequest) -> Any:
    """The draft version the form names (a stale page names a superseded one: the service says so)."""
    wanted = forms.integer(request.POST.get("version"), low=1)
    version = document.versions.filter(pk=wanted).first() if wanted else None
    if version is None:
        raise DomainError(
            "version_required",
            Message("Không tìm thấy bản dự thảo đã chọn.", "The chosen draft version was not found."),
            422,
        )
    return version


def _act(request: HttpRequest, document: Any, action: str) -> str:
    """Run one action of the document's page through its service; the message of success."""
    user = request.user
    if action == "version":
        parsed = forms.Parsed()
        forms.upload(parsed, request)
        parsed.raise_errors()
        services.draft_version_add(
            document=document, official=user, data=parsed.values["data"], filename=parsed.values["filename"]
        )
        return say(request, "Đã thêm bản dự thảo mới.", "A new draft version was added.")
    if action == "submit":
        services.document_submit(document=document, official=user)
        return say(request, "Đã trình duyệt dự thảo.", "The draft was sent for review.")
    if action in {"approve", "return"}:
        services.document_review(
            document=document,
            reviewer=user,
            version=_version(document, request),
            approve=action == "approve",
            reason=forms.text(request, "reason", 500),
        )
        if action == "approve":
            return say(request, "Đã duyệt dự thảo.", "The draft was approved.")
        return say(request, "Đã trả lại dự thảo.", "The draft was returned.")
    if action == "sign":
        services.document_sign(document=document, signer=user, version=_version(document, request))
        return say(request, "Đã ký số văn bản.", "The document was signed.")
    if action == "issue":
        issued = services.document_issue(document=document, clerk=user)
        return say(
            request, f"Đã ban hành văn bản số {issued.number_symbol}.", f"Issued as number {issued.number_symbol}."
        )
    ids = [n for n in (forms.integer(v, low=1) for v in request.POST.getlist("recipients")[:200]) if n]
    if not ids:
        raise DomainError(
            "recipient_required",
            Message("Vui lòng chọn cơ quan nhận.", "Please choose the recipient agencies."),
            422,
            errors=[],
        )
    dispatches.document_send(document=document, clerk=user, recipient_ids=ids)
    return say(request, "Đã gửi văn bản qua trục liên thông.", "The document was sent over the exchange.")


@official_required
@require_http_methods(["GET", "POST"])
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A document: its versions, reviews, signatures, number, dispatches and their states, and the
    actions the official's roles allow (each a POST form: submit, review, sign, issue, send)."""
    document = _document(request, pk)
    error: DomainError | None = None
    action = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in DOCUMENT_ACTIONS:
            error = DomainError("action_unknown", Message("Thao tác không hợp lệ.", "Unknown action."), 422)
        else:
            try:
                done = _act(request, document, action)
            except DomainError as exc:
                error = refusal(exc)
            else:
                messages.success(request, done)
                return redirect("eoffice:document", document.pk)
        document = _document(request, pk)
    return _render_document(request, document, error=error, action=action)


@official_required
@require_http_methods(["GET"])
def document_file(request: HttpRequest, pk: int) -> HttpResponse:
    """The document's file as it stands (``selectors.document_file``): what a reviewer reads before
    deciding, a signer before signing, and, once issued, the issued PDF with its number."""
    document = _document(request, pk)
    found = selectors.document_file(document=document)
    if found is None:
        raise Http404("file")
    key, filename = found
    try:
        data = documents.platform_file_read(key=key)
    except DomainError:
        raise Http404("file") from None
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{_ascii(filename)}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _ascii(filename: str) -> str:
    """A file name safe in a header: ASCII letters, digits, dot, dash and underscore."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in ".-_") else "-" for c in filename)
    return safe[:100] or "van-ban.pdf"


def _number_next(document: Any) -> str:
    """The number the issue would give now (shown on the button; the issue takes it under lock)."""
    year = timezone.localdate().year
    confidential = document.confidentiality != Confidentiality.NORMAL
    last = selectors.register_last(
        agency_id=document.agency_id, direction=Direction.OUTGOING, year=year, confidential=confidential
    )
    return doctypes.number_symbol(
        number=last + 1,
        doc_type=document.doc_type,
        agency_abbreviation=document.agency_abbreviation,
        unit_abbreviation=document.unit_abbreviation,
    )


def _render_document(request: HttpRequest, document: Any, *, error: DomainError | None, action: str) -> HttpResponse:
    agency_id = document.agency_id
    versions = selectors.document_versions(document=document)
    latest = versions[-1] if versions else None
    state = document.state
    may = {
        "draft": state != DocumentState.ISSUED and has_role(request, agency_id, services.DRAFTER_ROLES),
        "submit": state in (DocumentState.DRAFT, DocumentState.RETURNED)
        and has_role(request, agency_id, services.DRAFTER_ROLES),
        "review": state == DocumentState.IN_REVIEW and has_role(request, agency_id, services.REVIEWER_ROLES),
        "sign": state == DocumentState.APPROVED and has_role(request, agency_id, services.SIGNER_ROLES),
        "issue": state == DocumentState.SIGNED and has_role(request, agency_id, services.CLERK_ROLES),
        "send": state == DocumentState.ISSUED
        and document.confidentiality == Confidentiality.NORMAL
        and has_role(request, agency_id, services.CLERK_ROLES),
    }
    sent = selectors.dispatches_of(document=document)
    overdue = {d.pk for d in selectors.dispatches_overdue(sender_id=agency_id) if d.document_id == document.pk}
    recipients: list[Any] = []
    if may["send"]:
        already = {d.recipient_id for d in sent}
        in_force = core.agency_list(day=timezone.localdate())
        recipients = [a for a in in_force if a.pk != agency_id and a.pk not in already]
    signatures = selectors.document_signatures(document=document)
    return render(
        request,
        "office/document_detail.html",
        {
            "document": document,
            "type": doctypes.BY_CODE.get(document.doc_type),
            "versions": versions,
            "latest": latest,
            "reviews": selectors.document_reviews(document=document),
            "signatures": [(s, latest is not None and s.version_id != latest.pk) for s in signatures],
            "dispatches": [(d, d.pk in overdue) for d in sent],
            "states_en": selectors.DOCUMENT_STATES_EN,
            "dispatch_states_en": selectors.DISPATCH_STATES_EN,
            "may": may,
            "number_next": _number_next(document) if may["issue"] else "",
            "recipients": recipients,
            "error": error,
            "errors": by_field(error),
            "action": action,
        },
        status=status_of(error),
    )
