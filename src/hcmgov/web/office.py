"""Pages of the back office: work queues, search, the dossier with its steps and legal clock, the
unit head's view, printed forms 05/06, and flow versions. Thin: parse, call, render."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from hcmgov.catalog import flows as flow_rules
from hcmgov.catalog import selectors as catalog
from hcmgov.catalog import services as catalog_services
from hcmgov.common.access import official_required, staff_required
from hcmgov.common.errors import DomainError, Message, NotFound
from hcmgov.common.pagination import CappedPaginator
from hcmgov.core import selectors as core
from hcmgov.core.workcalendar import default_calendar
from hcmgov.documents import selectors as documents_read
from hcmgov.documents import services as store
from hcmgov.dossiers import documents, selectors, services
from hcmgov.dossiers.selectors import QUEUES, STATUS_EN, Status
from hcmgov.identity import selectors as identity
from hcmgov.payments import selectors as payment_selectors
from hcmgov.payments import services as payment_services
from hcmgov.postal import selectors as postal_read
from hcmgov.registry import services as registry
from hcmgov.web import schemaform
from hcmgov.web.responses import pdf_response, visible_dossier

PAGE = 25


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((value or "").strip()[:10]) if value else None
    except ValueError:
        return None


@official_required
@require_http_methods(["GET", "POST"])
def queues(request: HttpRequest) -> HttpResponse:
    """Work queues: mine, waiting to be taken, to receive, due today, overdue, awaiting supplement.
    POST takes (assigns to oneself) the chosen steps, or — for a head — assigns them to an official."""
    counts = selectors.queue_counts(user=request.user)
    default = "receive" if counts["receive"] and not counts["mine"] else "mine"
    queue = request.GET.get("queue", default)
    if queue not in QUEUES:
        queue = default
    error = None
    if request.method == "POST":
        step_ids = [int(x) for x in request.POST.getlist("step") if x.isdigit()][:500]
        assignee_name = request.POST.get("assignee", "").strip()[:150]
        assignee = identity.user_by_username(username=assignee_name) if assignee_name else request.user
        try:
            if assignee is None:
                raise DomainError("assignee_unknown", Message("Không tìm thấy cán bộ.", "No such official."), 422)
            services.step_assign(step_ids=step_ids, assignee=assignee, by=request.user)
        except DomainError as exc:
            error = exc
        else:
            return redirect(f"{reverse('web:office')}?{urlencode({'queue': queue})}")
    page = CappedPaginator(selectors.step_queue(user=request.user, queue=queue), PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/office_queue.html",
        {
            "queue": queue,
            "queues": [(k, v[0], v[1], counts[k]) for k, v in QUEUES.items()],
            "cap": selectors.COUNT_CAP,
            "page": page,
            "now": timezone.now(),
            "querystring": urlencode({"queue": queue}),
            "error": error,
            "is_head": any(role == "head" for _, role in identity.user_role_pairs(user=request.user)),
        },
        status=422 if error else 200,
    )


@official_required
@require_http_methods(["GET"])
def search(request: HttpRequest) -> HttpResponse:
    """Search the agency's dossiers by code, applicant, procedure, status and dates."""
    params = {k: request.GET.get(k, "")[:100] for k in ("code", "applicant", "procedure", "status", "from", "to")}
    status = int(params["status"]) if params["status"].isdigit() and int(params["status"]) in Status.values else None
    results = selectors.dossier_search(
        user=request.user,
        code=params["code"][:48],
        applicant=params["applicant"],
        procedure=params["procedure"][:16],
        status=status,
        submitted_from=_date(params["from"]),
        submitted_to=_date(params["to"]),
    )
    page = CappedPaginator(results, PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/office_search.html",
        {
            "page": page,
            "params": params,
            "status": status,
            "statuses": Status.choices,
            "status_en": STATUS_EN,
            "querystring": urlencode({k: v for k, v in params.items() if v}),
        },
    )


ACTIONS = {"act", "send_back", "supplement", "take", "comment", "apologize", "stop", "withdraw", "cash", "digitise"}


