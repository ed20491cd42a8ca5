"""Results as signed PDFs: rendered from a template as PDF/A, signed PAdES by the agency's
certificate, time-stamped by an RFC 3161 authority, so that anyone — the citizen, another agency, a
bank — can verify them with any PAdES validator (see :mod:`hcmgov.documents.verification`).

The profile is PAdES baseline B-T (ETSI EN 319 142-1): a CAdES detached signature
(``/SubFilter /ETSI.CAdES.detached``, SHA-256) with a signature time-stamp from the TSA at
``HCMGOV_TSA_URL`` (B-B when it is empty), plus the CA's CRL and certificates in the document
security store when ``HCMGOV_PADES_EMBED_VALIDATION_INFO`` is on (towards B-LT; off by default, see
its help and ``bench/signing.py``). Electronic results carry the same legal value as paper ones
when signed by the competent agency (Decree 45/2020/NĐ-CP, Art. 25, as the platform reads it; not
checked against the decree's text here).

The visible signature stamp is drawn with DejaVu Sans (fonts-dejavu-core), embedded as a subset:
pyHanko's own OpenType engine needs HarfBuzz (``uharfbuzz``), which the project does not ship, and
the standard fonts have no Vietnamese letters and are not embedded (PDF/A forbids that). Vietnamese
needs no shaping beyond precomposed letters (NFC), so glyphs are looked up in the font's cmap.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import segno
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from hcmgov.common.aio import run_sync
from hcmgov.common.config import config
from hcmgov.common.errors import DomainError, Message
from hcmgov.documents import pki
from hcmgov.documents.models import SigningCertificate

FIELD_NAME = "ChuKySo"
PDF_VARIANT = "pdf/a-3b"
STAMP_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian fonts-dejavu-core
PX_TO_PT = 0.75  # CSS px (1/96 in) to PDF points (1/72 in)
_reservations: dict[tuple[int, bool, bool], int] = {}  # see _sign


def tsa_url() -> str:
    return config(
        "HCMGOV_TSA_URL",
        "",
        help="RFC 3161 time-stamping authority that time-stamps signed results (PAdES B-T), e.g. the "
        "simulator's http://127.0.0.1:PORT (`hcmgov sim tsa`). Empty: results are signed without a time-stamp.",
        group="documents",
    )


def tsa_timeout() -> float:
    return config(
        "HCMGOV_TSA_TIMEOUT", 10.0, help="Seconds to wait for the time-stamping authority.", group="documents"
    )


def embed_validation_info() -> bool:
    return config(
        "HCMGOV_PADES_EMBED_VALIDATION_INFO",
        False,
        help="Append the CA's CRL and certificates (document security store) after each signature, towards "
        "PAdES B-LT. Off: B-T, the signature covers the whole file, and signing and verifying are several "
        "times faster (no revision after the signature to analyse).",
        group="documents",
    )


tsa_url()
embed_validation_info()
tsa_timeout()  # declare the settings at import (`hcmgov configdoc`)


# --- rendering ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultContent:
    """What a result document says (kết quả giải quyết thủ tục hành chính)."""

    title_vi: str
    title_en: str
    number: str
    agency_name: str
    applicant_name: str
    dossier_code: str
    procedure_name: str
    issued: dt.date
    paragraphs: Sequence[str] = field(default_factory=tuple)
    verify_url: str = ""


def result_pdf(*, content: ResultContent) -> bytes:
    """The result as a PDF/A-3b document (fonts embedded) with a QR code of ``verify_url`` and an
    empty signature field, named :data:`FIELD_NAME`, where :func:`pdf_sign` puts its stamp."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields
    from weasyprint import HTML  # heavy import: only when a PDF is asked for

    qr = segno.make(content.verify_url or content.dossier_code, error="m").svg_inline(scale=3, border=1)
    with translation.override("vi"):
        html = render_to_string("documents/result.html", {"c": content, "qr": qr})
    document = HTML(string=html, base_url=str(settings.BASE_DIR)).render(pdf_variant=PDF_VARIANT)
    box = None
    for index, page in enumerate(document.pages):
        if "chu-ky-so" in page.anchors:
            left, top, right, bottom = page.anchors["chu-ky-so"]  # CSS px from the page's top left
            page_height = page.height * PX_TO_PT
            box = (
                index,
                left * PX_TO_PT,
                page_height - bottom * PX_TO_PT,
                right * PX_TO_PT,
                page_height - top * PX_TO_PT,
            )
    data: bytes = document.write_pdf(pdf_variant=PDF_VARIANT)
    if box is None:  # the template always has the area; a custom one might not
        return data
    writer = IncrementalPdfFileWriter(BytesIO(data))
    page_index, x1, y1, x2, y2 = box
    fields.append_signature_field(
        writer, fields.SigFieldSpec(FIELD_NAME, on_page=page_index, box=(int(x1), int(y1), int(x2), int(y2)))
    )
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


