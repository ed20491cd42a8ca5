"""Verification of signed PDFs: anyone uploads a file (or scans the QR code of a result) and learns
whether its signatures hold, who signed, when, and which result of which dossier it is.

Validation is pyHanko's (signature integrity, the certificate path up to a trusted root, key
usage, revocation against the CRLs we hold, the RFC 3161 time-stamp, and the changes made to the
file after signing). Trusted roots: the platform's demo CA (``HCMGOV_PKI_DIR``) and the PEM files
listed in ``HCMGOV_TRUSTED_ROOTS`` (licensed Vietnamese CAs' roots, the TSA's root).

Statuses: ``valid``; ``altered`` — the bytes the signature covers no longer match it, or the file
was changed after signing in a way a signature does not allow; ``invalid`` — the file is as signed
but the signature cannot be trusted (bad signature value, unknown issuer, revoked or expired
certificate, bad time-stamp); ``unsigned`` — a readable PDF without signatures; ``unsupported`` —
not a PDF, encrypted, or too broken to read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from django.db.models import Q

from hcmgov.common.aio import run_sync
from hcmgov.common.config import config
from hcmgov.common.errors import Message
from hcmgov.documents import pdfparse, pki
from hcmgov.documents.models import Certification, Result, SigningCertificate

VALID, INVALID, ALTERED, UNSIGNED, UNSUPPORTED = "valid", "invalid", "altered", "unsigned", "unsupported"
_RANK = {VALID: 0, INVALID: 1, ALTERED: 2}
MAGIC = {
    b"\x89PNG": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF8": "GIF",
    b"PK\x03\x04": "ZIP/DOCX",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"\xd0\xcf\x11\xe0": "DOC/XLS",
}


def trusted_root_files() -> list[str]:
    return config(
        "HCMGOV_TRUSTED_ROOTS",
        [],
        help="Comma-separated PEM files of root certificates trusted when verifying signed PDFs "
        "(licensed CAs, the time-stamping authority's root), besides the demo CA in HCMGOV_PKI_DIR.",
        group="documents",
    )


MAX_BYTES = 20 * 1024 * 1024  # the largest PDF verified (page and API): a result is far smaller

trusted_root_files()  # declare the setting at import (`hcmgov configdoc`)


@dataclass
class Verdict:
    """What verification found. ``signatures`` counts the signatures; the other fields describe the
    first one (the issuing agency's) and the worst status among all."""

    status: str
    reason: Message
    sha256: str = ""
    signatures: int = 0
    signer: str = ""
    agency: str = ""
    agency_code: str = ""
    certificate_fingerprint: str = ""
    signed_at: dt.datetime | None = None
    timestamped_at: dt.datetime | None = None
    covers_whole_file: bool | None = None
    modification: str = ""
    dossier_code: str = ""
    result_number: str = ""
    result_revoked: bool = False
    certification_number: str = ""  # an electronic certified copy of the certification book (documents.certification)
    details: list[str] = field(default_factory=list)


# --- trust --------------------------------------------------------------------------------------

_roots_cache: dict[str, Any] = {}


def _load_pem_certs(path: Path) -> list[Any]:
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    data = path.read_bytes()
    if not pem.detect(data):
        return [asn1_x509.Certificate.load(data)]
    return [
        asn1_x509.Certificate.load(der) for kind, _, der in pem.unarmor(data, multiple=True) if kind == "CERTIFICATE"
    ]


def trusted_roots() -> list[Any]:
    """The demo CA and the certificates of ``HCMGOV_TRUSTED_ROOTS`` (asn1crypto; cached per file change)."""
    paths = [Path(p) for p in trusted_root_files()]
    ca = pki.ca_certificate()
    key = (
        ca.sha256 if ca is not None else b"",
        tuple((str(p), p.stat().st_mtime_ns if p.exists() else 0) for p in paths),
    )
    if _roots_cache.get("key") != key:
        roots = [ca] if ca is not None else []
        for path in paths:
            if path.exists():
                roots.extend(_load_pem_certs(path))
        _roots_cache.update(key=key, roots=roots)
    return list(_roots_cache["roots"])


def validation_context() -> Any:
    """A pyHanko validation context: our trusted roots and the demo CA's current CRL, no fetching
    (a verification page must not make the server call out to addresses a file names)."""
    from pyhanko_certvalidator import ValidationContext

    crl = pki.crl_current()
    return ValidationContext(
        trust_roots=trusted_roots(),
        crls=[crl] if crl is not None else [],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


# --- verification -------------------------------------------------------------------------------


def _unsupported(sha: str, vi: str, en: str) -> Verdict:
    return Verdict(UNSUPPORTED, Message(vi, en), sha256=sha)


def pdf_verify(*, data: bytes) -> Verdict:
    """Verify every signature of a PDF; see the module docstring for the statuses."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    pdfparse.install()
    sha = hashlib.sha256(data).hexdigest()
    if b"%PDF-" not in data[:1024]:
        kind = next((name for magic, name in MAGIC.items() if data.startswith(magic)), "")
        what = f" (tệp {kind})" if kind else ""
        what_en = f" (a {kind} file)" if kind else ""
        return _unsupported(sha, f"Tệp không phải là PDF{what}.", f"The file is not a PDF{what_en}.")
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        if reader.encrypted:
            return _unsupported(
                sha,
                "Tệp PDF được mã hoá: không kiểm tra được chữ ký.",
                "The PDF is encrypted: its signatures cannot be checked.",
            )
        signatures = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        return _unsupported(
            sha, f"Tệp PDF bị hỏng, không đọc được: {exc}", f"The PDF is damaged and cannot be read: {exc}"
        )
    if not signatures:
        return Verdict(
            UNSIGNED, Message("Tệp PDF không có chữ ký số.", "The PDF has no digital signature."), sha256=sha
        )
    context = validation_context()
    verdicts = [_verify_one(sig, context) for sig in signatures]
    first = verdicts[0]
    worst = max(verdicts, key=lambda v: _RANK[v.status])
    verdict = Verdict(
        worst.status,
        worst.reason,
        sha256=sha,
        signatures=len(signatures),
        **{k: getattr(first, k) for k in _SIGNATURE_FIELDS},
    )
    verdict.details = [f"{i + 1}: {v.status} — {v.reason.en}" for i, v in enumerate(verdicts)]
    _attach_result(verdict)
    return verdict


_SIGNATURE_FIELDS = (
    "signer",
    "agency",
    "agency_code",
    "certificate_fingerprint",
    "signed_at",
    "timestamped_at",
    "covers_whole_file",
    "modification",
)


def _verify_one(sig: Any, context: Any) -> Verdict:
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    verdict = Verdict(INVALID, Message("", ""))
    try:
        cert = sig.signer_cert
        verdict.signer = cert.subject.human_friendly
        verdict.certificate_fingerprint = cert.sha256.hex()
        verdict.agency_code = cert.subject.native.get("organization_name", "") or ""
        verdict.agency = verdict.agency_code
        status = run_sync(async_validate_pdf_signature(sig, signer_validation_context=context))
    except (SignatureValidationError, ValueError, KeyError, TypeError) as exc:
        verdict.reason = Message(
            f"Chữ ký số bị hỏng, không kiểm tra được: {exc}", f"The signature is malformed and cannot be checked: {exc}"
        )
        return verdict
    verdict.signed_at = status.signer_reported_dt
    ts = status.timestamp_validity
    verdict.timestamped_at = ts.timestamp if ts is not None else None
    verdict.covers_whole_file = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    verdict.modification = status.modification_level.name.lower() if status.modification_level is not None else ""
    verdict.status, verdict.reason = _judge(status)
    revoked = pki.crl_revoked_serials().get(cert.serial_number) if verdict.status == VALID else None
    if revoked is not None:
        # pyHanko checks the certificate at the time-stamp's time: revoked later, the signature
        # stands (it provably came first), but the reader should know
        verdict.reason = Message(
            f"Chữ ký hợp lệ; chứng thư số bị thu hồi sau thời điểm ký ({revoked:%d/%m/%Y %H:%M} UTC).",
            f"The signature is valid; the certificate was revoked after signing ({revoked:%Y-%m-%d %H:%M} UTC).",
        )
    return verdict


def _judge(status: Any) -> tuple[str, Message]:
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    if not status.intact:
        return ALTERED, Message(
            "Tệp đã bị thay đổi sau khi ký: nội dung được ký không còn khớp với chữ ký (sai giá trị băm).",
            "The file was changed after signing: the signed bytes no longer match the signature (digest mismatch).",
        )
    if not status.valid:
        return INVALID, Message(
            "Chữ ký số không hợp lệ: giá trị chữ ký không khớp với chứng thư số.",
            "The signature is not valid: its value does not verify against the certificate.",
        )
    if (
        status.coverage is None
        or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION
        or status.docmdp_ok is False
        or (status.modification_level is not None and not status.docmdp_ok)
    ):
        return ALTERED, Message(
            "Tệp đã bị sửa đổi sau khi ký theo cách chữ ký không cho phép.",
            "The file was modified after signing in a way the signature does not allow.",
        )
    ts = status.timestamp_validity
    if ts is not None and not (ts.intact and ts.valid and ts.trusted):
        return INVALID, Message(
            "Dấu thời gian không hợp lệ hoặc do đơn vị không được tin cậy cấp.",
            "The time-stamp is not valid or comes from an untrusted authority.",
        )
    if status.revoked:
        revoked = status.revocation_details.revocation_date
        proven = ts.timestamp if ts is not None else None
        if proven is not None and revoked > proven:  # signed (time-stamp proves it) before the revocation
            return VALID, Message(
                f"Chữ ký hợp lệ; chứng thư số bị thu hồi sau thời điểm ký ({revoked:%d/%m/%Y}).",
                f"The signature is valid; the certificate was revoked after signing ({revoked:%Y-%m-%d}).",
            )
        return INVALID, Message(
            f"Chứng thư số của người ký đã bị thu hồi ({revoked:%d/%m/%Y}).",
            f"The signer's certificate has been revoked ({revoked:%Y-%m-%d}).",
        )
    if not status.trusted:
        problem = status.trust_problem_indic.name if status.trust_problem_indic is not None else "NO_CHAIN"
        return INVALID, Message(
            f"Chứng thư số của người ký không được tin cậy ({problem}): không do tổ chức chứng thực được tin cậy "
            "cấp, đã hết hạn hoặc không dùng để ký.",
            f"The signer's certificate is not trusted ({problem}): not issued by a trusted CA, expired, "
            "or not for signing.",
        )
    return VALID, Message(
        "Chữ ký số hợp lệ: tệp nguyên vẹn từ khi ký, người ký được tin cậy.",
        "The signature is valid: the file is intact since signing and the signer is trusted.",
    )


def _attach_result(verdict: Verdict) -> None:
    """Name the agency from our certificate register and find the result the file is."""
    if verdict.certificate_fingerprint:
        row = (
            SigningCertificate.objects.select_related("agency")
            .filter(fingerprint_sha256=verdict.certificate_fingerprint)
            .first()
        )
        if row is not None:
            verdict.agency, verdict.agency_code = row.agency.name, row.agency.code
    match = Q(signed_sha256=verdict.sha256)
    if verdict.certificate_fingerprint and (verdict.timestamped_at or verdict.signed_at):
        # the same signature in a file re-saved since (validation data appended): certificate + time-stamp token
        same = Q(certificate__fingerprint_sha256=verdict.certificate_fingerprint)
        if verdict.timestamped_at is not None:
            match |= same & Q(timestamped_at=verdict.timestamped_at)
        elif verdict.signed_at is not None:
            match |= same & Q(signed_at=verdict.signed_at)
    copy = Certification.objects.filter(signed_sha256=verdict.sha256).first() if verdict.sha256 else None
    if copy is not None:
        verdict.certification_number = copy.book_number
    result = Result.objects.filter(match).order_by("-signed_at").first()
    if result is not None:
        verdict.dossier_code, verdict.result_number = result.dossier_code, result.number
        verdict.result_revoked = result.revoked_at is not None


def result_by_token(token: str) -> Result | None:
    """The result a QR code's verification URL names (``verify_token``), or ``None``."""
    if not token or len(token) > 32:
        return None
    return Result.objects.select_related("agency", "certificate").filter(verify_token=token).first()