@official_required
@require_http_methods(["GET", "POST"])
def dossier(request: HttpRequest, code: str) -> HttpResponse:
    """The dossier as officials see it: the legal clock, the open step and what its holder may
    decide, the steps so far (Form 05), the timeline, documents, internal comments."""
    item = visible_dossier(request, code)
    error = None
    if request.method == "POST":
        try:
            _post(request, item)
        except DomainError as exc:
            error = exc
        else:
            return redirect(reverse("web:office_dossier", args=[item.code]))
        item = visible_dossier(request, code)
    steps = selectors.dossier_steps(dossier=item)
    spec = catalog.flow_spec(flow_id=item.flow_id) if item.flow_id else None
    open_steps = [
        {"step": s, "actions": [(a, flow_rules.ACTIONS[a]) for a in spec.steps[s.key].actions] if spec else []}
        for s in steps
        if s.state == "open"
    ]
    calendar = default_calendar()
    now = timezone.now()
    left = calendar.working_hours_between(now, item.due_at) if item.status in {2, 4, 5} else None
    return render(
        request,
        "web/office_dossier.html",
        {
            "dossier": item,
            "steps": steps,
            "open_steps": open_steps,
            "events": selectors.dossier_events(dossier=item),
            "comments": selectors.dossier_comments(dossier=item),
            "supplements": selectors.dossier_supplement_requests(dossier=item),
            "apologies": selectors.dossier_apologies(dossier=item),
            "error": error,
            "documents": list(item.documents.all()),
            "digitised": {c.blob.sha256: c for c in documents_read.component_of_dossier(dossier_code=item.code)},
            "fields": schemaform.build(item.procedure_version.form_schema, item.form_data),
            "hours_left": round(left.total_seconds() / 3600, 1) if left is not None else None,
            "roles": flow_rules.ROLES,
            "orders": payment_selectors.dossier_orders(dossier_id=item.pk),
            "deliveries": postal_read.dossier_deliveries(dossier_id=item.pk),
            "fact_checks": registry.dossier_fact_checks_read(dossier_id=item.pk),
        },
        status=409 if error else 200,
    )


def _post(request: HttpRequest, item: Any) -> None:
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        raise Http404(action)
    step_id = int(request.POST["step"]) if request.POST.get("step", "").isdigit() else 0
    note = request.POST.get("note", "")[:4000]
    official = request.user
    if action == "act":
        services.dossier_decide(
            dossier=item, official=official, step_id=step_id, action=request.POST.get("decision", "")[:16], note=note
        )
    elif action == "send_back":
        services.dossier_send_back(dossier=item, official=official, step_id=step_id, reason=note)
    elif action == "supplement":
        items = []
        for line in request.POST.get("items", "")[:8000].splitlines():
            document, _, reason = line.partition("|")
            items.append({"document": document, "reason": reason})
        services.dossier_request_supplement(dossier=item, official=official, step_id=step_id, items=items, note=note)
    elif action == "take":
        services.step_assign(step_ids=[step_id], assignee=official, by=official)
    elif action == "comment":
        services.dossier_comment(dossier=item, official=official, text=note)
    elif action == "apologize":
        new_date = _date(request.POST.get("new_date"))
        if new_date is None:
            raise DomainError(
                "bad_date", Message("Vui lòng chọn ngày hẹn mới.", "Please choose the new appointment date."), 422
            )
        services.dossier_apologize(dossier=item, official=official, reason=note, new_date=new_date)
    elif action == "stop":
        services.dossier_stop(dossier=item, official=official, reason=note)
    elif action == "withdraw":
        services.dossier_withdraw(dossier=item, by=official, reason=note)
    elif action == "cash":  # fees paid in cash at the desk
        order_id = int(request.POST["order"]) if request.POST.get("order", "").isdigit() else 0
        order = payment_services.order_for_official(order_id=order_id, official=official)
        if order.dossier_id != item.pk:
            raise Http404(str(order_id))
        payment_services.order_pay_cash(order=order, official=official)
    elif action == "digitise":  # a document of the dossier into the applicant's data store
        document_id = int(request.POST["document"]) if request.POST.get("document", "").isdigit() else 0
        try:
            paper, data = selectors.dossier_document_content(dossier=item, document_id=document_id)
        except NotFound:
            raise Http404(str(document_id)) from None
        names = {d["code"]: d for d in item.procedure_version.required_documents}
        required = names.get(paper.requirement, {})
        store.component_digitise(
            official=official,
            agency_id=item.agency_id,
            owner=item.applicant,
            doc_type=paper.requirement,
            title=required.get("name") or paper.filename,
            title_en=required.get("name_en") or "",
            filename=paper.filename,
            data=data,
            dossier_code=item.code,
        )


