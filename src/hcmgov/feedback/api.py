"""/api/v1/feedback (phản ánh, kiến nghị) and /api/v1/ratings (satisfaction with a dossier's
settlement). Schemas and routes only: the rules are in ``services``.

No `from __future__ import annotations` in API modules: ninja reads the annotations at import.
"""

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Header, Query, Router, Schema
from ninja import Status as Answer
from ninja.errors import AuthenticationError
from ninja.pagination import paginate
from ninja.utils import check_csrf

from hcmgov.common import ratelimit
from hcmgov.common.access import is_applicant_or_official
from hcmgov.common.apiauth import AUTH, BearerToken
from hcmgov.common.errors import DomainError, Message
from hcmgov.common.pagination import Pages
from hcmgov.common.problem import problems
from hcmgov.feedback import selectors, services
from hcmgov.feedback.models import Feedback, Rating

router = Router(tags=["feedback"])
APPLICANT = {"x-access": "applicant"}
OFFICIAL = {"x-access": "official"}
SIGNED_IN = {"x-access": "applicant-or-official"}
PUBLIC = {"x-access": "public"}

ScoreValue = Literal[1, 2, 3, 4, 5]


class FeedbackIn(Schema):
    agency: str = Field(max_length=32, description="Code of the agency the feedback is for")
    subject: str = Field(max_length=200)
    text: str = Field(max_length=5000)
    category: Literal["regulation", "conduct"] = Field(
        "regulation", description="About regulations and procedures, or about officials' conduct"
    )
    dossier: str = Field("", max_length=48, description="Code of the dossier it is about, if any")
    dossier_secret: str = Field(
        "", max_length=16, description="Without an account: the dossier's lookup secret, to link it"
    )
    name: str = Field("", max_length=150, description="Without an account: your name (required)")
    email: str = Field("", max_length=254, description="Without an account: e-mail or phone is required")
    phone: str = Field("", max_length=20)


class FeedbackOut(Schema):
    """What anyone holding the code and secret sees: no personal data of the author."""

    code: str
    agency: str
    agency_name: str
    agency_name_en: str
    category: str
    subject: str
    text: str
    dossier: str
    state: str
    state_name: str
    state_name_en: str
    received_at: dt.datetime
    due_at: dt.datetime
    closed_at: dt.datetime | None
    answer: str
    reject_reason: str
    reject_note: str
    answer_score: int | None

    @staticmethod
    def resolve_agency(obj: Feedback) -> str:
        return obj.agency.code

    @staticmethod
    def resolve_agency_name(obj: Feedback) -> str:
        return obj.agency.name

    @staticmethod
    def resolve_agency_name_en(obj: Feedback) -> str:
        return obj.agency.name_en

    @staticmethod
    def resolve_dossier(obj: Feedback) -> str:
        return obj.dossier_code

    @staticmethod
    def resolve_state_name(obj: Feedback) -> str:
        return str(selectors.State(obj.state).label)

    @staticmethod
    def resolve_state_name_en(obj: Feedback) -> str:
        return selectors.STATE_EN[selectors.State(obj.state)]


class FeedbackSubmittedOut(FeedbackOut):
    secret: str = Field(description="Shown once: with the code, opens the lookup and the rating of the answer")


class OfficeFeedbackOut(FeedbackOut):
    """The author's contact details and the handling, for the agency's officials (and the author)."""

    author_name: str
    author_email: str
    author_phone: str
    handler: str
    timeliness: str
    overdue: bool

    @staticmethod
    def resolve_handler(obj: Feedback) -> str:
        return obj.handler_label

    @staticmethod
    def resolve_overdue(obj: Any) -> bool:
        return bool(getattr(obj, "overdue", False))


class FeedbackAnswerIn(Schema):
    answer: str = Field(max_length=5000)


class FeedbackRejectIn(Schema):
    reason: Literal["out_of_scope", "duplicate", "abusive"]
    note: str = Field("", max_length=2000, description="For a duplicate: the code of the first feedback")


