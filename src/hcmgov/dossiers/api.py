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

from hcmgov.common.apiauth import AUTH
from hcmgov.common.errors import DomainError, FieldError, Message
from hcmgov.common.pagination import Pages
from hcmgov.common.problem import problems
from hcmgov.dossiers import selectors, services
from hcmgov.dossiers.files import Attachment
from hcmgov.dossiers.models import STATUS_EN, Dossier, Status

router = Router(tags=["dossiers"], auth=AUTH)
tracking_router = Router(tags=["tracking"])
APPLICANT = {"x-access": "applicant"}
OFFICIAL = {"x-access": "official"}
SIGNED_IN = {"x-access": "applicant-or-official"}
PUBLIC = {"x-access": "public"}


class AttachmentIn(Schema):
    requirement: str = Field(max_length=40, description="Code of the required document")
    filename: str = Field(max_length=255)
    content_base64: str = Field(description="The file's bytes, base64-encoded")


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
    channel: int
    submitted_at: dt.datetime
    received_at: dt.datetime | None
    due_at: dt.datetime
    finished_at: dt.datetime | None

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


def _decode(items: list[AttachmentIn]) -> list[Attachment]:
    out, errors = [], []
    for item in items:
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
        attachments=_decode(payload.attachments),
        idempotency_key=idempotency_key,
        language=getattr(request, "LANGUAGE_CODE", "vi"),
    )
    response["Location"] = f"/api/v1/dossiers/{dossier.code}"
    return Answer(201 if created else 200, dossier)


@router.get(
    "",
    response={200: list[DossierOut], **problems(401, 422)},
    openapi_extra=SIGNED_IN,
    summary="My dossiers, or my agencies' dossiers",
)
@paginate(Pages, page_size=50)
def list_dossiers(
    request: HttpRequest, status: int | None = Query(None, ge=1, le=10), q: str = Query("", max_length=48)
) -> Any:
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
    "/{code}", response={200: TrackingOut, **problems(404, 422)}, openapi_extra=PUBLIC, summary="Public status lookup"
)
def track(request: HttpRequest, code: str, secret: str) -> Any:
    """Tra cứu hồ sơ — anyone holding the code and the secret printed on the receipt."""
    tracked = selectors.dossier_track(code=code, secret=secret)
    # The hottest public route: the body is built directly (same shape as TrackingOut, which the
    # contract tests check every answer against) instead of through a pydantic round trip.
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
    return HttpResponse(json.dumps(body, ensure_ascii=False), content_type="application/json")
