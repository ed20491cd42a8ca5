"""Who may act on a report (deny by default): a unit's report is kept and submitted by the
officials of the unit's People's Committee (any role there); it is reviewed — returned, approved,
reopened — by the leaders (``head``, ``leader``) of the People's Committee of the unit whose report
is its parent; a report with no parent (the city's) by the leaders of its own People's Committee.
Services check it when given an actor (pages and API always give one; commands and the worker
act as the system and give none)."""

from __future__ import annotations

from typing import Any

from hcmgov.common.errors import DomainError, Message
from hcmgov.core import selectors as core
from hcmgov.identity import selectors as identity
from hcmgov.reporting.models import Report

PEOPLES_COMMITTEES = ["city_pc", "district_pc", "commune_pc"]
REVIEWERS = {"head", "leader"}
KEEP, REVIEW = "keep", "review"


def _agencies(unit_code: str, report: Report) -> set[int]:
    """The People's Committees of the unit as they stood at the end of the period's cut-off (a
    2021 district's committee still acts for its reports after 1 Jul 2025)."""
    day = report.period.cutoff_end
    return set(core.unit_agency_ids(unit_code=unit_code, kinds=PEOPLES_COMMITTEES, day=day))


def report_may(*, user: Any, report: Report, action: str) -> bool:
    """Whether ``user`` may ``keep`` (save, refill, submit) or ``review`` (return, approve,
    reopen) ``report``."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if action == KEEP:
        return bool(_agencies(report.unit_code, report) & set(identity.user_agency_ids(user=user)))
    if action == REVIEW:
        reviewer = report.parent.unit_code if report.parent_id is not None and report.parent else report.unit_code
        return bool(_agencies(reviewer, report) & set(identity.user_agency_ids(user=user, roles=REVIEWERS)))
    raise ValueError(action)


def report_check(*, user: Any, report: Report, action: str) -> None:
    """``report_may`` or a refusal (403). ``user`` None: the system acting (no check)."""
    if user is None:
        return
    if not report_may(user=user, report=report, action=action):
        raise DomainError(
            "report_forbidden",
            Message(
                f"Bạn không có quyền {'lập' if action == KEEP else 'xem xét'} báo cáo của đơn vị {report.unit_code}.",
                f"You may not {'keep' if action == KEEP else 'review'} the report of unit {report.unit_code}.",
            ),
            403,
        )