class FeedbackRatingIn(Schema):
    secret: str = Field(max_length=16, description="The secret given at submission")
    score: ScoreValue = Field(description="1 very dissatisfied … 5 very satisfied")
    comment: str = Field("", max_length=1000)


class RatingIn(Schema):
    dossier: str = Field(max_length=48, description="Code of your dossier, result returned (status 10)")
    score: ScoreValue = Field(description="1 very dissatisfied … 5 very satisfied")
    comment: str = Field("", max_length=1000)
    contacts: Literal[0, 1, 2] | None = Field(None, description="Times you contacted the desk to complete it (2: 2+)")
    publicity: ScoreValue | None = Field(None, description="How clearly the procedure was made public")
    attitude: ScoreValue | None = Field(None, description="The officials' attitude")
    online: ScoreValue | None = Field(None, description="Progress and quality of the online service")


class RatingOut(Schema):
    dossier: str
    score: int
    score_name: str
    score_name_en: str
    comment: str
    contacts: int | None
    publicity: int | None
    attitude: int | None
    online: int | None
    rated_at: dt.datetime

    @staticmethod
    def resolve_dossier(obj: Rating) -> str:
        return obj.dossier_code

    @staticmethod
    def resolve_score_name(obj: Rating) -> str:
        return str(selectors.Score(obj.score).label)

    @staticmethod
    def resolve_score_name_en(obj: Rating) -> str:
        return selectors.SCORE_EN[selectors.Score(obj.score)]


_bearer = BearerToken()


def _caller(request: HttpRequest) -> Any | None:
    """Who sends public feedback: a bearer token's user, a browser session's user (with its CSRF
    token, as for every session-authenticated call), or nobody. A token that is sent but not
    valid is refused (401) rather than treated as anonymous."""
    if request.headers.get("Authorization"):
        user = _bearer(request)
        if user is None:
            raise AuthenticationError()
        return user
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        if check_csrf(request):
            raise DomainError(
                "csrf_failed",
                Message("Phiên làm việc không hợp lệ, vui lòng tải lại trang.", "CSRF check failed: reload the page."),
                403,
            )
        return user
    return None


def _language(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", "vi") or "vi"


@router.post(
    "/feedback",
    response={201: FeedbackSubmittedOut, 200: FeedbackSubmittedOut, **problems(400, 401, 403, 422)},
    openapi_extra=PUBLIC,
    summary="Send feedback (phản ánh, kiến nghị)",
)
def submit(
    request: HttpRequest,
    payload: FeedbackIn,
    response: HttpResponse,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=80),
) -> Any:
    """Gửi phản ánh, kiến nghị — by anyone. Signed in (bearer token or session), the account's
    name and contacts are used and a dossier named must be yours; otherwise `name` and `email` or
    `phone` are required. Keep the `code` and `secret`: they open the lookup. A retry with the same
    `Idempotency-Key` and body returns the first feedback (200)."""
    feedback, created = services.feedback_submit(
        author=_caller(request),
        agency_code=payload.agency,
        subject=payload.subject,
        text=payload.text,
        category=payload.category,
        dossier_code=payload.dossier,
        dossier_secret=payload.dossier_secret,
        name=payload.name,
        email=payload.email,
        phone=payload.phone,
        idempotency_key=idempotency_key,
        language=_language(request),
    )
    response["Location"] = f"/api/v1/feedback/{feedback.code}"
    return Answer(201 if created else 200, feedback)