# --- the stamp's font ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subset:
    """A TrueType subset for a set of characters: its bytes, glyph ids, widths (1/1000 em), metrics."""

    data: bytes
    ps_name: str
    gids: dict[str, int]
    widths: dict[int, int]
    bbox: tuple[int, int, int, int]
    ascent: int
    descent: int
    cap_height: int


@functools.lru_cache(maxsize=64)
def _subset(chars: frozenset[str]) -> _Subset:
    from fontTools import subset, ttLib

    options = subset.Options(layout_closure=False)
    options.drop_tables += ["GPOS", "GDEF", "GSUB"]
    options.notdef_outline = True
    font = ttLib.TTFont(str(STAMP_FONT))
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(font)
    buffer = BytesIO()
    font.save(buffer)
    font = ttLib.TTFont(BytesIO(buffer.getvalue()))
    scale = 1000 / font["head"].unitsPerEm
    cmap = font.getBestCmap()
    gids = {chr(code): font.getGlyphID(name) for code, name in cmap.items()}
    widths = {font.getGlyphID(name): round(font["hmtx"][name][0] * scale) for name in font.getGlyphOrder()}
    head, os2 = font["head"], font["OS/2"]
    return _Subset(
        data=buffer.getvalue(),
        ps_name=font["name"].getDebugName(6) or "DejaVuSans",
        gids=gids,
        widths=widths,
        bbox=tuple(round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)),
        ascent=round(os2.sTypoAscender * scale),
        descent=round(os2.sTypoDescender * scale),
        cap_height=round(getattr(os2, "sCapHeight", 0) * scale) or 700,
    )


