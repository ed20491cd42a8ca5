"""Writes of the electronic office: outgoing documents from draft to issue, incoming documents
registered with their arrival number, and numbers brought from outside.

**Numbering** (Decree 30/2020/NĐ-CP, Art. 15(1)): an agency's outgoing documents are numbered in
one sequence per calendar year, from 01 on 1 January to 31 December; confidential documents in a
sequence of their own. The number is taken at issue: the register's row is locked
(``select_for_update``), its ``last`` raised by one and written with the document in the same
transaction, and a partial unique constraint on (register, number) for platform-issued documents
stands behind the lock. Numbers typed in or imported from another system are kept as given
(``origin=imported``): the register check (``selectors.register_check``) shows their clashes and
gaps instead of refusing what already happened outside.

**Drafts, review, signature, issue.** Each draft version keeps its file (documents' platform files)
and SHA-256; a reviewer approves or returns (with a reason) one version; the signer signs the
latest approved version, a PDF, with the agency's certificate (documents' PAdES signing); the
clerk (văn thư) issues it with the register's next number. A signature on a version that is not
the latest is refused, and the issue refuses a document whose signature is on a superseded draft.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.common.errors import DomainError, Message, NotFound
from hcmgov.core import services as core_services
from hcmgov.documents import selectors as documents_selectors
from hcmgov.documents import services as documents
from hcmgov.identity import selectors as identity
from hcmgov.office import doctypes, issuing
from hcmgov.office.models import (
    Confidentiality,
    Direction,
    DocumentState,
    DraftVersion,
    IncomingDocument,
    Origin,
    OutgoingDocument,
    Register,
    Review,
    ReviewDecision,
    Signature,
    Urgency,
)

DRAFTER_ROLES = {"specialist", "head", "leader", "clerk"}
REVIEWER_ROLES = {"head", "leader"}
SIGNER_ROLES = {"leader"}
CLERK_ROLES = {"clerk"}  # văn thư: numbers, issues and registers documents (Decree 30/2020, Art. 15, 22)
FILE_KIND = "office-draft"
SIGNED_KIND = "office-signed"
ISSUED_KIND = "office-issued"  # the issued file: the number on it, signed by the agency at issue
LOCATION = "Thành phố Hồ Chí Minh"
DOCUMENT_FIELDS = ("state", "number", "number_symbol", "issued_on", "register", "signer")


def refuse(code: str, vi: str, en: str, status: int = 409) -> DomainError:
    return DomainError(code, Message(vi, en), status)


def _check_role(official: Any, agency_id: int, roles: set[str]) -> None:
    if not identity.user_has_role(user=official, agency_id=agency_id, roles=roles):
        raise refuse(
            "forbidden",
            "Bạn không có quyền thực hiện việc này tại cơ quan này.",
            "You may not do this at this agency.",
            403,
        )


def _local_year(moment: dt.datetime) -> int:
    return timezone.localtime(moment).year


# --- registers ------------------------------------------------------------------------------------


def register_get(*, agency_id: int, direction: str, year: int, confidential: bool = False) -> Register:
    """The agency's register of ``direction`` for ``year`` (made on first use)."""
    register, _ = Register.objects.get_or_create(
        agency_id=agency_id, direction=direction, year=year, confidential=confidential
    )
    return register


def _register_next(*, agency_id: int, direction: str, year: int, confidential: bool) -> tuple[Register, int]:
    """Lock the register's row and take its next number; the caller's transaction writes the
    document with it (a rollback gives the number back: no gap)."""
    register = register_get(agency_id=agency_id, direction=direction, year=year, confidential=confidential)
    locked = Register.objects.select_for_update().get(pk=register.pk)
    locked.last += 1
    locked.save(update_fields=["last"])
    return locked, locked.last


# --- drafting -------------------------------------------------------------------------------------


def _keep(data: bytes, filename: str) -> tuple[str, str]:
    """An official's upload kept after the upload checks and the antivirus (documents' own)."""
    if not data:
        raise refuse("file_empty", "Tệp dự thảo rỗng.", "The draft file is empty.", 422)
    return documents.upload_file_keep(data=data, filename=filename, kind=FILE_KIND), hashlib.sha256(data).hexdigest()


