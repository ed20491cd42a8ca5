"""/api/v1/dossiers and /api/v1/tracking."""

import base64
import binascii
import datetime as dt
import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Header, Query, Router, Schema
from ninja import Status as Answer
from ninja.pagination import paginate

from hcmgov.common import ratelimit
from hcmgov.common.access import is_applicant_or_official
from hcmgov.common.apiauth import AUTH
from hcmgov.common.errors import DomainError, FieldError, Message
from hcmgov.common.pagination import CappedPages
from hcmgov.common.problem import problems
from hcmgov.documents import services as store
from hcmgov.dossiers import selectors, services
from hcmgov.dossiers.files import Attachment
from hcmgov.dossiers.models import STATUS_EN, Dossier, Status
from hcmgov.identity import selectors as identity

router = Router(tags=["dossiers"], auth=AUTH)
tracking_router = Router(tags=["tracking"])
APPLICANT = {"x-access": "applicant"}
OFFICIAL = {"x-access": "official"}
SIGNED_IN = {"x-access": "applicant-or-official"}
PUBLIC = {"x-access": "public"}


class AttachmentIn(Schema):
    requirement: str = Field(max_length=40, description="Code of the required document")
    filename: str = Field("", max_length=255, description="The file's name (not needed when reusing a component)")
    content_base64: str = Field("", description="The file's bytes, base64-encoded; or give `component`")
    component: str = Field(
        "",
        max_length=40,
        description="Code of a confirmed component of the applicant's data store to reuse instead of a file",
    )


class DossierIn(Schema):
    procedure: str = Field(max_length=16, description="National procedure code, e.g. 1.001193")
    agency: str = Field(max_length=32, description="Code of the receiving agency")
    form: dict[str, Any]
    attachments: list[AttachmentIn] = []


class DossierOut(Schema):
    code: str
    procedure: str
    procedure_name: str
    agency: str
    agency_name: str
    status: int
    status_name: str
    status_name_en: str
    channel: int = Field(description="1 in person, 2 online, 3 public postal service (as the national portal counts)")
    submitted_at: dt.datetime
    received_at: dt.datetime | None
    due_at: dt.datetime
    finished_at: dt.datetime | None
    fee_required: bool = Field(description="A fee is charged for this dossier")
    fee_paid_online: bool = Field(description="The fee was paid through an online payment gateway")
    result_by_post: bool = Field(description="The result is delivered by the public postal service")

    @staticmethod
    def resolve_procedure(obj: Dossier) -> str:
        return obj.procedure.code

    @staticmethod
    def resolve_procedure_name(obj: Dossier) -> str:
        return obj.procedure.name

    @staticmethod
    def resolve_agency(obj: Dossier) -> str:
        return obj.agency.code

    @staticmethod
    def resolve_agency_name(obj: Dossier) -> str:
        return obj.agency.name

    @staticmethod
    def resolve_status_name(obj: Dossier) -> str:
        return Status(obj.status).label

    @staticmethod
    def resolve_status_name_en(obj: Dossier) -> str:
        return STATUS_EN[Status(obj.status)]


class SubmittedOut(DossierOut):
    tracking_secret: str = Field(description="Printed on the receipt: with the code, opens public tracking")


class EventOut(Schema):
    at: dt.datetime
    status_from: int | None
    status_to: int
    status_name: str
    note: str

    @staticmethod
    def resolve_status_name(obj: Any) -> str:
        return Status(obj.status_to).label


class TrackingOut(Schema):
    code: str
    procedure_name: str
    agency_name: str
    status: int
    status_name: str
    status_name_en: str
    submitted_at: dt.datetime
    due_at: dt.datetime
    events: list[EventOut]


class RefuseIn(Schema):
    reason: str = Field(min_length=1, max_length=2000)


