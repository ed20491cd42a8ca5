"""Reads of the feedback app: lookup by code and secret, the back office's lists, one dossier's
rating, and the counts the service-quality index of Decision 766/QĐ-TTg is computed from."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterator
from typing import Any

from django.db.models import BooleanField, Case, Count, Q, QuerySet, Value, When
from django.utils import timezone

from hcmgov.common.errors import NotFound
from hcmgov.feedback.models import (
    CATEGORY_EN,
    CONTACTS_EN,
    DISSATISFIED_SCORES,
    HANDLER_ROLES,
    OPEN_STATES,
    REJECT_REASON_EN,
    SCORE_EN,
    STATE_EN,
    Category,
    Contacts,
    Feedback,
    Rating,
    RejectReason,
    Score,
    State,
    Timeliness,
)
from hcmgov.identity import selectors as identity

# value types the pages and the API show, re-exported with the reads
__all__ = [
    "CATEGORY_EN",
    "CONTACTS_EN",
    "HANDLER_ROLES",
    "REJECT_REASON_EN",
    "SCORE_EN",
    "STATE_EN",
    "Category",
    "Contacts",
    "RejectReason",
    "Score",
    "State",
]

LIST_FILTERS = ("open", "overdue", "received", "handling", "answered", "rejected", "all")


def feedback_by_id(*, feedback_id: int) -> Feedback:
    return Feedback.objects.select_related("agency", "author").get(pk=feedback_id)


def feedback_lookup(*, code: str, secret: str) -> Feedback:
    """Public lookup: the feedback whose code and secret (given at submission) both match."""
    code = _code(code)
    feedback = Feedback.objects.select_related("agency").filter(code=code).first() if code else None
    given = str(secret).strip().upper().encode("utf-8", "replace")  # bytes: compare_digest refuses non-ASCII text
    if feedback is None or not hmac.compare_digest(feedback.secret.encode(), given):
        raise NotFound("phản ánh với mã và mã tra cứu này", "Feedback with this code and lookup secret")
    return feedback


def _code(value: Any) -> str:
    """A feedback code as typed, or "" when it cannot be one (PostgreSQL refuses NUL in text)."""
    code = str(value).strip()[:32]
    return "" if "\x00" in code else code


def _with_overdue(qs: QuerySet[Feedback], now: dt.datetime) -> QuerySet[Feedback]:
    """Annotate ``overdue``: still open after its deadline, or closed late."""
    return qs.annotate(
        overdue=Case(
            When(Q(state__in=OPEN_STATES, due_at__lt=now) | Q(timeliness=Timeliness.LATE), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def feedback_handler_agency_ids(*, user: Any) -> list[int]:
    """The agencies whose feedback ``user`` may see and handle (none unless an official)."""
    if getattr(user, "kind", None) != "official":
        return []
    return identity.user_agency_ids(user=user, roles=set(HANDLER_ROLES))


def feedback_list_for_official(
    *, user: Any, state: str = "open", q: str = "", now: dt.datetime | None = None
) -> QuerySet[Feedback]:
    """Feedback sent to the agencies where ``user`` holds a handling role (deny by default: none
    otherwise), with ``overdue`` annotated. ``state``: one of ``LIST_FILTERS``; open feedback
    comes soonest deadline first."""
    now = now or timezone.now()
    qs = _with_overdue(
        Feedback.objects.filter(agency_id__in=feedback_handler_agency_ids(user=user)).select_related("agency"), now
    )
    if state == "open":
        qs = qs.filter(state__in=OPEN_STATES)
    elif state == "overdue":
        qs = qs.filter(state__in=OPEN_STATES, due_at__lt=now)
    elif state in State.values:
        qs = qs.filter(state=state)
    q = q.strip()
    if q:
        qs = qs.filter(Q(code__startswith=q.upper()) | Q(dossier_code__startswith=q) | Q(subject__icontains=q))
    if state in ("open", "overdue", State.RECEIVED, State.HANDLING):
        return qs.order_by("due_at", "id")
    return qs.order_by("-received_at", "-id")


def feedback_list_for_author(*, user: Any) -> QuerySet[Feedback]:
    """What a signed-in citizen or business sent, newest first."""
    if not getattr(user, "is_authenticated", False):
        return Feedback.objects.none()
    return (
        _with_overdue(Feedback.objects.filter(author=user), timezone.now())
        .select_related("agency")
        .order_by("-received_at", "-id")
    )


def feedback_for_official(*, user: Any, code: str) -> Feedback:
    """One feedback of an agency where ``user`` may handle feedback; otherwise not found (not
    403: the code of another agency's feedback is not confirmed to exist)."""
    feedback = (
        _with_overdue(Feedback.objects.select_related("agency", "author"), timezone.now())
        .filter(code=_code(code), agency_id__in=feedback_handler_agency_ids(user=user))
        .first()
    )
    if feedback is None:
        raise NotFound("phản ánh", "Feedback")
    return feedback


def rating_for_dossier(*, dossier_id: int) -> Rating | None:
    return Rating.objects.filter(dossier_id=dossier_id).first()


# --- for the statistics (reporting, the service-quality index) -------------------------------------


def _period(qs: QuerySet[Any], field: str, start: dt.date | None, end: dt.date | None) -> QuerySet[Any]:
    if start:
        qs = qs.filter(**{f"{field}__date__gte": start})
    if end:
        qs = qs.filter(**{f"{field}__date__lte": end})
    return qs


def feedback_counts(
    *, agency_ids: list[int] | None = None, start: dt.date | None = None, end: dt.date | None = None
) -> dict[str, int]:
    """Feedback received in the period (by ``received_at``): total, by category, closed on time
    and late, still open, open past the deadline, and answers rated "not satisfied" (1–2) — the
    inputs of the feedback indicators of Decision 766/QĐ-TTg (classification, handled on time,
    satisfaction with the handling)."""
    qs = _period(Feedback.objects.all(), "received_at", start, end)
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    now = timezone.now()
    counts = qs.aggregate(
        total=Count("id"),
        regulation=Count("id", filter=Q(category=Category.REGULATION)),
        conduct=Count("id", filter=Q(category=Category.CONDUCT)),
        on_time=Count("id", filter=Q(timeliness=Timeliness.ON_TIME)),
        late=Count("id", filter=Q(timeliness=Timeliness.LATE)),
        open=Count("id", filter=Q(state__in=OPEN_STATES)),
        open_overdue=Count("id", filter=Q(state__in=OPEN_STATES, due_at__lt=now)),
        rated=Count("id", filter=Q(answer_score__isnull=False)),
        dissatisfied=Count("id", filter=Q(answer_score__in=DISSATISFIED_SCORES)),
    )
    return {k: int(v or 0) for k, v in counts.items()}


def rating_counts(
    *, agency_ids: list[int] | None = None, start: dt.date | None = None, end: dt.date | None = None
) -> dict[int, int]:
    """Ratings of dossiers given in the period, by score (1–5; every score present, 0 if none)."""
    qs = _period(Rating.objects.all(), "rated_at", start, end)
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    found = dict(qs.values_list("score").annotate(n=Count("id")).values_list("score", "n"))
    return {score: int(found.get(score, 0)) for score in Score.values}


def feedback_figures_by_agency_month(*, start: dt.date | None = None) -> list[dict[str, Any]]:
    """Per month received (city time) and agency code: feedback closed (answered or rejected), closed
    on time, answers rated by their author, and those rated "not satisfied" — the inputs of the
    satisfaction group of the service-quality index (reporting.quality), in one grouped query."""
    from django.db.models.functions import TruncMonth

    qs = Feedback.objects.all()
    if start:
        qs = qs.filter(received_at__date__gte=start)
    tz = timezone.get_default_timezone()
    rows = (
        qs.annotate(m=TruncMonth("received_at", tzinfo=tz))
        .values("m", "agency__code")
        .order_by("m", "agency__code")
        .annotate(
            closed=Count("id", filter=Q(timeliness__in=(Timeliness.ON_TIME, Timeliness.LATE))),
            on_time=Count("id", filter=Q(timeliness=Timeliness.ON_TIME)),
            rated=Count("id", filter=Q(answer_score__isnull=False)),
            dissatisfied=Count("id", filter=Q(answer_score__in=DISSATISFIED_SCORES)),
        )
    )
    return [
        {
            "month": f"{r['m']:%Y-%m}",
            "agency_code": r["agency__code"],
            **{k: int(r[k]) for k in ("closed", "on_time", "rated", "dissatisfied")},
        }
        for r in rows
    ]


# --- the analytics warehouse's extract (hcmgov.warehouse): scores only, no comment or applicant -----

WAREHOUSE_RATING_COLUMNS = (
    "dossier_code", "agency__code", "procedure__code", "score", "contacts", "publicity", "attitude", "online",
    "rated_at",
)  # fmt: skip


def warehouse_rating_months(*, since: dt.datetime | None = None) -> set[tuple[int, int]]:
    """(year, month), city time, of the ratings given at or after ``since`` (all without it); a
    rating is given once and never changed (``services.rating_submit``)."""
    from django.db.models.functions import TruncMonth

    qs = Rating.objects.all() if since is None else Rating.objects.filter(rated_at__gte=since)
    tz = timezone.get_default_timezone()
    months = qs.annotate(m=TruncMonth("rated_at", tzinfo=tz)).values_list("m", flat=True).order_by().distinct()
    return {(m.year, m.month) for m in months}


def warehouse_rating_rows(*, start: dt.datetime, end: dt.datetime, chunk_size: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Ratings given in [start, end), as tuples of ``WAREHOUSE_RATING_COLUMNS``, streamed."""
    qs = Rating.objects.filter(rated_at__gte=start, rated_at__lt=end).order_by("id")
    return qs.values_list(*WAREHOUSE_RATING_COLUMNS).iterator(chunk_size=chunk_size)
