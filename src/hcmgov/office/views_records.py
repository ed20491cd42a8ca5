"""The electronic office's pages for the incoming register (văn bản đến) and work records (hồ sơ
công việc): the register with the documents other agencies sent and not yet registered, a paper
document recorded with the next arrival number (Decree 30/2020, Art. 22), records opened, worked
on by a lead and collaborators, closed and archived (Art. 28–31). Thin: parse, call, render; see
``views`` for the conventions they share."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from hcmgov.common.access import official_required
from hcmgov.common.errors import DomainError, Message
from hcmgov.common.pagination import CappedPaginator
from hcmgov.identity import selectors as identity
from hcmgov.office import dispatches, doctypes, forms, records, selectors, services
from hcmgov.office.models import Confidentiality, DispatchState, RecordState, Urgency
from hcmgov.office.views import (
    PAGE,
    agencies_or_denied,
    agency_ids,
    by_field,
    has_role,
    new_form_post,
    refusal,
    say,
    status_of,
    year_param,
)

RECORD_ACTIONS = {"member", "done", "attach", "close", "archive"}
INCOMING_ACTIONS = {"receive", "processed", "return"}


# --- incoming register ------------------------------------------------------------------------------


def _waiting_act(request: HttpRequest) -> str:
    """Register a document another agency sent as incoming (it acknowledges it as received), or
    report it processed, or return it with a reason (``dispatches``)."""
    wanted = forms.integer(request.POST.get("dispatch"), low=1)
    dispatch = selectors.dispatch_to(agency_ids=agency_ids(request), dispatch_id=wanted) if wanted else None
    if dispatch is None:
        raise Http404("dispatch")
    if not has_role(request, dispatch.recipient_id, services.CLERK_ROLES):
        raise PermissionDenied("office clerk")
    action = request.POST.get("action", "")
    if action == "receive":
        incoming = dispatches.incoming_from_dispatch(dispatch=dispatch, clerk=request.user)
        return say(
            request, f"Đã vào sổ văn bản đến số {incoming.arrival_number}.", f"Registered as {incoming.arrival_number}."
        )
    if action == "processed":
        dispatches.dispatch_acknowledge(dispatch=dispatch, state=DispatchState.PROCESSED)
        return say(request, "Đã báo đã xử lý.", "Reported as processed.")
    dispatches.dispatch_acknowledge(
        dispatch=dispatch, state=DispatchState.RETURNED, reason=forms.text(request, "reason", 500)
    )
    return say(request, "Đã trả lại văn bản.", "The document was returned.")


@official_required
@require_http_methods(["GET", "POST"])
def incoming_list(request: HttpRequest) -> HttpResponse:
    """The incoming register (filters: register, year) and, above it, the documents sent to the
    agency over the exchange and not registered yet, each with its POST actions."""
    ids = agency_ids(request)
    error: DomainError | None = None
    if request.method == "POST":
        if request.POST.get("action", "") not in INCOMING_ACTIONS:
            error = DomainError("action_unknown", Message("Thao tác không hợp lệ.", "Unknown action."), 422)
        else:
            try:
                done = _waiting_act(request)
            except DomainError as exc:
                error = refusal(exc)
            else:
                messages.success(request, done)
                return redirect("eoffice:incoming_list")
    register = request.GET.get("register", "")
    register = register if register in {"", "normal", "confidential"} else ""
    year = year_param(request)
    rows = selectors.incoming_list(
        agency_ids=ids, year=year, confidential=None if not register else register == "confidential"
    )
    page = CappedPaginator(rows, PAGE).get_page(request.GET.get("page"))
    params = {"register": register, "year": str(year or "")}
    return render(
        request,
        "office/incoming_list.html",
        {
            "page": page,
            "params": params,
            "querystring": urlencode({k: v for k, v in params.items() if v}),
            "waiting": selectors.dispatches_waiting(agency_ids=ids),
            "dispatch_states_en": selectors.DISPATCH_STATES_EN,
            "may_register": bool(identity.user_agency_ids(user=request.user, roles=services.CLERK_ROLES)),
            "error": error,
        },
        status=status_of(error),
    )


@official_required
@require_http_methods(["GET", "POST"])
def incoming_new(request: HttpRequest) -> HttpResponse:
    """Record an incoming paper document; the service gives its arrival number."""
    agencies = agencies_or_denied(request, services.CLERK_ROLES, "office clerk")
    error: DomainError | None = None
    if request.method == "POST":
        incoming, error = new_form_post(
            request,
            agencies,
            forms.incoming_form,
            lambda agency, values: services.incoming_register(
                official=request.user,
                agency_id=agency.pk,
                number_symbol=values["number_symbol"],
                issuing_body=values["issuing_body"],
                doc_type=values["doc_type"],
                summary=values["summary"],
                issued_on=values["issued_on"],
                urgency=values["urgency"],
                confidentiality=values["confidentiality"],
                pages=values["pages"],
                electronic=False,
            ),
        )
        if error is None:
            messages.success(
                request,
                say(
                    request,
                    f"Đã vào sổ văn bản đến, số đến {incoming.arrival_number:02d}.",
                    f"Registered with arrival number {incoming.arrival_number:02d}.",
                ),
            )
            return redirect("eoffice:incoming_list")
    return render(
        request,
        "office/incoming_new.html",
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


# --- work records ---------------------------------------------------------------------------------


@official_required
@require_http_methods(["GET"])
def record_list(request: HttpRequest) -> HttpResponse:
    """The agency's work records by state and year, with the late ones on top."""
    ids = agency_ids(request)
    state = request.GET.get("state", "")
    state = state if state in RecordState.values else ""
    year = year_param(request)
    page = CappedPaginator(selectors.records_list(agency_ids=ids, state=state, year=year), PAGE).get_page(
        request.GET.get("page")
    )
    params = {"state": state, "year": str(year or "")}
    return render(
        request,
        "office/record_list.html",
        {
            "page": page,
            "params": params,
            "states": RecordState.choices,
            "states_en": selectors.RECORD_STATES_EN,
            "querystring": urlencode({k: v for k, v in params.items() if v}),
            "late": [r for agency_id in ids for r in selectors.records_late(agency_id=agency_id)],
            "may_open": bool(identity.user_agency_ids(user=request.user, roles=records.RECORD_ROLES)),
        },
    )