def _decode(items: list[AttachmentIn], user: Any) -> list[Attachment]:
    """The attachments of a request: each a base64 file, or a component of the applicant's data
    store (``component``) reused instead of an upload; every problem is reported at once."""
    out, errors = [], []
    owner_ids = identity.user_applicant_ids(user=user) if any(item.component for item in items) else []
    for item in items:
        if item.component:
            if item.content_base64:
                errors.append(
                    FieldError(
                        item.requirement,
                        "file_or_component",
                        Message(
                            "Gửi tệp hoặc mã giấy tờ trong kho dữ liệu, không gửi cả hai.",
                            "Send a file or a data-store component code, not both.",
                        ),
                    )
                )
                continue
            try:
                component, data = store.component_attachment(code=item.component, owner_ids=owner_ids)
            except DomainError as exc:
                errors.append(FieldError(item.requirement, exc.code, exc.message))
                continue
            out.append(Attachment(item.requirement, component.filename, data, component_code=component.code))
            continue
        try:
            data = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError):
            errors.append(
                FieldError(
                    item.requirement,
                    "bad_base64",
                    Message(
                        f"Tệp «{item.filename}» không phải base64 hợp lệ.",
                        f"File “{item.filename}” is not valid base64.",
                    ),
                )
            )
            continue
        out.append(Attachment(requirement=item.requirement, filename=item.filename, data=data))
    if errors:
        raise DomainError("invalid_dossier", Message("Hồ sơ chưa hợp lệ.", "The dossier is not valid."), 422, errors)
    return out


def _require_applicant(request: HttpRequest) -> None:
    if getattr(request.user, "kind", None) not in {"citizen", "business"}:
        raise DomainError(
            "forbidden",
            Message("Chỉ công dân, doanh nghiệp được nộp hồ sơ.", "Only citizens and businesses submit dossiers."),
            403,
        )


@router.post(
    "",
    response={201: SubmittedOut, 200: SubmittedOut, **problems(400, 401, 403, 404, 422)},
    openapi_extra=APPLICANT,
    summary="Submit a dossier",
)
def submit(
    request: HttpRequest,
    payload: DossierIn,
    response: HttpResponse,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=80),
) -> Any:
    """Nộp hồ sơ trực tuyến. A retry with the same `Idempotency-Key` returns the first dossier (200)."""
    _require_applicant(request)
    dossier, created = services.dossier_submit(
        applicant=request.user,
        procedure_code=payload.procedure,
        agency_code=payload.agency,
        form_data=payload.form,
        attachments=_decode(payload.attachments, request.user),
        idempotency_key=idempotency_key,
        language=getattr(request, "LANGUAGE_CODE", "vi"),
    )
    response["Location"] = f"/api/v1/dossiers/{dossier.code}"
    return Answer(201 if created else 200, dossier)


@router.get(
    "",
    response={200: list[DossierOut], **problems(401, 403, 422)},
    openapi_extra=SIGNED_IN,
    summary="My dossiers, or my agencies' dossiers",
)
@paginate(CappedPages, page_size=50)
def list_dossiers(
    request: HttpRequest, status: int | None = Query(None, ge=1, le=10), q: str = Query("", max_length=48)
) -> Any:
    if not is_applicant_or_official(request.user):
        raise DomainError(
            "forbidden",
            Message("Chỉ công dân, doanh nghiệp và cán bộ xem được hồ sơ.", "Only applicants and officials."),
            403,
        )
    if getattr(request.user, "kind", None) == "official":
        return selectors.dossier_list_for_official(user=request.user, status=status, q=q)
    qs = selectors.dossier_list_for_applicant(user=request.user)
    return qs.filter(status=status) if status else qs


@router.get("/{code}", response={200: DossierOut, **problems(401, 404)}, openapi_extra=SIGNED_IN, summary="One dossier")
def get_dossier(request: HttpRequest, code: str) -> Any:
    return selectors.dossier_visible_to(user=request.user, code=code)


@router.post(
    "/{code}/receive",
    response={200: DossierOut, **problems(401, 403, 404, 409)},
    openapi_extra=OFFICIAL,
    summary="Receive (status 1 → 2)",
)
def receive(request: HttpRequest, code: str) -> Any:
    dossier = selectors.dossier_visible_to(user=request.user, code=code)
    return services.dossier_receive(dossier=dossier, official=request.user)


