"""The certification book (sổ chứng thực bản sao từ bản chính): copies certified from their
originals by a commune's or ward's People's Committee (or another competent agency), on paper or
electronically, each entered in the agency's book of the year with its number.

**The rule.** Decree 23/2015/NĐ-CP on certifying copies from originals: the person brings the
original; the official compares the copy with it, writes the certification statement (lời chứng),
signs, and enters the certification in the book (sổ chứng thực), numbered from 1 in each book.
Decree 45/2020/NĐ-CP on administrative procedures in electronic form adds the *electronic* copy
certified from a paper original ("chứng thực bản sao điện tử từ bản chính"): the original is
scanned, and the electronic copy carries the statement and the agency's digital signature. The
fee is Circular 226/2016/TT-BTC's: 2,000 đồng a page, 1,000 đồng a page from the third, at most
200,000 đồng a copy. (Read from secondary sources; the decrees' and the circular's own texts were
not checked here. Confidence: medium — see docs/reporting/index-766-desk.md.)

**Numbering.** ``number`` is the agency's next of the year (core's gap-free sequence, scope
``certbook:<agency>``, day 1 January), drawn inside the transaction that writes the entry; a
refusal or a failure after the draw rolls the transaction back and gives the number back. Two
officials certifying at once queue on the counter's row: consecutive numbers, never the same (the
unique constraint on agency, year and number is the last guard). For an electronic copy the row
stays locked while the PDF is built and signed (as results are, ``documents.results``).

**Nothing half-written.** Every input is checked before the number is drawn; the scan of the
original is kept as a *draft* blob (purged if nothing keeps it) and raised to permanent only in the
transaction that writes the entry.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from hcmgov.audit.services import audited
from hcmgov.common.errors import DomainError, FieldError, Message
from hcmgov.core import selectors as core
from hcmgov.core import services as core_services
from hcmgov.documents import signing, storage
from hcmgov.documents.models import Certification, CertificationKind, Retention
from hcmgov.identity import selectors as identity

CERTIFIER_ROLES = {"receiver", "head", "leader"}  # the desk records it; the head or leader signs (Decree 23/2015)
LOCATION = "Thành phố Hồ Chí Minh"
PAGE_FEE, LATER_PAGE_FEE, MAX_FEE_PER_COPY = 2_000, 1_000, 200_000  # đồng (Circular 226/2016/TT-BTC, Art. 4)
MAX_PAGES, MAX_COPIES = 500, 100


def certification_fee(*, pages: int, copies: int) -> int:
    """The fee in đồng: per copy 2,000 đồng for each of the first two pages, 1,000 đồng for each
    page from the third, at most 200,000 đồng; times the copies."""
    per_copy = PAGE_FEE * min(pages, 2) + LATER_PAGE_FEE * max(0, pages - 2)
    return min(per_copy, MAX_FEE_PER_COPY) * copies


def _field(name: str, vi: str, en: str) -> FieldError:
    return FieldError(name, "invalid", Message(vi, en))


def _invalid(errors: list[FieldError]) -> DomainError:
    return DomainError(
        "invalid_certification",
        Message(
            "Thông tin chứng thực chưa hợp lệ, vui lòng kiểm tra các mục được đánh dấu.",
            "The certification is not valid yet: please check the marked items.",
        ),
        status=422,
        errors=errors,
    )


@dataclass(frozen=True)
class CertificationInput:
    """What the official enters for one certification (paper or electronic)."""

    requester_name: str
    document_title: str
    requester_id: str = ""
    document_issuer: str = ""
    pages: int | None = None  # paper: pages of one copy; electronic: read from the scan
    copies: int | None = None  # paper: copies certified; electronic: always 1


def _check(kind: str, given: CertificationInput) -> list[FieldError]:
    errors = []
    if kind not in CertificationKind.values:
        errors.append(_field("kind", "Vui lòng chọn bản sao giấy hoặc điện tử.", "Please choose paper or electronic."))
    if not given.requester_name.strip():
        errors.append(_field("requester_name", "Vui lòng nhập họ tên người yêu cầu.", "Please give the requester."))
    if given.requester_id and not (given.requester_id.isdigit() and len(given.requester_id) == 12):
        errors.append(
            _field("requester_id", "Số định danh cá nhân gồm 12 chữ số.", "A personal ID number has 12 digits.")
        )
    if not given.document_title.strip():
        errors.append(_field("document_title", "Vui lòng nhập tên bản chính.", "Please give the original's title."))
    if kind == CertificationKind.PAPER:
        if given.pages is None or not 1 <= given.pages <= MAX_PAGES:
            errors.append(
                _field("pages", f"Số trang từ 1 đến {MAX_PAGES}.", f"The pages must be from 1 to {MAX_PAGES}.")
            )
        if given.copies is None or not 1 <= given.copies <= MAX_COPIES:
            errors.append(
                _field("copies", f"Số bản sao từ 1 đến {MAX_COPIES}.", f"The copies must be from 1 to {MAX_COPIES}.")
            )
    return errors


def _check_official(official: Any, agency_id: int) -> None:
    if not identity.user_has_role(user=official, agency_id=agency_id, roles=CERTIFIER_ROLES):
        raise DomainError(
            "forbidden",
            Message("Bạn không chứng thực bản sao tại cơ quan này.", "You do not certify copies at this agency."),
            403,
        )


@audited("certification.record")
def certification_record(
    *,
    official: Any,
    agency_id: int,
    kind: str,
    given: CertificationInput,
    original: bytes = b"",
    filename: str = "",
    now: dt.datetime | None = None,
) -> Certification:
    """Enter a certification in the agency's book of the year, with its number.

    ``paper``: the copies certified on paper (``given.pages`` and ``given.copies``). ``electronic``:
    ``original`` is the scan of the original (PDF, JPEG or PNG, checked and scanned for malware like
    every upload); the copy is a PDF of the scan followed by the certification statement, signed
    PAdES with the agency's certificate in force (refused when it has none). Raises ``DomainError``
    (422 the input, 403 the official's role, 409 no certificate) with nothing written."""
    _check_official(official, agency_id)
    errors = _check(kind, given)
    if kind == CertificationKind.ELECTRONIC and not original:
        errors.append(
            _field("file", "Vui lòng chọn tệp bản quét bản chính.", "Please choose the scan of the original.")
        )
    if errors:
        raise _invalid(errors)
    now = now or timezone.now()
    agency = core.agency_list().get(pk=agency_id)
    local = timezone.localtime(now)
    if kind == CertificationKind.PAPER:
        pages, copies = int(given.pages or 0), int(given.copies or 0)
        with transaction.atomic():
            number = core_services.sequence_next(scope=f"certbook:{agency_id}", day=dt.date(local.year, 1, 1))
            return _create(agency, local.year, number, kind, given, pages, copies, official, now)
    from hcmgov.documents.results import certificate_for

    certificate = certificate_for(agency_id=agency_id, now=now)
    if certificate is None:
        raise DomainError(
            "no_certificate",
            Message(
                f"{agency.name} chưa có chứng thư số còn hiệu lực để ký bản sao điện tử.",
                f"{agency.name_en or agency.name} has no certificate in force to sign electronic copies.",
            ),
            409,
        )
    scan = storage.blob_put(data=original, filename=filename or "ban-chinh.pdf", retention=Retention.DRAFT)
    pages = scan.pages or 1
    with transaction.atomic():
        number = core_services.sequence_next(scope=f"certbook:{agency_id}", day=dt.date(local.year, 1, 1))
        entry = Certification(agency=agency, year=local.year, number=number, certified_at=now)
        statement = _statement_pdf(entry, agency, given, pages)
        copy = _with_original(original, scan.content_type, statement)
        signed = signing.pdf_sign(
            pdf=copy,
            certificate=certificate,
            reason=f"Chứng thực bản sao điện tử, số {entry.book_number} / Certified electronic copy",
            location=LOCATION,
            now=now,
        )
        signed_blob = storage.blob_put(
            data=signed.data, filename=f"ban-sao-{number}-{local.year}.pdf", retention=Retention.PERMANENT, scan=False
        )
        scan = storage.blob_retain(blob=scan, retention=Retention.PERMANENT)
        return _create(
            agency, local.year, number, kind, given, pages, 1, official, now,
            original=scan, signed=signed_blob, certificate=certificate, signed_sha256=signed.sha256,
            timestamped_at=signed.timestamped_at,
        )  # fmt: skip


def _create(
    agency: Any, year: int, number: int, kind: str, given: CertificationInput, pages: int, copies: int,
    official: Any, now: dt.datetime, **signed: Any,
) -> Certification:  # fmt: skip
    return Certification.objects.create(
        agency=agency,
        year=year,
        number=number,
        kind=kind,
        certified_at=now,
        requester_name=given.requester_name.strip()[:150],
        requester_id=given.requester_id.strip()[:12],
        document_title=given.document_title.strip()[:300],
        document_issuer=given.document_issuer.strip()[:300],
        pages=pages,
        copies=copies,
        fee=certification_fee(pages=pages, copies=copies),
        official=official,
        created_at=now,
        **signed,
    )


def _statement_pdf(entry: Certification, agency: Any, given: CertificationInput, pages: int) -> bytes:
    """The certification statement (lời chứng, Decree 23/2015/NĐ-CP's form as the platform reads
    it) as a one-page PDF, its foot left free for the signature stamp (``signing.pdf_sign``)."""
    from weasyprint import HTML  # heavy import: only when a PDF is asked for

    context = {
        "e": entry,
        "agency": agency,
        "given": given,
        "pages": pages,
        "day": timezone.localtime(entry.certified_at),
    }
    with translation.override("vi"):
        html = render_to_string("documents/certification.html", context)
    data: bytes = HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
    return data


def _with_original(original: bytes, content_type: str, statement: bytes) -> bytes:
    """The electronic copy: the pages of the scanned original, then the statement page."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    if content_type == "application/pdf":
        writer.append(PdfReader(BytesIO(original)))
    else:  # an image: one page of it
        writer.append(PdfReader(BytesIO(_image_page(original, content_type))))
    writer.append(PdfReader(BytesIO(statement)))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _image_page(image: bytes, content_type: str) -> bytes:
    from weasyprint import HTML

    uri = f"data:{content_type};base64,{base64.b64encode(image).decode()}"
    html = (
        "<html><head><style>@page { size: A4; margin: 10mm } img { max-width: 100%; max-height: 270mm; "
        f'display: block; margin: auto }}</style></head><body><img src="{uri}" alt=""></body></html>'
    )
    data: bytes = HTML(string=html).write_pdf()
    return data