def _engine_factory(text: str) -> Any:
    """A pyHanko font engine factory drawing ``text``'s characters (and digits) from DejaVu Sans."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.font.api import FontEngine, FontEngineFactory, ShapeResult

    font = _subset(frozenset(unicodedata.normalize("NFC", text)) | frozenset("0123456789:/+- ()"))
    name = generic.NameObject

    class Engine(FontEngine):
        def __init__(self, writer: Any) -> None:
            super().__init__(writer, font.ps_name, embedded_subset=True)
            self._ref: Any = None

        @property
        def uses_complex_positioning(self) -> bool:
            return False

        def shape(self, txt: str) -> ShapeResult:
            gids = [font.gids.get(c, 0) for c in unicodedata.normalize("NFC", txt)]
            ops = b"<" + b"".join(b"%04x" % g for g in gids) + b"> Tj"
            return ShapeResult(graphics_ops=ops, x_advance=sum(font.widths.get(g, 0) for g in gids) / 1000, y_advance=0)

        def as_resource(self) -> Any:
            if self._ref is None:
                self._ref = self._embed()
            return self._ref

        def _embed(self) -> Any:
            writer = self.writer
            base = f"{self.subset_prefix}+{font.ps_name}"
            file = generic.StreamObject(stream_data=font.data)
            file["/Length1"] = generic.NumberObject(len(font.data))
            file.compress()
            descriptor = generic.DictionaryObject(
                {
                    name("/Type"): name("/FontDescriptor"),
                    name("/FontName"): name("/" + base),
                    name("/Flags"): generic.NumberObject(32),  # nonsymbolic
                    name("/FontBBox"): generic.ArrayObject([generic.NumberObject(v) for v in font.bbox]),
                    name("/ItalicAngle"): generic.NumberObject(0),
                    name("/Ascent"): generic.NumberObject(font.ascent),
                    name("/Descent"): generic.NumberObject(font.descent),
                    name("/CapHeight"): generic.NumberObject(font.cap_height),
                    name("/StemV"): generic.NumberObject(80),
                    name("/FontFile2"): writer.add_object(file),
                }
            )
            widths = generic.ArrayObject()
            for gid in sorted(font.widths):
                widths.extend(
                    [generic.NumberObject(gid), generic.ArrayObject([generic.NumberObject(font.widths[gid])])]
                )
            cid_font = generic.DictionaryObject(
                {
                    name("/Type"): name("/Font"),
                    name("/Subtype"): name("/CIDFontType2"),
                    name("/BaseFont"): name("/" + base),
                    name("/CIDSystemInfo"): generic.DictionaryObject(
                        {
                            name("/Registry"): generic.TextStringObject("Adobe"),
                            name("/Ordering"): generic.TextStringObject("Identity"),
                            name("/Supplement"): generic.NumberObject(0),
                        }
                    ),
                    name("/FontDescriptor"): writer.add_object(descriptor),
                    name("/W"): widths,
                    name("/CIDToGIDMap"): name("/Identity"),
                }
            )
            pairs = "".join(
                f"<{gid:04x}> <{ch.encode('utf-16-be').hex()}>\n"
                for ch, gid in sorted(font.gids.items(), key=lambda i: i[1])
            )
            count = len(font.gids)
            to_unicode = generic.StreamObject(
                stream_data=(
                    "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
                    "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
                    "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
                    "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
                    f"{count} beginbfchar\n{pairs}endbfchar\n"
                    "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
                ).encode("ascii")
            )
            to_unicode.compress()
            return writer.add_object(
                generic.DictionaryObject(
                    {
                        name("/Type"): name("/Font"),
                        name("/Subtype"): name("/Type0"),
                        name("/BaseFont"): name("/" + base),
                        name("/Encoding"): name("/Identity-H"),
                        name("/DescendantFonts"): generic.ArrayObject([writer.add_object(cid_font)]),
                        name("/ToUnicode"): writer.add_object(to_unicode),
                    }
                )
            )

    class Factory(FontEngineFactory):
        def create_font_engine(self, writer: Any, obj_stream: Any = None) -> FontEngine:
            return Engine(writer)

    return Factory()


# --- signing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signed:
    """A signed PDF, its SHA-256 (hex), the signing time and the time in its RFC 3161 token."""

    data: bytes
    sha256: str
    signed_at: dt.datetime
    timestamped_at: dt.datetime | None


def _refuse(code: str, vi: str, en: str) -> DomainError:
    return DomainError(code, Message(vi, en), status=409)


def certificate_check(*, certificate: SigningCertificate, now: dt.datetime | None = None) -> None:
    """Refuse a certificate that may not sign at ``now``: revoked (in its row or in the demo CA's
    CRL), inactive, not yet valid or expired."""
    moment = now or timezone.now()
    revoked_at = certificate.revoked_at
    authority = pki.ca_certificate()
    if revoked_at is None and authority is not None and certificate.issuer == _issuer_name(authority):
        revoked_at = pki.crl_revoked_serials().get(int(certificate.serial, 16))
    if revoked_at is not None:  # whatever ``now`` says: a revoked key signs nothing more
        when = timezone.localtime(revoked_at).strftime("%d/%m/%Y %H:%M")
        raise _refuse(
            "certificate_revoked",
            f"Chứng thư số {certificate.serial} đã bị thu hồi lúc {when}: không được dùng để ký.",
            f"Certificate {certificate.serial} was revoked at {when}: it may not sign.",
        )
    if not certificate.active:
        raise _refuse(
            "certificate_inactive",
            f"Chứng thư số {certificate.serial} đang bị tạm dừng sử dụng.",
            f"Certificate {certificate.serial} is not active.",
        )
    if moment < certificate.not_before:
        raise _refuse(
            "certificate_not_yet_valid",
            f"Chứng thư số {certificate.serial} chưa có hiệu lực (từ {certificate.not_before:%d/%m/%Y}).",
            f"Certificate {certificate.serial} is not valid yet (from {certificate.not_before:%Y-%m-%d}).",
        )
    if moment > certificate.not_after:
        raise _refuse(
            "certificate_expired",
            f"Chứng thư số {certificate.serial} đã hết hạn ngày {certificate.not_after:%d/%m/%Y}.",
            f"Certificate {certificate.serial} expired on {certificate.not_after:%Y-%m-%d}.",
        )


@functools.lru_cache(maxsize=4)
def _issuer_name_cached(der: bytes) -> str:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


def _issuer_name(authority: Any) -> str:
    return _issuer_name_cached(authority.dump())


_timestampers: dict[tuple[str, float], Any] = {}


def _timestamper(url: str) -> Any:
    """One HTTP time-stamper per URL: pyHanko keeps a dummy token per instance to size signatures."""
    from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper

    key = (url, tsa_timeout())
    if key not in _timestampers:
        _timestampers[key] = HTTPTimeStamper(url, timeout=key[1])
    return _timestampers[key]


def _stamp_style(lines: str) -> Any:
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.stamp import TextStampStyle

    return TextStampStyle(
        stamp_text=lines,
        text_box_style=TextBoxStyle(font=_engine_factory(lines), font_size=7, leading=9),
        border_width=1,
        border_color=(0.55, 0.0, 0.0),
        background=None,
    )


def _subject_part(pem: str, oid_name: str) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(pem.encode())
    values = cert.subject.get_attributes_for_oid(getattr(NameOID, oid_name))
    return str(values[0].value) if values else ""


def pdf_sign(
    *, pdf: bytes, certificate: SigningCertificate, reason: str, location: str, now: dt.datetime | None = None
) -> Signed:
    """Sign ``pdf`` PAdES with ``certificate`` (B-T when ``HCMGOV_TSA_URL`` is set), into the empty
    field :data:`FIELD_NAME` when there is one (else a new one at the foot of the last page), with a
    visible stamp: signer, agency, time, in Vietnamese and English. Refuses a certificate that is
    revoked, inactive, expired or not yet valid (:func:`certificate_check`)."""
    moment = (now or timezone.now()).astimezone(dt.UTC).replace(microsecond=0)
    certificate_check(certificate=certificate, now=moment)
    signer = pki.signer_load(certificate=certificate)
    url = tsa_url()
    recorder = _Recorder(_timestamper(url)) if url else None
    try:
        data = run_sync(
            _sign(pdf, signer, reason, location, moment, recorder, *_stamp_lines(certificate, reason, moment))
        )
    except DomainError:
        raise
    except Exception as exc:  # pyHanko: SigningError, PdfReadError, TimestampRequestError…
        raise _sign_error(exc) from exc
    return Signed(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        signed_at=moment,
        timestamped_at=recorder.gen_time if recorder else None,
    )


def _describe(exc: BaseException) -> str:
    """The error and its causes (python-pkcs11's exceptions have no message, only a class)."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(parts) < 3:
        parts.append(f"{type(current).__name__}: {current}".rstrip(": "))
        current = current.__cause__
    return " ← ".join(parts)


def _sign_error(exc: Exception) -> DomainError:
    from pyhanko.sign.timestamps import TimestampRequestError

    if isinstance(exc, TimestampRequestError) or "timestamp" in type(exc).__name__.lower():
        return DomainError(
            "tsa_unavailable",
            Message(
                f"Không lấy được dấu thời gian từ máy chủ cấp dấu thời gian: {exc}",
                f"The time-stamping authority did not answer with a time-stamp: {exc}",
            ),
            status=503,
        )
    return DomainError(
        "pdf_not_signable",
        Message(f"Không ký được tệp PDF: {_describe(exc)}", f"The PDF could not be signed: {_describe(exc)}"),
        status=422,
    )


class _Recorder:
    """Wraps the shared time-stamper for one signing and keeps the ``genTime`` of its token."""

    def __init__(self, inner: Any) -> None:
        from pyhanko.sign.timestamps import TimeStamper

        class Recording(TimeStamper):
            async def async_dummy_response(self_, md_algorithm: str) -> Any:
                return await inner.async_dummy_response(md_algorithm)

            async def async_request_tsa_response(self_, req: Any) -> Any:
                return await inner.async_request_tsa_response(req)

            async def async_timestamp(self_, message_digest: bytes, md_algorithm: str) -> Any:
                token = await super().async_timestamp(message_digest, md_algorithm)
                self.gen_time = token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
                return token

        self.gen_time: dt.datetime | None = None
        self.stamper = Recording()


def _stamp_lines(certificate: SigningCertificate, reason: str, moment: dt.datetime) -> tuple[str, str]:
    """The signer's name and the stamp's text (read here: the signing itself runs in an event loop,
    where Django refuses database queries)."""
    signer_name = _subject_part(certificate.certificate_pem, "COMMON_NAME") or certificate.subject
    agency_code = _subject_part(certificate.certificate_pem, "ORGANIZATION_NAME")
    agency = certificate.agency.name if certificate.agency_id else signer_name
    local = timezone.localtime(moment)
    lines = (
        f"Ký số bởi / Signed by: {signer_name}\n"
        f"Cơ quan / Agency: {agency}{f' ({agency_code})' if agency_code else ''}\n"
        f"Thời gian ký / Signed at: {local:%d/%m/%Y %H:%M:%S} (UTC+07:00)\n"
        f"Lý do / Reason: {reason}"
    )
    return signer_name, lines


async def _sign(
    pdf: bytes,
    signer: Any,
    reason: str,
    location: str,
    moment: dt.datetime,
    recorder: _Recorder | None,
    signer_name: str,
    lines: str,
) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.signers.pdf_signer import PdfCMSSignedAttributes

    from hcmgov.documents.verification import validation_context

    embed = embed_validation_info()
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    existing = {name for name, value, _ in fields.enumerate_sig_fields(writer.prev, filled_status=False)}
    spec = None
    if FIELD_NAME not in existing:
        last_page = int(writer.root["/Pages"]["/Count"]) - 1
        spec = fields.SigFieldSpec(FIELD_NAME, on_page=last_page, box=(300, 40, 545, 125))
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        name=signer_name,
        embed_validation_info=embed,
        validation_context=validation_context() if embed else None,
        signer_key_usage={"non_repudiation"},
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer,
        timestamper=recorder.stamper if recorder else None,
        stamp_style=_stamp_style(lines),
        new_field_spec=spec,
    )
    # pyHanko's sign_pdf, step by step, to sign at ``moment`` rather than the clock's time
    session = pdf_signer.init_signing_session(writer)
    session.system_time = moment
    validation_info = await session.perform_presign_validation(writer)
    # pyHanko's estimate makes a whole dummy signature (a third of the signing time): do it once per
    # signer, TSA and DSS setting and keep it. Not a fixed large reservation: verifiers parse the
    # hex of /Contents byte by byte (pyHanko's reader spends half a verification there)
    size_key = (id(signer), recorder is not None, embed)
    reserved = _reservations.get(size_key)
    if reserved is None:
        reserved = await session.estimate_signature_container_size(validation_info, tight=False)
        _reservations[size_key] = reserved
    tbs = session.prepare_tbs_document(validation_info=validation_info, bytes_reserved=reserved)
    digest, output = tbs.digest_tbs_document(in_place=False, output=None)
    post = await tbs.perform_signature(
        document_digest=digest.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(
            signing_time=moment,
            adobe_revinfo_attr=None if validation_info is None else validation_info.adobe_revinfo_attr,
        ),
    )
    await post.post_signature_processing(output)
    output.seek(0)
    return output.read()