def _official_of(agency_id: int, user_id: int | None) -> Any:
    official = identity.agency_official(agency_id=agency_id, user_id=user_id) if user_id else None
    if official is None:
        raise DomainError(
            "official_unknown",
            Message("Cán bộ không thuộc cơ quan này.", "The official does not belong to this agency."),
            422,
        )
    return official


@official_required
@require_http_methods(["GET", "POST"])
def record_new(request: HttpRequest) -> HttpResponse:
    """Open a work record (code from the agency's list of records, title, lead, deadline)."""
    agencies = agencies_or_denied(request, records.RECORD_ROLES, "office records")
    error: DomainError | None = None
    if request.method == "POST":
        record, error = new_form_post(
            request,
            agencies,
            forms.record_form,
            lambda agency, values: records.record_open(
                official=request.user,
                agency_id=agency.pk,
                code=values["code"],
                title=values["title"],
                lead=_official_of(agency.pk, values["lead_id"]),
                deadline=values["deadline"],
            ),
        )
        if error is None:
            messages.success(request, say(request, "Đã mở hồ sơ.", "The record was opened."))
            return redirect("eoffice:record", record.pk)
    officials = {a.pk: identity.agency_officials(agency_id=a.pk) for a in agencies}
    return render(
        request,
        "office/record_new.html",
        {
            "agencies": agencies,
            "officials": [(a, officials[a.pk]) for a in agencies],
            "error": error,
            "errors": by_field(error),
            "posted": request.POST,
        },
        status=status_of(error),
    )


def _record(request: HttpRequest, pk: int) -> Any:
    record = selectors.record_get(agency_ids=agency_ids(request), pk=pk)
    if record is None:
        raise Http404("record")
    return record


