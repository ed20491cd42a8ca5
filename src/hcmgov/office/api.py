"""/api/v1/eoffice: the electronic office's read API for other systems (issue 12) — the outgoing
documents of the caller's agencies, one of them with its versions, signatures and dispatches, and
the incoming register; what the back-office pages (``/office/van-ban/``) show, through the same
selectors and the same rule: an official reads the documents of the agencies where they hold a
role today, and another agency's document does not exist for them (404). Writes stay on the pages
for now (their services check the roles).

No `from __future__ import annotations` in API modules: ninja reads the annotations at import.
"""

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Path, Query, Router, Schema
from ninja.pagination import paginate

from hcmgov.common.access import is_official
from hcmgov.common.apiauth import AUTH
from hcmgov.common.errors import DomainError, Message, NotFound
from hcmgov.common.pagination import CappedPages
from hcmgov.common.problem import problems
from hcmgov.documents import services as documents
from hcmgov.exchange import selectors as exchange
from hcmgov.identity import selectors as identity
from hcmgov.office import dispatches, selectors

router = Router(tags=["eoffice"], auth=AUTH)
OFFICIAL = {"x-access": "official"}
SYSTEM = {"x-access": "official"}  # the recipient agency's information system (client credentials), checked below
MAX_ID = 2**63 - 1
DocumentStateName = Literal["draft", "in_review", "returned", "approved", "signed", "issued"]
RegisterName = Literal["normal", "confidential"]
STATE = Query(None, description="Only the documents in this state")
YEAR = Query(None, ge=2000, le=2100, description="Only this year's register")
REGISTER = Query(None, description="The ordinary register, or the confidential one (Decree 30/2020, Art. 15(1)(c))")


class EofficeDocumentSummaryOut(Schema):
    id: int
    agency: str = Field(description="The issuing agency's code")
    number_symbol: str = Field(description="Số, ký hiệu (e.g. 05/QĐ-UBND); empty until issued")
    number: int | None
    issued_on: dt.date | None
    doc_type: str = Field(description="The type's code (doctypes.TYPES)")
    summary: str = Field(description="Trích yếu nội dung")
    urgency: Literal["normal", "urgent", "very_urgent", "express"]
    confidentiality: Literal["normal", "secret", "top_secret", "absolute"]
    state: DocumentStateName
    origin: Literal["platform", "imported"]

    @staticmethod
    def resolve_agency(obj: Any) -> str:
        return str(obj.agency.code)


class EofficeVersionOut(Schema):
    version: int
    sha256: str
    filename: str
    created_at: dt.datetime


class EofficeSignatureOut(Schema):
    version: int
    certificate_fingerprint: str
    signed_sha256: str
    signed_at: dt.datetime
    superseded: bool = Field(description="Signed a draft version a newer one superseded")


class EofficeDispatchOut(Schema):
    recipient: str = Field(description="The recipient agency's code")
    state: Literal["sent", "received", "processed", "returned"]
    sent_at: dt.datetime
    received_at: dt.datetime | None
    processed_at: dt.datetime | None
    returned_at: dt.datetime | None
    return_reason: str


class EofficeDocumentOut(EofficeDocumentSummaryOut):
    issued_sha256: str = Field(description="SHA-256 of the issued PDF (its number on it, signed at issue)")
    versions: list[EofficeVersionOut]
    signatures: list[EofficeSignatureOut]
    dispatches: list[EofficeDispatchOut]

    @staticmethod
    def resolve_versions(obj: Any) -> list[dict[str, Any]]:
        return [
            {"version": v.version, "sha256": v.sha256, "filename": v.filename, "created_at": v.created_at}
            for v in selectors.document_versions(document=obj)
        ]

    @staticmethod
    def resolve_signatures(obj: Any) -> list[dict[str, Any]]:
        latest = obj.versions.order_by("-version").values_list("pk", flat=True).first()
        return [
            {
                "version": s.version.version,
                "certificate_fingerprint": s.certificate_fingerprint,
                "signed_sha256": s.signed_sha256,
                "signed_at": s.signed_at,
                "superseded": s.version_id != latest,
            }
            for s in selectors.document_signatures(document=obj)
        ]

    @staticmethod
    def resolve_dispatches(obj: Any) -> list[dict[str, Any]]:
        return [
            {
                "recipient": d.recipient.code,
                "state": d.state,
                "sent_at": d.sent_at,
                "received_at": d.received_at,
                "processed_at": d.processed_at,
                "returned_at": d.returned_at,
                "return_reason": d.return_reason,
            }
            for d in selectors.dispatches_of(document=obj)
        ]