def _content_type(data: bytes) -> str:
    return "application/pdf" if data.startswith(b"%PDF-") else "application/octet-stream"


@audited("office.document_draft", fields=DOCUMENT_FIELDS)
def document_draft(
    *,
    official: Any,
    agency_id: int,
    agency_abbreviation: str,
    doc_type: str,
    summary: str,
    data: bytes,
    filename: str,
    unit_abbreviation: str = "",
    urgency: str = Urgency.NORMAL,
    confidentiality: str = Confidentiality.NORMAL,
    recipients: str = "",
    pages: int | None = None,
    record: Any = None,
    now: dt.datetime | None = None,
) -> OutgoingDocument:
    """Start an outgoing document with its first draft version."""
    _check_role(official, agency_id, DRAFTER_ROLES)
    if doc_type not in doctypes.BY_CODE:
        raise refuse("doc_type_unknown", "Loại văn bản không hợp lệ.", "Unknown type of document.", 422)
    if not summary.strip() or not agency_abbreviation.strip():
        raise refuse(
            "summary_required",
            "Vui lòng nhập trích yếu và chữ viết tắt tên cơ quan.",
            "Please give the summary and the agency's abbreviation.",
            422,
        )
    if doc_type == doctypes.CONG_VAN and not unit_abbreviation.strip():
        raise refuse(
            "unit_required",
            "Công văn cần chữ viết tắt tên đơn vị soạn thảo hoặc lĩnh vực (ví dụ 45/UBND-VX).",
            "A công văn needs the drafting unit's or field's abbreviation (e.g. 45/UBND-VX).",
            422,
        )
    if record is not None and record.agency_id != agency_id:
        raise refuse("other_agency", "Hồ sơ của cơ quan khác.", "The record belongs to another agency.", 422)
    now = now or timezone.now()
    key, sha256 = _keep(data, filename)
    document = OutgoingDocument.objects.create(
        agency_id=agency_id,
        agency_abbreviation=agency_abbreviation.strip(),
        unit_abbreviation=unit_abbreviation.strip(),
        doc_type=doc_type,
        summary=summary.strip()[:500],
        urgency=urgency,
        confidentiality=confidentiality,
        recipients=recipients,
        pages=pages,
        drafted_by=official,
        record=record,
        created_at=now,
    )
    DraftVersion.objects.create(
        document=document,
        version=1,
        sha256=sha256,
        file_key=key,
        filename=filename[:255],
        content_type=_content_type(data),
        created_by=official,
        created_at=now,
    )
    return document


@audited("office.draft_version_add", target="document", fields=DOCUMENT_FIELDS)
def draft_version_add(
    *, document: OutgoingDocument, official: Any, data: bytes, filename: str, now: dt.datetime | None = None
) -> DraftVersion:
    """A new version of the draft: it supersedes the earlier ones, whose approvals and signatures
    no longer count; the document goes back to draft. An issued document is not changed."""
    _check_role(official, document.agency_id, DRAFTER_ROLES)
    locked = OutgoingDocument.objects.select_for_update().get(pk=document.pk)
    if locked.state == DocumentState.ISSUED:
        raise refuse("already_issued", "Văn bản đã ban hành, không sửa được.", "The document is issued.")
    key, sha256 = _keep(data, filename)
    last = locked.versions.order_by("-version").first()
    version = DraftVersion.objects.create(
        document=locked,
        version=(last.version if last else 0) + 1,
        sha256=sha256,
        file_key=key,
        filename=filename[:255],
        content_type=_content_type(data),
        created_by=official,
        created_at=now or timezone.now(),
    )
    locked.state = DocumentState.DRAFT
    locked.save(update_fields=["state"])
    document.state = locked.state
    return version


def _latest(document: OutgoingDocument) -> DraftVersion:
    version = document.versions.order_by("-version").first()
    if version is None:
        raise NotFound("bản dự thảo", "Draft")
    return version