@official_required
@require_http_methods(["GET"])
def control_sheet_pdf(request: HttpRequest, code: str) -> HttpResponse:
    """Form 05, from the dossier's steps."""
    item = visible_dossier(request, code)
    return pdf_response(
        documents.control_sheet_pdf(item, selectors.dossier_steps(dossier=item)),
        f"phieu-kiem-soat-{item.code}.pdf",
    )


@official_required
@require_http_methods(["GET"])
def log_book_pdf(request: HttpRequest) -> HttpResponse:
    """Form 06: the log book of an agency's dossiers received in a period (at most a month)."""
    today = timezone.localdate()
    start = _date(request.GET.get("from")) or today.replace(day=1)
    end = min(_date(request.GET.get("to")) or today, start + dt.timedelta(days=31))
    agencies = identity.user_agency_ids(user=request.user)
    chosen = int(request.GET["agency"]) if request.GET.get("agency", "").isdigit() else (agencies or [0])[0]
    if chosen not in agencies:
        raise Http404("agency")
    agency = core.agency_list().get(pk=chosen)
    found = selectors.dossier_search(user=request.user, submitted_from=start, submitted_to=end).filter(agency_id=chosen)
    rows = list(found.select_related("applicant").order_by("submitted_at", "id")[:2000])
    return pdf_response(
        documents.log_book_pdf(agency, start, end, rows), f"so-theo-doi-{start:%Y%m%d}-{end:%Y%m%d}.pdf"
    )


@official_required
@require_http_methods(["GET"])
def unit(request: HttpRequest) -> HttpResponse:
    """The unit head's view: open steps per official, and early / on-time / late for a period."""
    agencies = [a for a, role in identity.user_role_pairs(user=request.user) if role in {"head", "agency_admin"}]
    if not agencies:
        raise Http404("unit")
    today = timezone.localdate()
    start = _date(request.GET.get("from")) or today.replace(day=1)
    end = _date(request.GET.get("to")) or today
    agency = core.agency_list().get(pk=agencies[0])
    load = selectors.unit_load(agency_id=agency.pk)
    names = {u.pk: u for u in identity.users_with_role(agency_id=agency.pk, roles=set(flow_rules.ROLES))}
    by_official = selectors.processing_statistics(
        start=start, end=end, kind="step", by="official_id", agency_ids=[agency.pk], user=request.user
    )
    by_procedure = selectors.processing_statistics(
        start=start, end=end, by="procedure_id", agency_ids=[agency.pk], user=request.user
    )
    return render(
        request,
        "web/office_unit.html",
        {
            "agency": agency,
            "start": start,
            "end": end,
            "load": [(names.get(a) if a else None, n, late) for a, n, late in load],
            "by_official": [(names.get(s.key), s) for s in by_official],
            "by_procedure": by_procedure,
            "total": selectors.processing_statistics(
                start=start, end=end, by="agency_id", agency_ids=[agency.pk], user=request.user
            ),
            "reuse": selectors.documents_reused(
                start=_day_start(start), end=_day_start(end + dt.timedelta(days=1)), agency_ids=[agency.pk]
            ),
        },
    )


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


@staff_required
@require_http_methods(["GET", "POST"])
def flows(request: HttpRequest, code: str) -> HttpResponse:
    """Flow versions of a procedure; upload a new one drawn in any BPMN modeller."""
    try:
        procedure = catalog.procedure_get(code=code)
    except NotFound:
        raise Http404(code) from None
    error = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise DomainError(
                    "file_required", Message("Vui lòng chọn tệp BPMN.", "Please choose a BPMN file."), 400
                )
            catalog_services.flow_upload(
                procedure=procedure,
                content=upload.read(catalog_services.FLOW_MAX_BYTES + 1),
                filename=upload.name or "flow.bpmn",
                uploaded_by_label=request.user.get_username(),
            )
        except DomainError as exc:
            error = exc
        else:
            return redirect(reverse("web:office_flows", args=[code]))
    return render(
        request,
        "web/office_flows.html",
        {"procedure": procedure, "versions": catalog.flow_list(procedure_id=procedure.pk), "error": error},
        status=422 if error else 200,
    )