class EofficeIncomingOut(Schema):
    id: int
    agency: str = Field(description="The receiving agency's code")
    arrival_number: int = Field(description="Số đến, consecutive in the register's year")
    arrival_date: dt.date
    confidential: bool
    number_symbol: str = Field(description="The sender's số, ký hiệu")
    issued_on: dt.date | None
    issuing_body: str
    doc_type: str
    summary: str
    electronic: bool
    dispatch_state: str = Field(description="State of the exchange's dispatch, empty for a paper document")

    @staticmethod
    def resolve_agency(obj: Any) -> str:
        return str(obj.agency.code)

    @staticmethod
    def resolve_confidential(obj: Any) -> bool:
        return bool(obj.register.confidential)

    @staticmethod
    def resolve_dispatch_state(obj: Any) -> str:
        return str(obj.dispatch.state) if obj.dispatch_id else ""


def _agencies(request: HttpRequest) -> list[int]:
    if not is_official(request.user):
        raise DomainError("forbidden", Message("Chỉ cán bộ được dùng chức năng này.", "Officials only."), 403)
    return identity.user_agency_ids(user=request.user)


@router.get(
    "/documents",
    response={200: list[EofficeDocumentSummaryOut], **problems(401, 403, 422)},
    openapi_extra=OFFICIAL,
    summary="Outgoing documents of the caller's agencies",
)
@paginate(CappedPages, page_size=50)
def list_documents(
    request: HttpRequest,
    state: DocumentStateName | None = STATE,
    register_type: RegisterName | None = REGISTER,
    year: int | None = YEAR,
) -> Any:
    """Văn bản đi — drafts, documents in review, signed and issued, newest first. The count stops
    at 1,000."""
    return selectors.outgoing_list(
        agency_ids=_agencies(request),
        state=state or "",
        year=year,
        confidential=None if register_type is None else register_type == "confidential",
    )


@router.get(
    "/documents/{document_id}",
    response={200: EofficeDocumentOut, **problems(401, 403, 404, 422)},
    openapi_extra=OFFICIAL,
    summary="An outgoing document with its versions, signatures and dispatches",
)
def get_document(
    request: HttpRequest,
    document_id: int = Path(..., ge=1, le=MAX_ID, description="The document's id (GET /eoffice/documents)"),
) -> Any:
    """Một văn bản đi — its particulars, each draft version (SHA-256), each signature (and whether
    a newer draft superseded it), and each dispatch to another agency with its acknowledgements.
    Another agency's document is 404."""
    document = selectors.outgoing_get(agency_ids=_agencies(request), pk=document_id)
    if document is None:
        raise NotFound("văn bản", "Document")
    return document


@router.get(
    "/incoming",
    response={200: list[EofficeIncomingOut], **problems(401, 403, 422)},
    openapi_extra=OFFICIAL,
    summary="The incoming register of the caller's agencies",
)
@paginate(CappedPages, page_size=50)
def list_incoming(request: HttpRequest, register_type: RegisterName | None = REGISTER, year: int | None = YEAR) -> Any:
    """Sổ văn bản đến — each entry with its arrival number and date, the sender's number and
    symbol, and the state of the exchange's dispatch it came by (empty for paper). Newest first; the
    count stops at 1,000."""
    return selectors.incoming_list(
        agency_ids=_agencies(request),
        year=year,
        confidential=None if register_type is None else register_type == "confidential",
    )


