"""The officials' pages of the reporting cycle (issue 10, part 2): my unit's reports and those
waiting for my review; a report with its indicators, the draft and submission form, the totals of
its branch, its history; the review by the level above (return, approve, reopen). Thin: parse,
call the services (which check ``access`` with the acting official), render. No JavaScript: forms
post and redirect (POST-redirect-GET); a refusal shows the same form with each error by its field."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from hcmgov.common.access import official_required
from hcmgov.common.errors import DomainError, Message, NotFound
from hcmgov.reporting import rules, selectors, services
from hcmgov.reporting.access import KEEP, REVIEW, report_may

LIST_CAP = 200
RAW_CAP = rules.RAW_CAP  # characters of one typed figure (a remark included)
# where a prefilled figure comes from (``Indicator.prefill``, reporting.prefill.SOURCES)
SOURCE_LABELS = {
    "dossiers_received": ("hồ sơ tiếp nhận trên Cổng dịch vụ công", "dossiers received on the platform"),
    "dossiers_finished": ("hồ sơ đã giải quyết trên Cổng dịch vụ công", "dossiers finished on the platform"),
    "dossiers_finished_on_time": (
        "hồ sơ giải quyết đúng hạn trên Cổng dịch vụ công",
        "dossiers finished on time on the platform",
    ),
}
STATUS_EN, ACTION_LABELS = selectors.STATUS_EN, selectors.ACTION_LABELS
KEEP_ACTIONS = {"save", "submit", "refill"}
REVIEW_ACTIONS = {"return", "approve", "reopen"}


def _say(request: HttpRequest, vi: str, en: str) -> str:
    return Message(vi, en).in_language(getattr(request, "LANGUAGE_CODE", None))


def _report(request: HttpRequest, template: str, period: str, unit: str) -> Any:
    """The report, when ``request.user`` keeps or reviews it; 404 otherwise (its existence is
    not revealed to others): ``selectors.report_for``, as the API reads it."""
    try:
        return selectors.report_for(user=request.user, template_code=template, period_key=period, unit_code=unit)
    except NotFound:
        raise Http404(unit) from None


def _may_review(request: HttpRequest, report: Any) -> bool:
    return report_may(user=request.user, report=report, action=REVIEW)


def _url(report: Any) -> str:
    return reverse("reports:report", args=[report.period.template.code, report.period.key, report.unit_code])


def _late_now(report: Any, today: Any) -> bool:
    return selectors.report_late_now(report=report, today=today)


@official_required
@require_http_methods(["GET"])
def report_list(request: HttpRequest) -> HttpResponse:
    """My unit's reports by period, and the reports waiting for my review."""
    today = timezone.localdate()
    kept = list(selectors.report_list_kept(user=request.user)[:LIST_CAP])
    waiting = list(selectors.report_list_to_review(user=request.user)[:LIST_CAP])
    return render(
        request,
        "reporting/report_list.html",
        {
            "kept": [(r, _url(r), _late_now(r, today)) for r in kept],
            "waiting": [(r, _url(r), _late_now(r, today)) for r in waiting],
            "status_en": STATUS_EN,
            "cap": LIST_CAP,
        },
    )


def _typed(request: HttpRequest, lines: list[Any]) -> dict[str, str]:
    """The figures typed in the form, by indicator code (ratios are computed, never read)."""
    return {
        line.indicator.code: request.POST.get(f"v_{line.indicator.code}", "").strip()[:RAW_CAP]
        for line in lines
        if line.indicator.aggregation != "ratio"
    }