@router.post(
    "/{code}/refuse",
    response={200: DossierOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    summary="Refuse to receive (status 1 → 3, Form 03)",
)
def refuse(request: HttpRequest, code: str, payload: RefuseIn) -> Any:
    dossier = selectors.dossier_visible_to(user=request.user, code=code)
    return services.dossier_refuse(dossier=dossier, official=request.user, reason=payload.reason)


@tracking_router.get(
    "/{code}",
    response={200: TrackingOut, **problems(404, 422, 429)},
    openapi_extra=PUBLIC,
    summary="Public status lookup",
)
def track(request: HttpRequest, code: str, secret: str) -> Any:
    """Tra cứu hồ sơ — anyone holding the code and the secret printed on the receipt."""
    ratelimit.check_address(request, "public_lookup")
    tracked = selectors.dossier_track(code=code, secret=secret)
    return HttpResponse(track_body(tracked), content_type="application/json")


def track_body(tracked: selectors.Tracked) -> bytes:
    """The lookup's answer, by this view and by the WSGI fast path (``dossiers.fastpath``). The
    hottest public route: the body is built directly (same shape as TrackingOut, which the contract
    tests check every answer against) instead of through a pydantic round trip."""
    body = {
        "code": tracked.code, "procedure_name": tracked.procedure["name"], "agency_name": tracked.agency["name"],
        "status": tracked.status, "status_name": Status(tracked.status).label,
        "status_name_en": STATUS_EN[Status(tracked.status)], "submitted_at": tracked.submitted_at.isoformat(),
        "due_at": tracked.due_at.isoformat(),
        "events": [
            {"at": e.at.isoformat(), "status_from": e.status_from, "status_to": e.status_to,
             "status_name": Status(e.status_to).label, "note": e.note}
            for e in tracked.events
        ],
    }  # fmt: skip
    return json.dumps(body, ensure_ascii=False).encode()


# --- processing: steps, decisions, supplements, the back office's queues ------------------------

office_router = Router(tags=["back office"], auth=AUTH)


class StepOut(Schema):
    id: int
    key: str
    name: str
    name_en: str
    role: str
    agency: str
    agency_name: str
    assignee: str | None
    state: str
    opened_at: dt.datetime
    due_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str
    actor: str
    note: str
    timeliness: str

    @staticmethod
    def resolve_agency(obj: Any) -> str:
        return obj.agency.code

    @staticmethod
    def resolve_agency_name(obj: Any) -> str:
        return obj.agency.name

    @staticmethod
    def resolve_assignee(obj: Any) -> str | None:
        return obj.assignee.username if obj.assignee_id else None

    @staticmethod
    def resolve_actor(obj: Any) -> str:
        return obj.actor_label


class QueueItemOut(Schema):
    step: int
    dossier: str
    procedure: str
    procedure_name: str
    applicant_name: str
    step_name: str
    step_name_en: str
    role: str
    due_at: dt.datetime
    assignee: str | None
    dossier_status: int

    @staticmethod
    def resolve_step(obj: Any) -> int:
        return int(obj.pk)

    @staticmethod
    def resolve_dossier(obj: Any) -> str:
        return str(obj.dossier.code)

    @staticmethod
    def resolve_procedure(obj: Any) -> str:
        return str(obj.dossier.procedure.code)

    @staticmethod
    def resolve_procedure_name(obj: Any) -> str:
        return str(obj.dossier.procedure.name)

    @staticmethod
    def resolve_applicant_name(obj: Any) -> str:
        return str(obj.dossier.applicant_name)

    @staticmethod
    def resolve_step_name(obj: Any) -> str:
        return str(obj.name)

    @staticmethod
    def resolve_step_name_en(obj: Any) -> str:
        return str(obj.name_en)

    @staticmethod
    def resolve_assignee(obj: Any) -> str | None:
        return obj.assignee.username if obj.assignee_id else None

    @staticmethod
    def resolve_dossier_status(obj: Any) -> int:
        return int(obj.dossier.status)


class ActionIn(Schema):
    action: str = Field(max_length=16, description="One of the decisions the step allows (see GET …/steps)")
    note: str = Field("", max_length=4000, description="Required for refuse and decline")


class ReasonIn(Schema):
    reason: str = Field(min_length=1, max_length=4000)


class SupplementItemIn(Schema):
    document: str = Field(min_length=1, max_length=300)
    reason: str = Field("", max_length=1000)


class SupplementRequestIn(Schema):
    items: list[SupplementItemIn] = Field(min_length=1, max_length=50)
    note: str = Field("", max_length=4000)


class SupplementIn(Schema):
    note: str = Field("", max_length=4000)
    attachments: list[AttachmentIn] = Field([], max_length=20)


class ApologyIn(Schema):
    reason: str = Field(min_length=1, max_length=4000)
    new_date: dt.date = Field(description="The new appointment: a working day after the current one")


class ApologyOut(Schema):
    dossier: str
    reason: str
    previous_appointment: dt.datetime
    new_appointment: dt.datetime

    @staticmethod
    def resolve_dossier(obj: Any) -> str:
        return str(obj.dossier.code)


class CommentIn(Schema):
    text: str = Field(min_length=1, max_length=4000)


class CommentOut(Schema):
    author: str
    at: dt.datetime
    text: str

    @staticmethod
    def resolve_author(obj: Any) -> str:
        return str(obj.author_label)


class AssignIn(Schema):
    steps: list[int] = Field(min_length=1, max_length=500)
    assignee: str = Field(min_length=1, max_length=150, description="The official's user name")


class AssignedOut(Schema):
    assigned: int


class StatOut(Schema):
    key: str
    early: int
    on_time: int
    late: int
    on_time_rate: float | None


@router.get(
    "/{code}/steps",
    response={200: list[StepOut], **problems(401, 403, 404)},
    openapi_extra=OFFICIAL,
    summary="The dossier's steps (Form 05's content)",
)
def steps(request: HttpRequest, code: str) -> Any:
    dossier = selectors.dossier_visible_to(user=request.user, code=code)
    if getattr(request.user, "kind", None) != "official":
        raise DomainError("forbidden", Message("Chỉ cán bộ xem được.", "Officials only."), 403)
    return selectors.dossier_steps(dossier=dossier)


@router.post(
    "/{code}/steps/{step_id}/actions",
    response={200: DossierOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    summary="Take a decision on an open step",
)
def act(request: HttpRequest, code: str, step_id: int, payload: ActionIn) -> Any:
    """Quyết định ở một bước: receive, refuse, forward, approve, decline, sign, return — as the step
    allows. Two officials acting on the same step: the second gets 409 `step_already_handled`."""
    dossier = selectors.dossier_visible_to(user=request.user, code=code)
    return services.dossier_decide(
        dossier=dossier, official=request.user, step_id=step_id, action=payload.action, note=payload.note
    )


@router.post(
    "/{code}/steps/{step_id}/send-back",
    response={200: DossierOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    summary="Send back to the previous step",
)
def send_back(request: HttpRequest, code: str, step_id: int, payload: ReasonIn) -> Any:
    dossier = selectors.dossier_visible_to(user=request.user, code=code)
    return services.dossier_send_back(dossier=dossier, official=request.user, step_id=step_id, reason=payload.reason)


@router.post(
    "/{code}/steps/{step_id}/supplement-requests",
    response={200: DossierOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    summary="Request a supplement (Form 02); stops the legal clock",
)
def request_supplement(request: HttpRequest, code: str, step_id: int, payload: SupplementRequestIn) -> Any:
    dossier = selectors.dossier_visible_to(user=request.user, code=code)
    return services.dossier_request_supplement(
        dossier=dossier,
        official=request.user,
        step_id=step_id,
        items=[{"document": i.document, "reason": i.reason} for i in payload.items],
        note=payload.note,
    )


@router.post(
    "/{code}/supplement",
    response={200: DossierOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=APPLICANT,
    summary="Answer a supplement request (the applicant); the clock starts again",
)
def supplement(request: HttpRequest, code: str, payload: SupplementIn) -> Any:
    dossier = selectors.dossier_visible_to(user=request.user, code=code)
    return services.dossier_supplement(
        dossier=dossier,
        applicant=request.user,
        note=payload.note,
        attachments=_decode(payload.attachments, request.user),
    )


@router.post(
    "/{code}/withdraw",
    response={200: DossierOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=SIGNED_IN,
    summary="Withdraw at the applicant's request (status 7)",
)
def withdraw(request: HttpRequest, code: str, payload: ReasonIn) -> Any:
    dossier = selectors.dossier_visible_to(user=request.user, code=code)
    return services.dossier_withdraw(dossier=dossier, by=request.user, reason=payload.reason)


@router.post(
    "/{code}/stop",
    response={200: DossierOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    summary="Stop processing (status 8)",
)
def stop(request: HttpRequest, code: str, payload: ReasonIn) -> Any:
    dossier = selectors.dossier_visible_to(user=request.user, code=code)
    return services.dossier_stop(dossier=dossier, official=request.user, reason=payload.reason)


@router.post(
    "/{code}/apologies",
    response={201: ApologyOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=OFFICIAL,
    summary="Apologise for a late result with a new appointment (Form 04)",
)
def apologize(request: HttpRequest, code: str, payload: ApologyIn) -> Any:
    dossier = selectors.dossier_visible_to(user=request.user, code=code)
    letter = services.dossier_apologize(
        dossier=dossier, official=request.user, reason=payload.reason, new_date=payload.new_date
    )
    return Answer(201, letter)


@router.get(
    "/{code}/comments",
    response={200: list[CommentOut], **problems(401, 403, 404)},
    openapi_extra=OFFICIAL,
    summary="Internal comments",
)
def comments(request: HttpRequest, code: str) -> Any:
    dossier = selectors.dossier_visible_to(user=request.user, code=code)
    if getattr(request.user, "kind", None) != "official":
        raise DomainError("forbidden", Message("Chỉ cán bộ xem được.", "Officials only."), 403)
    return selectors.dossier_comments(dossier=dossier)


@router.post(
    "/{code}/comments",
    response={201: CommentOut, **problems(400, 401, 403, 404, 422)},
    openapi_extra=OFFICIAL,
    summary="Add an internal comment",
)
def comment(request: HttpRequest, code: str, payload: CommentIn) -> Any:
    dossier = selectors.dossier_visible_to(user=request.user, code=code)
    return Answer(201, services.dossier_comment(dossier=dossier, official=request.user, text=payload.text))


def _official(request: HttpRequest) -> None:
    if getattr(request.user, "kind", None) != "official":
        raise DomainError("forbidden", Message("Chỉ cán bộ được dùng chức năng này.", "Officials only."), 403)


@office_router.get(
    "/queues/{queue}",
    response={200: list[QueueItemOut], **problems(401, 403, 404, 422)},
    openapi_extra=OFFICIAL,
    summary="A work queue: mine, unit, receive, due_today, overdue, supplement",
)
@paginate(CappedPages, page_size=50)
def queue(request: HttpRequest, queue: str) -> Any:
    _official(request)
    return selectors.step_queue(user=request.user, queue=queue[:16])


@office_router.get(
    "/queues",
    response={200: dict[str, int], **problems(401, 403)},
    openapi_extra=OFFICIAL,
    summary="How many steps wait in each queue",
    description="Each count stops at 1000: a value of 1000 means 1,000 or more.",
)
def queue_counts(request: HttpRequest) -> Any:
    _official(request)
    return selectors.queue_counts(user=request.user)


@office_router.get(
    "/search",
    response={200: list[DossierOut], **problems(401, 403, 422)},
    openapi_extra=OFFICIAL,
    summary="Search the dossiers of my agencies",
)
@paginate(CappedPages, page_size=50)
def search(
    request: HttpRequest,
    code: str = Query("", max_length=48),
    applicant: str = Query("", max_length=100),
    procedure: str = Query("", max_length=16),
    status: int | None = Query(None, ge=1, le=10),
    submitted_from: dt.date | None = None,
    submitted_to: dt.date | None = None,
) -> Any:
    _official(request)
    return selectors.dossier_search(
        user=request.user, code=code, applicant=applicant, procedure=procedure, status=status,
        submitted_from=submitted_from, submitted_to=submitted_to,
    )  # fmt: skip


@office_router.post(
    "/assignments",
    response={200: AssignedOut, **problems(400, 401, 403, 404, 422)},
    openapi_extra=OFFICIAL,
    summary="Assign open steps to an official (bulk)",
)
def assign(request: HttpRequest, payload: AssignIn) -> Any:
    _official(request)
    assignee = identity.user_by_username(username=payload.assignee)
    if assignee is None:
        raise DomainError(
            "assignee_unknown",
            Message("Không tìm thấy cán bộ.", "No such official."),
            422,
            [FieldError("assignee", "unknown", Message("Không tìm thấy cán bộ.", "No such official."))],
        )
    return {"assigned": services.step_assign(step_ids=payload.steps, assignee=assignee, by=request.user)}


@office_router.get(
    "/statistics",
    response={200: list[StatOut], **problems(401, 403, 422)},
    openapi_extra=OFFICIAL,
    summary="Early / on time / late for a period, by agency, procedure, official or step",
)
def statistics(
    request: HttpRequest,
    start: dt.date,
    end: dt.date,
    by: str = Query("agency", pattern="^(agency|procedure|official|step|day)$"),
    kind: str = Query("dossier", pattern="^(dossier|step)$"),
) -> Any:
    """Thống kê đúng hạn — over the agencies (and procedure fields) the caller's roles cover."""
    _official(request)
    column = {"agency": "agency_id", "procedure": "procedure_id", "official": "official_id", "step": "step_key"}
    rows = selectors.processing_statistics(
        start=start, end=end, kind=kind, by=column.get(by, "day"), user=request.user,
    )  # fmt: skip
    return [
        {"key": str(r.key), "early": r.early, "on_time": r.on_time, "late": r.late, "on_time_rate": r.on_time_rate}
        for r in rows
    ]