class EofficeAcknowledgementIn(Schema):
    state: Literal["received", "processed", "returned"] = Field(
        description="Đã nhận, đã xử lý, or trả lại (returned, with a reason); states only move forward"
    )
    reason: str = Field("", max_length=500, description="Why the document is returned (required to return)")


class EofficeAcknowledgementOut(Schema):
    dispatch_id: int
    document_id: int
    number_symbol: str
    state: Literal["sent", "received", "processed", "returned"]
    received_at: dt.datetime | None
    processed_at: dt.datetime | None
    returned_at: dt.datetime | None
    return_reason: str

    @staticmethod
    def resolve_dispatch_id(obj: Any) -> int:
        return int(obj.pk)

    @staticmethod
    def resolve_number_symbol(obj: Any) -> str:
        return str(obj.document.number_symbol)


@router.post(
    "/dispatches/{dispatch_id}/acknowledgement",
    response={200: EofficeAcknowledgementOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=SYSTEM,
    summary="The recipient's acknowledgement of a document sent to it (its own system)",
)
def acknowledge_dispatch(
    request: HttpRequest,
    payload: EofficeAcknowledgementIn,
    dispatch_id: int = Path(..., ge=1, le=MAX_ID, description="`dispatch_id` of the channel's event"),
) -> Any:
    """Xác nhận văn bản đến — for a recipient agency whose own document system (not this platform's
    pages) received the document from the exchange's channel of official documents: its
    information system, calling with its client-credentials token, reports the document received,
    processed, or returned with a reason. The same acknowledgement again changes nothing; a dispatch
    addressed to another agency does not exist for the caller (404)."""
    dispatch = _dispatch_for_system(request, dispatch_id)
    return dispatches.dispatch_acknowledge(dispatch=dispatch, state=payload.state, reason=payload.reason)


def _dispatch_for_system(request: HttpRequest, dispatch_id: int) -> Any:
    """The dispatch addressed to the agency of the calling information system (404 otherwise)."""
    agency_id = exchange.machine_account_agency(account=request.user)
    if agency_id is None:
        raise DomainError(
            "eoffice_not_a_system",
            Message(
                "Chỉ hệ thống thông tin của cơ quan nhận (ứng dụng OAuth2, client credentials) được gọi.",
                "Only the recipient agency's information system (an OAuth2 client, client credentials) may call this.",
            ),
            403,
        )
    dispatch = selectors.dispatch_to(agency_ids=[agency_id], dispatch_id=dispatch_id)
    if dispatch is None:
        raise NotFound("văn bản gửi đến", "Dispatch")
    return dispatch


@router.get(
    "/dispatches/{dispatch_id}/file",
    response={200: bytes, **problems(401, 403, 404, 422)},
    openapi_extra={
        **SYSTEM,
        "responses": {
            "200": {
                "description": "Tệp PDF đã ban hành / the issued PDF",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    },
    summary="The issued PDF of a document sent to the caller's agency (its own system)",
)
def dispatch_file(
    request: HttpRequest,
    dispatch_id: int = Path(..., ge=1, le=MAX_ID, description="`dispatch_id` of the channel's event"),
) -> HttpResponse:
    """Tệp văn bản đến — the issued PDF (its number on it, signed at issue) whose SHA-256 the
    channel's event carries (`issued_sha256`): the recipient's own system fetches it here and checks
    the hash. A dispatch addressed to another agency does not exist for the caller (404)."""
    dispatch = _dispatch_for_system(request, dispatch_id)
    document = dispatch.document
    if not document.issued_file_key:
        raise NotFound("tệp văn bản", "File")
    data = documents.platform_file_read(key=document.issued_file_key)
    response = HttpResponse(data, content_type="application/pdf")
    name = document.number_symbol.replace("/", "-") or f"van-ban-{document.pk}"
    response["Content-Disposition"] = f'attachment; filename="{name.encode("ascii", "replace").decode()}.pdf"'
    response["X-Content-SHA256"] = document.issued_sha256
    return response