def _record_act(request: HttpRequest, record: Any, action: str) -> str:
    user = request.user
    if action == "member":
        member = _official_of(record.agency_id, forms.integer(request.POST.get("member"), low=1))
        raw = request.POST.get("deadline", "")
        deadline = forms.date(raw)
        if raw and deadline is None:
            raise DomainError("date_invalid", Message("Ngày không hợp lệ.", "Not a valid date."), 422)
        records.record_member_add(
            record=record, official=user, member=member, task=forms.text(request, "task", 300), deadline=deadline
        )
        return say(request, "Đã thêm người phối hợp.", "The collaborator was added.")
    if action == "done":
        records.record_member_done(record=record, member=user)
        return say(request, "Đã báo hoàn thành phần việc.", "Your part is reported done.")
    if action == "attach":
        outgoing_id = forms.integer(request.POST.get("outgoing"), low=1)
        incoming_id = forms.integer(request.POST.get("incoming"), low=1)
        paper = forms.integer(request.POST.get("paper_items") or "0", high=1000)
        outgoing = selectors.outgoing_get(agency_ids=[record.agency_id], pk=outgoing_id) if outgoing_id else None
        incoming = (
            selectors.incoming_list(agency_ids=[record.agency_id]).filter(pk=incoming_id).first()
            if incoming_id
            else None
        )
        if (outgoing_id and outgoing is None) or (incoming_id and incoming is None) or paper is None:
            raise DomainError(
                "attach_invalid",
                Message("Văn bản hoặc số lượng không hợp lệ.", "Unknown document or invalid count."),
                422,
            )
        if outgoing is None and incoming is None and not paper:
            raise DomainError(
                "attach_empty",
                Message("Vui lòng chọn văn bản để đưa vào hồ sơ.", "Please choose a document to put in the record."),
                422,
            )
        records.record_attach(record=record, official=user, outgoing=outgoing, incoming=incoming, paper_items=paper)
        return say(request, "Đã đưa văn bản vào hồ sơ.", "The documents were put in the record.")
    if action == "close":
        records.record_close(record=record, official=user)
        return say(request, "Đã kết thúc hồ sơ.", "The record was closed.")
    permanent = request.POST.get("permanent") == "on"
    years_raw = request.POST.get("retention_years", "").strip()
    years = forms.integer(years_raw, low=0, high=10_000) if years_raw else None
    if years_raw and years is None:
        years = 0  # not a number: the service's message about the period
    records.record_archive(record=record, official=user, retention_years=years, permanent=permanent)
    return say(request, "Đã nộp lưu hồ sơ.", "The record was archived.")


@official_required
@require_http_methods(["GET", "POST"])
def record_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A work record: its lead and collaborators with their deadlines, its documents, and the
    actions (add a collaborator, report one's part done, attach documents, close, archive)."""
    record = _record(request, pk)
    error: DomainError | None = None
    action = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in RECORD_ACTIONS:
            error = DomainError("action_unknown", Message("Thao tác không hợp lệ.", "Unknown action."), 422)
        else:
            try:
                done = _record_act(request, record, action)
            except DomainError as exc:
                error = refusal(exc)
            else:
                messages.success(request, done)
                return redirect("eoffice:record", record.pk)
        record = _record(request, pk)
    members = selectors.record_members(record=record)
    outgoing, incoming = selectors.record_documents(record=record)
    active = record.state in (RecordState.OPEN, RecordState.IN_PROGRESS)
    may_work = active and has_role(request, record.agency_id, records.RECORD_ROLES)
    attachable = selectors.documents_attachable(record=record) if may_work else ([], [])
    return render(
        request,
        "office/record_detail.html",
        {
            "record": record,
            "members": members,
            "outgoing": outgoing,
            "incoming": incoming,
            "online": selectors.record_online(record=record),
            "states_en": selectors.RECORD_STATES_EN,
            "may_work": may_work,
            "may_done": active and any(m.official_id == request.user.pk and m.done_at is None for m in members),
            "may_close": active
            and (record.lead_id == request.user.pk or has_role(request, record.agency_id, {"head", "leader"})),
            "may_archive": record.state == RecordState.CLOSED
            and has_role(request, record.agency_id, services.CLERK_ROLES | {"head", "leader"}),
            "officials": identity.agency_officials(agency_id=record.agency_id) if may_work else [],
            "attach_outgoing": attachable[0],
            "attach_incoming": attachable[1],
            "max_years": records.MAX_RETENTION_YEARS,
            "error": error,
            "action": action,
        },
        status=status_of(error),
    )
