"""/api/v1/reporting: the reporting information system's API (issue 10) — what the officials'
report pages (``/office/bao-cao/``) and the leaders' dashboards (``/dashboard/``) offer, through
the same selectors, services and access rules (``access``): parse, call, render.

Who may call: officials (``x-access: official``) for templates, periods and reports. A report is
read by the officials of its unit's People's Committee (who keep it) and by the leaders of the
committee that reviews it; to anyone else it does not exist (404, as the pages answer). Keeping
(values, submit) and reviewing (return, approve, reopen) are checked again by the services (403
``report_forbidden``). The index of Decision 766 and the plan's targets are the dashboards' own
readers: leaders (role ``leader`` in some agency) and administrators; the OpenAPI vocabulary has
no "leader-or-staff", so they declare ``official-or-staff`` and refuse other officials (403).

Refusals are RFC 9457 problems in the caller's language (``hcmgov.api``). A refusal of the input
that names its fields (a figure breaking the template, a missing reason, a malformed month) is a
422 here, where the pages answer 400 with the same message.

No `from __future__ import annotations` in API modules: ninja reads the annotations at import.
"""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest
from ninja import Path, Query, Router
from ninja.pagination import paginate

from hcmgov.common.access import is_leader_or_staff, is_official
from hcmgov.common.apiauth import AUTH
from hcmgov.common.errors import DomainError, Message
from hcmgov.common.pagination import CappedPages
from hcmgov.common.problem import problems
from hcmgov.reporting import quality, selectors, services
from hcmgov.reporting.models import Report
from hcmgov.reporting.schemas_api import (
    MAX_ID,
    PlanTargetOut,
    QualityIndexOut,
    ReportOut,
    ReportPeriodOut,
    ReportReasonIn,
    ReportSummaryOut,
    ReportTemplateOut,
    ReportValuesIn,
    State,
    agency_score_out,
    index_figure_out,
    target_out,
)

router = Router(tags=["reporting"], auth=AUTH)
OFFICIAL = {"x-access": "official"}
# leaders and administrators, as the dashboards (common.access.is_leader_or_staff), checked in _leader
LEADER_OR_STAFF = {"x-access": "official-or-staff"}
TEMPLATE_CAP = 200
STATE = Query(None, description="Only the reports in this state")
REPORT_ID = Path(..., ge=1, le=MAX_ID, description="The report's id (GET /reporting/reports)")


def _official(request: HttpRequest) -> None:
    if not is_official(request.user):
        raise DomainError("forbidden", Message("Chỉ cán bộ được dùng chức năng này.", "Officials only."), 403)


def _leader(request: HttpRequest) -> None:
    if not is_leader_or_staff(request.user):
        raise DomainError(
            "forbidden",
            Message(
                "Chỉ lãnh đạo cơ quan và quản trị viên được xem số liệu này.", "Agency leaders and administrators only."
            ),
            403,
        )


@contextmanager
def _unprocessable() -> Iterator[None]:
    """A refusal that names the fields at fault (``report_invalid``, ``reason_required``) is a 422
    on the API; the pages keep their 400."""
    try:
        yield
    except DomainError as exc:
        if exc.status == 400 and exc.errors:
            raise dataclasses.replace(exc, status=422) from None
        raise


def _report(request: HttpRequest, report_id: int) -> Report:
    _official(request)
    return selectors.report_by_id(user=request.user, report_id=report_id)


def _detail(request: HttpRequest, report: Report) -> Report:
    """The report as ``ReportOut`` renders it: read again (a service may have changed it), with its
    history and what the caller may do now."""
    report = selectors.report_by_id(user=request.user, report_id=report.pk)
    report.api_events = selectors.report_history(report=report)  # type: ignore[attr-defined]
    report.api_actions = selectors.report_actions(user=request.user, report=report)  # type: ignore[attr-defined]
    return report


# --- templates and periods ------------------------------------------------------------------------


@router.get(
    "/templates",
    response={200: list[ReportTemplateOut], **problems(401, 403)},
    openapi_extra=OFFICIAL,
    summary="Report templates with their indicators",
)
def list_templates(request: HttpRequest) -> Any:
    """Mẫu báo cáo — each template with its indicators in order (code, names, type, unit, how it is
    combined up the hierarchy, bounds), the rules between them and the levels that report."""
    _official(request)
    return list(selectors.template_list()[:TEMPLATE_CAP])


@router.get(
    "/periods",
    response={200: list[ReportPeriodOut], **problems(401, 403, 404, 422)},
    openapi_extra=OFFICIAL,
    summary="Reporting periods with their deadlines",
)
@paginate(CappedPages, page_size=50)
def list_periods(
    request: HttpRequest,
    template: str = Query("", max_length=40, description="A template's code (GET /reporting/templates)"),
) -> Any:
    """Kỳ báo cáo — the periods opened, latest first, each with its cut-off window (Decree
    09/2019/NĐ-CP Art. 12) and each reporting level's last sending day. An unknown template is 404."""
    _official(request)
    return selectors.period_list(template=selectors.template_get(code=template) if template else None)


# --- reports --------------------------------------------------------------------------------------


@router.get(
    "/reports",
    response={200: list[ReportSummaryOut], **problems(401, 403, 422)},
    openapi_extra=OFFICIAL,
    summary="The reports the caller keeps or reviews",
)
@paginate(CappedPages, page_size=50)
def list_reports(
    request: HttpRequest,
    period: int | None = Query(None, ge=1, le=MAX_ID, description="A period's id (GET /reporting/periods)"),
    unit: str = Query("", max_length=8, description="An administrative unit's code"),
    state: State | None = STATE,
) -> Any:
    """Báo cáo — the reports of the caller's units (any role in the unit's People's Committee) and
    those the caller reviews (head or leader of the committee above), latest periods first. The
    count stops at 1,000."""
    _official(request)
    return selectors.report_list_visible(user=request.user, period_id=period, unit_code=unit, status=state or "")