@audited("office.document_submit", target="document", fields=DOCUMENT_FIELDS)
def document_submit(*, document: OutgoingDocument, official: Any) -> OutgoingDocument:
    """Send the latest draft for review."""
    _check_role(official, document.agency_id, DRAFTER_ROLES)
    locked = OutgoingDocument.objects.select_for_update().get(pk=document.pk)
    if locked.state not in (DocumentState.DRAFT, DocumentState.RETURNED):
        raise refuse("not_a_draft", "Văn bản không ở trạng thái dự thảo.", "The document is not a draft.")
    locked.state = DocumentState.IN_REVIEW
    locked.save(update_fields=["state"])
    return locked


@audited("office.document_review", target="document", fields=DOCUMENT_FIELDS)
def document_review(
    *,
    document: OutgoingDocument,
    reviewer: Any,
    version: DraftVersion,
    approve: bool,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Review:
    """Approve the draft's ``version``, or return it with a reason. Only the latest version is
    reviewed: a decision on a superseded one would approve text nobody will sign."""
    _check_role(reviewer, document.agency_id, REVIEWER_ROLES)
    locked = OutgoingDocument.objects.select_for_update().get(pk=document.pk)
    if locked.state != DocumentState.IN_REVIEW:
        raise refuse("not_in_review", "Văn bản không chờ duyệt.", "The document is not waiting for review.")
    if version.document_id != locked.pk or version.pk != _latest(locked).pk:
        raise refuse(
            "superseded_draft",
            f"Bản dự thảo {version.version} đã có bản mới hơn.",
            f"Draft version {version.version} is superseded by a newer version.",
        )
    if not approve and not reason.strip():
        raise refuse("reason_required", "Trả lại cần nêu lý do.", "Returning a draft needs a reason.", 422)
    review = Review.objects.create(
        document=locked,
        version=version,
        reviewer=reviewer,
        decision=ReviewDecision.APPROVED if approve else ReviewDecision.RETURNED,
        reason=reason.strip()[:500],
        at=now or timezone.now(),
    )
    locked.state = DocumentState.APPROVED if approve else DocumentState.RETURNED
    locked.save(update_fields=["state"])
    document.state = locked.state
    return review


@audited("office.document_sign", target="document", fields=DOCUMENT_FIELDS)
def document_sign(
    *, document: OutgoingDocument, signer: Any, version: DraftVersion, now: dt.datetime | None = None
) -> Signature:
    """Sign ``version`` of the draft, a PDF, PAdES with the agency's certificate in force
    (``documents``: the platform holds agency certificates only; a personal certificate of the
    signer is not available, see docs/office/README.md). Refused when a newer version exists, when
    the version was not approved, or when the agency has no certificate in force."""
    _check_role(signer, document.agency_id, SIGNER_ROLES)
    now = now or timezone.now()
    locked = OutgoingDocument.objects.select_for_update().get(pk=document.pk)
    latest = _latest(locked)
    if version.document_id != locked.pk or version.pk != latest.pk:
        raise refuse(
            "superseded_draft",
            f"Không ký được: bản dự thảo {version.version} đã có bản mới hơn ({latest.version}).",
            f"Not signed: draft version {version.version} is superseded by version {latest.version}.",
        )
    approved = Review.objects.filter(version=version, decision=ReviewDecision.APPROVED).exists()
    if locked.state != DocumentState.APPROVED or not approved:
        raise refuse("not_approved", "Bản dự thảo chưa được duyệt.", "The draft version is not approved.")
    if version.content_type != "application/pdf":
        raise refuse("not_pdf", "Chỉ ký số được tệp PDF.", "Only a PDF can be signed.", 422)
    certificate = documents_selectors.signing_certificate(agency_id=locked.agency_id, now=now)
    if certificate is None:
        raise refuse(
            "no_certificate",
            "Cơ quan chưa có chứng thư số còn hiệu lực.",
            "The agency has no certificate in force.",
        )
    signed = documents.pdf_sign(
        pdf=documents.platform_file_read(key=version.file_key),
        certificate=certificate,
        reason=f"Ký văn bản: {locked.summary[:120]}",
        location=LOCATION,
        now=now,
    )
    signature = Signature.objects.create(
        document=locked,
        version=version,
        signer=signer,
        certificate_fingerprint=certificate.fingerprint_sha256,
        signed_sha256=signed.sha256,
        file_key=documents.platform_file_keep(data=signed.data, kind=SIGNED_KIND),
        signed_at=signed.signed_at,
        timestamped_at=signed.timestamped_at,
    )
    locked.state = DocumentState.SIGNED
    locked.signer = signer
    locked.save(update_fields=["state", "signer"])
    document.state, document.signer = locked.state, signer
    return signature


def signature_current(*, document: OutgoingDocument) -> Signature | None:
    """The document's latest signature if it is on its latest draft version, else None."""
    signature = document.signatures.order_by("-signed_at", "-id").first()
    if signature is None or signature.version_id != _latest(document).pk:
        return None
    return signature


@audited("office.document_issue", target="document", fields=DOCUMENT_FIELDS)
def document_issue(*, document: OutgoingDocument, clerk: Any, now: dt.datetime | None = None) -> OutgoingDocument:
    """Issue a signed document with its register's next number of the year (Decree 30/2020,
    Art. 15(1)): the register row is locked, so two clerks issuing at once take consecutive
    numbers. The number and the date are written onto the first page of the version the leader
    signed, and the agency's certificate signs that file (``issuing``: the number before the
    issuing body's signature); it is kept as the issued file, the one sent to other agencies.
    Refused when the signature is on a superseded draft, or the agency has no certificate in force."""
    _check_role(clerk, document.agency_id, CLERK_ROLES)
    now = now or timezone.now()
    with transaction.atomic():
        locked = OutgoingDocument.objects.select_for_update().get(pk=document.pk)
        if locked.state == DocumentState.ISSUED:
            locked._audit_skip = True  # type: ignore[attr-defined]  # a repeat: nothing changes
            return locked
        if locked.state != DocumentState.SIGNED:
            raise refuse("not_signed", "Văn bản chưa được ký số.", "The document is not signed.")
        signature = signature_current(document=locked)
        if signature is None:
            raise refuse(
                "superseded_draft",
                "Chữ ký số nằm trên bản dự thảo đã có bản mới hơn: cần ký lại bản mới nhất.",
                "The signature is on a superseded draft: the latest version must be signed.",
            )
        certificate = documents_selectors.signing_certificate(agency_id=locked.agency_id, now=now)
        if certificate is None:
            raise refuse(
                "no_certificate",
                "Cơ quan chưa có chứng thư số còn hiệu lực.",
                "The agency has no certificate in force.",
            )
        year = _local_year(now)
        confidential = locked.confidentiality != Confidentiality.NORMAL
        register, number = _register_next(
            agency_id=locked.agency_id, direction=Direction.OUTGOING, year=year, confidential=confidential
        )
        locked.register = register
        locked.number = number
        locked.number_symbol = doctypes.number_symbol(
            number=number,
            doc_type=locked.doc_type,
            agency_abbreviation=locked.agency_abbreviation,
            unit_abbreviation=locked.unit_abbreviation,
        )
        locked.issued_on = timezone.localtime(now).date()
        locked.issued_at = now
        # the number and date go onto the version the leader signed, then the agency's signature
        # covers them (issuing.py: drawn after a signature, they would void it); a failure here
        # rolls the number back with the rest
        numbered = issuing.number_stamp(
            pdf=documents.platform_file_read(key=signature.version.file_key),
            number_symbol=locked.number_symbol,
            issued_on=locked.issued_on,
            place=LOCATION,
        )
        issued = documents.pdf_sign(
            pdf=numbered,
            certificate=certificate,
            reason=f"Ban hành văn bản số {locked.number_symbol}",
            location=LOCATION,
            now=now,
        )
        locked.issued_file_key = documents.platform_file_keep(data=issued.data, kind=ISSUED_KIND)
        locked.issued_sha256 = issued.sha256
        locked.state = DocumentState.ISSUED
        locked.save(
            update_fields=[
                "register",
                "number",
                "number_symbol",
                "issued_on",
                "issued_at",
                "issued_file_key",
                "issued_sha256",
                "state",
            ]
        )
        core_services.event_publish(
            topic="office.document_issued",
            key=locked.number_symbol,
            payload={"document_id": locked.pk, "agency_id": locked.agency_id, "number": number},
        )
    return locked


# --- numbers from outside, incoming documents -----------------------------------------------------


@audited("office.outgoing_import")
def outgoing_import(
    *,
    agency_id: int,
    year: int,
    number: int,
    number_symbol: str,
    doc_type: str,
    summary: str,
    issued_on: dt.date,
    official: Any,
    agency_abbreviation: str = "",
    confidential: bool = False,
    electronic: bool = False,
) -> OutgoingDocument:
    """Record an outgoing document numbered outside the platform (a legacy system, a number typed
    from paper) as given: nothing is refused here, the register check shows clashes and gaps. The
    register's next platform number comes after the highest imported."""
    _check_role(official, agency_id, CLERK_ROLES)
    register = register_get(agency_id=agency_id, direction=Direction.OUTGOING, year=year, confidential=confidential)
    # the platform's numbering continues after the highest number brought in (a register taken
    # over in the middle of the year), so it does not run into the imported ones
    Register.objects.select_for_update().filter(pk=register.pk, last__lt=number).update(last=number)
    return OutgoingDocument.objects.create(
        agency_id=agency_id,
        agency_abbreviation=agency_abbreviation,
        doc_type=doc_type,
        summary=summary[:500],
        drafted_by=official,
        register=register,
        number=number,
        number_symbol=number_symbol,
        issued_on=issued_on,
        state=DocumentState.ISSUED,
        origin=Origin.IMPORTED,
        electronic=electronic,
        created_at=timezone.now(),
    )


@audited("office.incoming_register")
def incoming_register(
    *,
    official: Any,
    agency_id: int,
    number_symbol: str,
    issuing_body: str,
    doc_type: str,
    summary: str,
    issued_on: dt.date | None = None,
    urgency: str = Urgency.NORMAL,
    confidentiality: str = Confidentiality.NORMAL,
    pages: int | None = None,
    electronic: bool = True,
    dispatch: Any = None,
    record: Any = None,
    file_key: str = "",
    signed_sha256: str = "",
    now: dt.datetime | None = None,
) -> IncomingDocument:
    """Register an incoming document with the next arrival number (số đến) of the agency's
    incoming register of the year, paper and electronic documents in one sequence, confidential
    ones in their own (Decree 30/2020, Art. 22(2))."""
    _check_role(official, agency_id, CLERK_ROLES)
    if doc_type not in doctypes.BY_CODE:
        raise refuse("doc_type_unknown", "Loại văn bản không hợp lệ.", "Unknown type of document.", 422)
    if not number_symbol.strip() or not issuing_body.strip():
        raise refuse(
            "sender_required",
            "Cần số, ký hiệu và cơ quan ban hành của văn bản đến.",
            "The incoming document's number, symbol and issuing body are needed.",
            422,
        )
    now = now or timezone.now()
    confidential = confidentiality != Confidentiality.NORMAL
    register, number = _register_next(
        agency_id=agency_id, direction=Direction.INCOMING, year=_local_year(now), confidential=confidential
    )
    return IncomingDocument.objects.create(
        agency_id=agency_id,
        register=register,
        arrival_number=number,
        arrival_date=timezone.localtime(now).date(),
        number_symbol=number_symbol,
        issued_on=issued_on,
        issuing_body=issuing_body[:300],
        doc_type=doc_type,
        summary=summary[:500],
        urgency=urgency,
        confidentiality=confidentiality,
        pages=pages,
        electronic=electronic,
        dispatch=dispatch,
        record=record,
        file_key=file_key,
        signed_sha256=signed_sha256,
        registered_by=official,
        registered_at=now,
    )
