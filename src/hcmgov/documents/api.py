"""/api/v1/documents: public verification of results. Schemas and routes only.

``POST /documents/verify`` takes a PDF (multipart, field ``file``) and answers what its signatures
say: ``valid``, ``invalid``, ``altered``, ``unsigned`` or ``unsupported``, with the reason in the
caller's language, the signer, agency, signing and time-stamp times, and — when the city issued
it — the dossier and result. ``GET /documents/results/{token}`` answers the facts of the result a
QR code names (not the document: it carries personal data). Both are open to anyone (``x-access``
``public``): verification is for whoever holds a result.

No `from __future__ import annotations` in API modules: ninja reads the annotations at import.
"""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import File, Router, Schema
from ninja.files import UploadedFile

from hcmgov.common.errors import DomainError, Message, NotFound
from hcmgov.common.problem import problems
from hcmgov.documents import verification

router = Router(tags=["documents"])
PUBLIC = {"x-access": "public"}


class VerdictOut(Schema):
    status: str
    reason: str
    sha256: str
    signatures: int
    signer: str
    agency: str
    signed_at: dt.datetime | None
    timestamped_at: dt.datetime | None
    covers_whole_file: bool | None
    dossier_code: str
    result_number: str
    result_revoked: bool


class ResultOut(Schema):
    number: str
    title: str
    title_en: str
    agency: str
    dossier_code: str
    signed_at: dt.datetime
    revoked: bool
    sha256: str


def _language(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", "vi") or "vi"


@router.post(
    "/documents/verify",
    response={200: VerdictOut, **problems(400, 413)},
    openapi_extra=PUBLIC,
    summary="Verify the signatures of a PDF (a result)",
)
def verify(request: HttpRequest, file: File[UploadedFile]) -> Any:
    """Xác thực chữ ký số của tệp PDF kết quả."""
    if (file.size or 0) > verification.MAX_BYTES:
        raise DomainError("too_large", Message("Tệp quá lớn.", "The file is too large."), 413)
    verdict = verification.pdf_verify(data=file.read())
    return {
        **{name: getattr(verdict, name) for name in VerdictOut.model_fields if name != "reason"},
        "reason": verdict.reason.en if _language(request) == "en" else verdict.reason.vi,
    }


@router.get(
    "/documents/results/{token}",
    response={200: ResultOut, **problems(404)},
    openapi_extra=PUBLIC,
    summary="The result a QR code names",
)
def result(request: HttpRequest, token: str) -> Any:
    found = verification.result_by_token(token)
    if found is None:
        raise NotFound("kết quả với mã xác thực này", "A result with this verification code")
    return {
        "number": found.number,
        "title": found.title,
        "title_en": found.title_en,
        "agency": found.agency.name,
        "dossier_code": found.dossier_code,
        "signed_at": found.signed_at,
        "revoked": found.revoked_at is not None,
        "sha256": found.signed_sha256,
    }