@router.get(
    "/feedback",
    response={200: list[OfficeFeedbackOut], **problems(401, 403, 422)},
    openapi_extra=SIGNED_IN,
    auth=AUTH,
    summary="My feedback, or my agencies' feedback",
)
@paginate(Pages, page_size=50)
def list_feedback(
    request: HttpRequest,
    state: Literal["open", "overdue", "received", "handling", "answered", "rejected", "all"] = Query("open"),
    q: str = Query("", max_length=48),
) -> Any:
    """An official: the feedback of the agencies where they hold a handling role (open: soonest
    deadline first). A citizen or business: what they sent (``state`` and ``q`` ignored)."""
    if not is_applicant_or_official(request.user):
        raise DomainError(
            "forbidden",
            Message("Chỉ công dân, doanh nghiệp và cán bộ xem được phản ánh.", "Only applicants and officials."),
            403,
        )
    if getattr(request.user, "kind", None) == "official":
        return selectors.feedback_list_for_official(user=request.user, state=state, q=q)
    return selectors.feedback_list_for_author(user=request.user)


@router.get(
    "/feedback/{code}",
    response={200: FeedbackOut, **problems(404, 422, 429)},
    openapi_extra=PUBLIC,
    summary="Look up feedback by code and secret",
)
def lookup(request: HttpRequest, code: str, secret: str = Query(..., max_length=16)) -> Any:
    """Tra cứu phản ánh — anyone holding the code and the secret given at submission."""
    ratelimit.check_address(request, "public_lookup")
    return selectors.feedback_lookup(code=code, secret=secret)


@router.post(
    "/feedback/{code}/rating",
    response={200: FeedbackOut, **problems(404, 409, 422)},
    openapi_extra=PUBLIC,
    summary="Rate the answer to your feedback",
)
def rate_answer(request: HttpRequest, code: str, payload: FeedbackRatingIn) -> Any:
    """Đánh giá việc trả lời phản ánh — the author (holding the secret), once it was answered or
    declined; once (the same rating again changes nothing, another is refused: 409)."""
    feedback = selectors.feedback_lookup(code=code, secret=payload.secret)
    return services.feedback_rate_answer(feedback=feedback, score=payload.score, comment=payload.comment)


@router.post(
    "/feedback/{code}/start",
    response={200: OfficeFeedbackOut, **problems(401, 403, 404, 409)},
    openapi_extra=OFFICIAL,
    auth=AUTH,
    summary="Take up feedback (received → being handled)",
)
def start(request: HttpRequest, code: str) -> Any:
    feedback = selectors.feedback_for_official(user=request.user, code=code)
    return services.feedback_start(feedback=feedback, official=request.user)


@router.post(
    "/feedback/{code}/answer",
    response={200: OfficeFeedbackOut, **problems(401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    auth=AUTH,
    summary="Answer feedback (the author is told by e-mail)",
)
def answer(request: HttpRequest, code: str, payload: FeedbackAnswerIn) -> Any:
    feedback = selectors.feedback_for_official(user=request.user, code=code)
    return services.feedback_answer(feedback=feedback, official=request.user, answer=payload.answer)


@router.post(
    "/feedback/{code}/reject",
    response={200: OfficeFeedbackOut, **problems(401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    auth=AUTH,
    summary="Decline feedback: out of scope, duplicate or abusive",
)
def reject(request: HttpRequest, code: str, payload: FeedbackRejectIn) -> Any:
    feedback = selectors.feedback_for_official(user=request.user, code=code)
    return services.feedback_reject(feedback=feedback, official=request.user, reason=payload.reason, note=payload.note)


@router.post(
    "/ratings",
    response={201: RatingOut, 200: RatingOut, **problems(401, 403, 404, 409, 422)},
    openapi_extra=APPLICANT,
    auth=AUTH,
    summary="Rate the settlement of your dossier",
)
def rate_dossier(request: HttpRequest, payload: RatingIn) -> Any:
    """Đánh giá mức độ hài lòng — the applicant, once the result was returned (status 10); once
    per dossier: the same rating again returns the first (200), a different one is refused (409)."""
    rating, created = services.rating_submit(
        applicant=request.user,
        dossier_code=payload.dossier,
        score=payload.score,
        comment=payload.comment,
        contacts=payload.contacts,
        publicity=payload.publicity,
        attitude=payload.attitude,
        online=payload.online,
    )
    return Answer(201 if created else 200, rating)