@official_required
@require_http_methods(["GET", "POST"])
def report_detail(request: HttpRequest, template: str, period: str, unit: str) -> HttpResponse:
    """A report: its indicators, the draft / submit form for its unit, the review for the level
    above, the totals of its branch and its history."""
    report = _report(request, template, period, unit)
    lines = selectors.template_lines(template=report.period.template)
    error: DomainError | None = None
    typed: dict[str, str] | None = None
    kept_draft = False
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in KEEP_ACTIONS:
            raise Http404(action)
        if not report_may(user=request.user, report=report, action=KEEP):
            raise PermissionDenied("report keep")
        typed = _typed(request, lines)
        try:
            if action == "refill":
                services.report_refill(report=report, actor=request.user)
                done = _say(request, "Đã lấy lại số liệu từ hệ thống.", "The platform's figures were read again.")
            elif action == "save":
                services.report_save(report=report, values=typed, actor=request.user)
                done = _say(request, "Đã lưu bản nháp.", "The draft was saved.")
            else:
                # the figures as typed, then the submission (a refused submission keeps the draft)
                saved = services.report_save(report=report, values=typed, actor=request.user)
                kept_draft = True
                services.report_submit(report=saved, actor=request.user)
                done = _say(request, "Đã gửi báo cáo lên cấp trên.", "The report was sent to the level above.")
        except DomainError as exc:
            if exc.status in (403, 404):
                raise PermissionDenied(exc.code) from None
            error = exc
        else:
            messages.success(request, done)
            return redirect(_url(report))
        report = _report(request, template, period, unit)
    return _render(request, report, lines, error=error, typed=typed, kept_draft=kept_draft)


@official_required
@require_http_methods(["POST"])
def report_review(request: HttpRequest, template: str, period: str, unit: str) -> HttpResponse:
    """The level above decides on a report: return it (with a reason) or approve it; reopen an
    approved one (with a reason: a new version)."""
    report = _report(request, template, period, unit)
    action = request.POST.get("action", "")
    if action not in REVIEW_ACTIONS:
        raise Http404(action)
    if not _may_review(request, report):
        raise PermissionDenied("report review")
    reason = request.POST.get("reason", "")[:4000]
    try:
        if action == "return":
            services.report_return(report=report, reason=reason, actor=request.user)
            done = _say(request, "Đã trả lại báo cáo.", "The report was returned.")
        elif action == "approve":
            services.report_approve(report=report, actor=request.user)
            done = _say(request, "Đã phê duyệt báo cáo.", "The report was approved.")
        else:
            services.report_reopen(report=report, reason=reason, actor=request.user)
            done = _say(request, "Đã mở lại báo cáo (phiên bản mới).", "The report was reopened (a new version).")
    except DomainError as exc:
        if exc.status in (403, 404):
            raise PermissionDenied(exc.code) from None
        report = _report(request, template, period, unit)
        lines = selectors.template_lines(template=report.period.template)
        return _render(request, report, lines, error=exc, reason=reason)
    messages.success(request, done)
    return redirect(_url(report))


def _render(
    request: HttpRequest,
    report: Any,
    lines: list[Any],
    *,
    error: DomainError | None = None,
    typed: dict[str, str] | None = None,
    kept_draft: bool = False,
    reason: str = "",
) -> HttpResponse:
    by_field = {e.field: e for e in (error.errors if error else [])}
    rows = []
    for line in lines:
        ind = line.indicator
        shown = typed.get(ind.code) if typed is not None and ind.code in typed else report.values.get(ind.code)
        rows.append(
            {
                "code": ind.code,
                "name": ind.name,
                "name_en": ind.name_en,
                "unit": ind.unit,
                "type": ind.type,
                "type_label": ind.get_type_display(),
                "computed": ind.aggregation == "ratio",
                "required": line.required,
                "value": "" if shown is None else shown,
                "prefilled": ind.code in report.prefilled and ind.code in report.values,
                "source": SOURCE_LABELS.get(ind.prefill),
                "error": by_field.get(ind.code),
                "total": report.totals.get(ind.code) if report.totals else None,
            }
        )
    may = selectors.report_actions(user=request.user, report=report)
    history = [(e, ACTION_LABELS.get(e.action, (e.action, e.action))) for e in selectors.report_history(report=report)]
    period = report.period  # the children's too: their links without reading it again for each
    children = [
        (c, reverse("reports:report", args=[period.template.code, period.key, c.unit_code]))
        for c in selectors.report_list(period=period, parent=report)
    ]
    status = 200 if error is None else (error.status if 400 <= error.status < 500 else 422)
    return render(
        request,
        "reporting/report_detail.html",
        {
            "report": report,
            "rows": rows,
            "error": error,
            "reason_error": by_field.get("reason"),
            "kept_draft": kept_draft,
            "can_edit": may["edit"],
            "can_decide": may["decide"],
            "can_reopen": may["reopen"],
            "reason": reason,
            "history": history,
            "children": children,
            "late_now": _late_now(report, timezone.localdate()),
            "status_en": STATUS_EN,
            "has_totals": bool(report.totals or report.coverage),
        },
        status=status,
    )