@router.get(
    "/reports/{report_id}",
    response={200: ReportOut, **problems(401, 403, 404, 422)},
    openapi_extra=OFFICIAL,
    summary="A report with its values, state and history",
)
def get_report(request: HttpRequest, report_id: int = REPORT_ID) -> Any:
    """Một báo cáo — its figures (own and of its branch), state, history and what the caller may do.
    Another unit's report is 404."""
    return _detail(request, _report(request, report_id))


@router.put(
    "/reports/{report_id}/values",
    response={200: ReportOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    summary="Fill a report's values (draft, returned or reopened)",
)
def put_values(request: HttpRequest, payload: ReportValuesIn, report_id: int = REPORT_ID) -> Any:
    """Nhập số liệu — each code given replaces the figure kept (null or "" clears it); types and
    ranges are checked now (422 naming each indicator code at fault), required figures and the
    rules between indicators at submission. An approved report is 409 ``report_approved``: reopen it
    first (POST …/reopen, with a reason)."""
    report = _report(request, report_id)
    with _unprocessable():
        services.report_save(report=report, values=payload.values, actor=request.user)
    return _detail(request, report)


@router.post(
    "/reports/{report_id}/submit",
    response={200: ReportOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    summary="Send the report to the level above",
)
def submit(request: HttpRequest, report_id: int = REPORT_ID) -> Any:
    """Gửi báo cáo — refused 422 ``report_invalid`` with every indicator at fault named (a required
    figure missing, a total that is not the sum of its parts…); the totals of the branch are computed
    now from the approved reports below. Late when first sent after the deadline."""
    report = _report(request, report_id)
    with _unprocessable():
        services.report_submit(report=report, actor=request.user)
    return _detail(request, report)


@router.post(
    "/reports/{report_id}/approve",
    response={200: ReportOut, **problems(401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    summary="Approve a submitted report (the level above)",
)
def approve(request: HttpRequest, report_id: int = REPORT_ID) -> Any:
    """Phê duyệt — by a head or leader of the People's Committee above (the top report: its own).
    The city's approved report is queued for the national reporting system."""
    report = _report(request, report_id)
    services.report_approve(report=report, actor=request.user)
    return _detail(request, report)


@router.post(
    "/reports/{report_id}/return",
    response={200: ReportOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    summary="Return a submitted report to its unit, with a reason",
)
def return_report(request: HttpRequest, payload: ReportReasonIn, report_id: int = REPORT_ID) -> Any:
    """Trả lại — by the level above, with a reason (a blank one is 422 ``reason_required``)."""
    report = _report(request, report_id)
    with _unprocessable():
        services.report_return(report=report, reason=payload.reason, actor=request.user)
    return _detail(request, report)


@router.post(
    "/reports/{report_id}/reopen",
    response={200: ReportOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    summary="Reopen an approved report, with a reason (a new version)",
)
def reopen(request: HttpRequest, payload: ReportReasonIn, report_id: int = REPORT_ID) -> Any:
    """Mở lại — by the level above, with a reason: the report can be changed again and counts as
    a new version, to be submitted and approved again."""
    report = _report(request, report_id)
    with _unprocessable():
        services.report_reopen(report=report, reason=payload.reason, actor=request.user)
    return _detail(request, report)


# --- the dashboards -------------------------------------------------------------------------------


@router.get(
    "/quality-index",
    response={200: QualityIndexOut, **problems(401, 403, 404, 422)},
    openapi_extra=LEADER_OR_STAFF,
    summary="The service-quality index of Decision 766/QĐ-TTg, per agency and month",
)
def quality_index(
    request: HttpRequest,
    agency: str = Query("", max_length=32, description="An agency's code: its every indicator too"),
    month: str = Query("", max_length=7, description="YYYY-MM; none: the latest month with figures"),
) -> Any:
    """Chỉ số phục vụ (QĐ 766/QĐ-TTg) — as the dashboard computes it (``reporting.quality``, from the
    cache): each agency's five group scores and total over its measurable indicators; with `agency`,
    that agency alone and its every indicator (formula, counts, rate, points, or why it is not
    measurable). A month without figures is 404 ``index_no_figures``; an unknown agency is 404."""
    _leader(request)
    with _unprocessable():
        table, label, months = selectors.index_read(kind="month", label=month, field="month")
    names = selectors.agency_names()
    rows = None
    if agency:
        rows = {r["indicator"]: r for r in selectors.index_agency_rows(table=table, label=label, code=agency,
                                                                       names=names)}  # fmt: skip
    scores = sorted(selectors.index_scores(table=table, label=label), key=lambda r: r["key"]) if label else []
    if agency:
        scores = [r for r in scores if r["key"] == agency]
    return {
        "month": label or None,
        "months": months,
        "agencies": [agency_score_out(r, names) for r in scores],
        "indicators": None if rows is None else [index_figure_out(i, rows.get(i.key)) for i in quality.INDICATORS],
    }


@router.get(
    "/targets",
    response={200: list[PlanTargetOut], **problems(401, 403)},
    openapi_extra=LEADER_OR_STAFF,
    summary="The plan's targets with their live values",
)
def list_targets(request: HttpRequest) -> Any:
    """Chỉ tiêu kế hoạch — each target of the city's 2021–2025 plan with its 2025 goal and its live
    values (city, agency, level, kind of account; per month where the data has a history), or why
    it is not measurable (``reporting.targets``; cached as the dashboard reads it, at most five
    minutes old)."""
    _leader(request)
    return [target_out(report) for report in selectors.plan_targets_cached()]
