"""What an uploaded file is, told from its bytes, and the refusal of the files that are not safe to
keep, show or process (the antivirus scan is separate: :mod:`hcmgov.documents.adapters.clamd`).

:func:`inspect` accepts PDF, JPEG and PNG only — the kinds of ``hcmgov.dossiers.files.ACCEPTED``
(a test keeps the two lists equal) — and refuses, each with a stable code and a message in
Vietnamese and English (:class:`Refused`):

* a type the name does not announce, or none of the three (ZIP and every other archive included:
  no archive is accepted, so an archive bomb can only hide inside a PDF's streams);
* a file over the size limit, a PDF over the page limit;
* an encrypted PDF (it cannot be OCR'd, stamped or signed), a PDF pikepdf cannot open or that qpdf
  reports as damaged (it had to repair it: what we would keep is not what another reader sees);
* a polyglot: a PDF whose header is not at the start (readers look for it in the first 1 KB), a file
  that is also a ZIP, an image with a PDF header inside or another format's signature after its end
  marker, a PDF with more than a little data after its last ``%%EOF``;
* a PDF with active content (JavaScript, launch, import or submit actions, XFA, rich media) or
  embedded files;
* an image or a PDF image with more pixels than the limit (decompression bomb), told from the
  declared size (nothing is decoded);
* a PDF whose compressed streams inflate beyond the budget (archive bomb), measured by inflating in
  bounded chunks that stop at the budget, never all at once.

Anything the parsers raise on hostile bytes becomes a refusal (``malformed_pdf``,
``malformed_image``): a property test feeds random and mutated bytes.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import pikepdf
from django.conf import settings
from PIL import Image

from hcmgov.common.config import config
from hcmgov.common.errors import DomainError, Message

log = logging.getLogger(__name__)

# Accepted extensions and the type their content must show: the same as hcmgov.dossiers.files.ACCEPTED.
EXTENSIONS: dict[str, str] = {
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Signatures of other formats that must not hide after an image's or a PDF's end (4 bytes or more,
# so that random compressed data almost never shows one by chance).
FOREIGN_SIGNATURES = (
    b"%PDF-",
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
    b"PK\x07\x08",
    b"Rar!\x1a\x07",
    b"7z\xbc\xaf\x27\x1c",
    b"\x7fELF",
    b"<script",
    b"<html",
    b"<svg",
    b"<!doctype",
)
# Data a PDF may carry after its last %%EOF without being suspect: the line ends and padding some
# producers write; more than this is a second file.
PDF_TRAILER_ALLOWANCE = 1024

# Worst output of one byte of input: zlib cannot exceed ~1032:1 (RFC 1951: a 258-byte match in
# 1 bit, plus block overhead); run-length 64:1 (2 bytes -> 128); LZW (12-bit codes, strings up to
# the table size) about 3000:1; ASCII85 4:1 ('z').
FLATE_MAX_RATIO = 1032
BOUNDED_RATIO = {"/RunLengthDecode": 64, "/LZWDecode": 3000}
IMAGE_CODECS = {"/DCTDecode", "/JPXDecode", "/JBIG2Decode", "/CCITTFaxDecode", "/Crypt"}
INFLATE_CHUNK = 256 * 1024
INFLATE_FLOOR = 64 * 1024 * 1024  # the budget of a small PDF: its streams may inflate this much whatever the ratio

# Keys and action types of active content in a PDF (ISO 32000-1 §12.6 actions, §12.7.8 XFA,
# §7.11.4 embedded files; Adobe's RichMedia extension).
ACTIVE_KEYS = {"/JS", "/JavaScript", "/XFA", "/RichMediaContent", "/RichMediaSettings"}
ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/GoToE", "/RichMediaExecute"}
EMBED_KEYS = {"/EmbeddedFiles", "/EF"}
WALK_DEPTH = 64


@dataclass(frozen=True)
class Limits:
    """What an upload may be. ``max_inflate_ratio``: the inflated streams of a PDF may total this
    many times its size (at least 64 MiB, at most ``max_inflated_bytes``)."""

    max_bytes: int
    max_pages: int
    max_pixels: int
    max_inflate_ratio: int
    max_inflated_bytes: int

    @classmethod
    def from_config(cls) -> Limits:
        """The limits of the settings, read now (a changed environment needs no restart in tests)."""
        return cls(
            max_bytes=settings.UPLOAD_MAX_BYTES,
            max_pages=config("HCMGOV_UPLOAD_MAX_PAGES", 100, help="Most pages a PDF upload may have.", group="files"),
            max_pixels=config(
                "HCMGOV_UPLOAD_MAX_PIXELS",
                50_000_000,
                help="Most pixels (width × height) of an uploaded image or of an image inside a PDF; "
                "an A4 page scanned at 600 dpi is 35 million.",
                group="files",
            ),
            max_inflate_ratio=config(
                "HCMGOV_UPLOAD_MAX_INFLATE_RATIO",
                100,
                help="The compressed streams of a PDF may inflate to this many times the file's size "
                "(and to 64 MiB whatever the ratio); beyond, the file is refused as an archive bomb.",
                group="files",
            ),
            max_inflated_bytes=config(
                "HCMGOV_UPLOAD_MAX_INFLATED_BYTES",
                1024 * 1024 * 1024,
                help="Most bytes the compressed streams of one PDF may inflate to, whatever its size.",
                group="files",
            ),
        )


Limits.from_config()  # declare the settings when the module is imported (`hcmgov configdoc` lists them)


@dataclass(frozen=True)
class Inspection:
    """What the bytes are: the sniffed type, pages (1 for an image), pixel size of an image."""

    content_type: str
    pages: int
    width: int | None = None
    height: int | None = None


class Refused(DomainError):
    """An upload refused for what its bytes are; ``code`` is stable (API problem type, tests)."""

    def __init__(self, code: str, message: Message, status: int = 400) -> None:
        super().__init__(code=code, message=message, status=status)


def _refused(code: str, name: str, **values: Any) -> Refused:
    vi, en = MESSAGES[code]
    status = 413 if code == "too_large" else 400
    return Refused(code, Message(vi.format(name=name, **values), en.format(name=name, **values)), status)


MESSAGES: dict[str, tuple[str, str]] = {
    "empty": ("Tệp «{name}» rỗng.", "File “{name}” is empty."),
    "too_large": ("Tệp «{name}» lớn hơn {limit_mb:g} MB.", "File “{name}” is larger than {limit_mb:g} MB."),
    "unsupported_type": (
        "Tệp «{name}» không phải PDF, JPG hoặc PNG.",
        "File “{name}” is not a PDF, JPG or PNG.",
    ),
    "content_mismatch": (
        "Nội dung tệp «{name}» không đúng với loại tệp {extension}.",
        "The content of “{name}” is not a {extension} file.",
    ),
    "encrypted_pdf": (
        "Tệp «{name}» là PDF có mật khẩu hoặc bị mã hoá; hãy gửi bản không mã hoá.",
        "File “{name}” is a password-protected or encrypted PDF; send it without encryption.",
    ),
    "malformed_pdf": (
        "Tệp «{name}» là PDF bị hỏng, không đọc được đúng.",
        "File “{name}” is a damaged PDF that cannot be read reliably.",
    ),
    "malformed_image": ("Tệp «{name}» là ảnh bị hỏng.", "File “{name}” is a damaged image."),
    "polyglot": (
        "Tệp «{name}» chứa dữ liệu của một loại tệp khác ẩn bên trong.",
        "File “{name}” hides data of another file type.",
    ),
    "active_content": (
        "Tệp PDF «{name}» chứa mã lệnh (JavaScript) hoặc hành động tự chạy.",
        "PDF “{name}” contains scripts (JavaScript) or actions that run by themselves.",
    ),
    "embedded_file": (
        "Tệp PDF «{name}» có tệp khác đính kèm bên trong.",
        "PDF “{name}” has other files embedded in it.",
    ),
    "too_many_pages": (
        "Tệp «{name}» có {pages} trang, nhiều hơn {limit} trang cho phép.",
        "File “{name}” has {pages} pages, more than the {limit} allowed.",
    ),
    "image_bomb": (
        "Ảnh trong tệp «{name}» quá lớn ({width}×{height} điểm ảnh; tối đa {limit_mp:g} triệu điểm ảnh).",
        "An image in “{name}” is too large ({width}×{height} pixels; at most {limit_mp:g} million).",
    ),
    "archive_bomb": (
        "Tệp «{name}» chứa dữ liệu nén giải nén ra quá lớn.",
        "File “{name}” contains compressed data that expands far too much.",
    ),
}


def inspect(*, data: bytes, filename: str, limits: Limits | None = None) -> Inspection:
    """What ``data`` is, or :class:`Refused` when it is not a safe PDF, JPEG or PNG that ``filename``
    announces. Reads the structure only: an image's pixels are not decoded, a PDF's streams are
    inflated only when its size could hide a bomb."""
    limits = limits or Limits.from_config()
    name = PurePath(filename).name or filename
    if not data:
        raise _refused("empty", name)
    if len(data) > limits.max_bytes:
        raise _refused("too_large", name, limit_mb=limits.max_bytes / (1024 * 1024))
    extension = PurePath(name).suffix.lower()
    expected = EXTENSIONS.get(extension)
    sniffed = _sniff(data)
    if expected is None or sniffed is None:
        if expected is not None and b"%PDF-" in data[:1024]:
            raise _refused("polyglot", name)  # a PDF header behind other bytes: readers still open it
        raise _refused("unsupported_type", name)
    if sniffed != expected:
        raise _refused("content_mismatch", name, extension=extension)
    if _is_zip(data):
        raise _refused("polyglot", name)
    if sniffed == PDF:
        return _inspect_pdf(data, name, limits)
    return _inspect_image(data, name, sniffed, limits)


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(PNG_SIGNATURE):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


def _is_zip(data: bytes) -> bool:
    """A ZIP reader would open it: an end-of-central-directory record in the last 64 KB that points
    at a central directory (zipfile's own test)."""
    if b"PK\x05\x06" not in data[-(65536 + 22) :]:
        return False
    try:
        return zipfile.is_zipfile(io.BytesIO(data))
    except Exception:  # a broken record is not a ZIP
        return False


def _foreign_signature(chunk: bytes) -> bool:
    lowered = chunk.lower()
    return any(sig.lower() in lowered for sig in FOREIGN_SIGNATURES)


# --- images -------------------------------------------------------------------------------------


def _inspect_image(data: bytes, name: str, content_type: str, limits: Limits) -> Inspection:
    if b"%PDF-" in data:  # PDF readers find a header anywhere in the first KB, some further
        raise _refused("polyglot", name)
    try:
        end, width, height = _png_structure(data) if content_type == PNG else _jpeg_structure(data)
    except (ValueError, IndexError, struct.error):
        raise _refused("malformed_image", name) from None
    if width <= 0 or height <= 0:
        raise _refused("malformed_image", name)
    if width * height > limits.max_pixels:
        raise _image_bomb(name, width, height, limits)
    # Cameras write their own data after the end marker (Samsung's SEFT trailer, the MP4 of a
    # motion photo): that is kept; another format's signature there is a polyglot.
    if _foreign_signature(data[end:]):
        raise _refused("polyglot", name)
    _header_check(data, name, content_type, width, height, limits)
    return Inspection(content_type=content_type, pages=1, width=width, height=height)


def _image_bomb(name: str, width: int, height: int, limits: Limits) -> Refused:
    return _refused("image_bomb", name, width=width, height=height, limit_mp=limits.max_pixels / 1e6)


def _png_structure(data: bytes) -> tuple[int, int, int]:
    """Walk the chunks (length, type, data, CRC) to IEND: its end offset and IHDR's size."""
    pos, width, height, seen_ihdr = 8, 0, 0, False
    while True:
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body_end = pos + 8 + length
        if body_end + 4 > len(data):
            raise ValueError("truncated chunk")
        (crc,) = struct.unpack(">I", data[body_end : body_end + 4])
        if zlib.crc32(data[pos + 4 : body_end]) != crc:
            raise ValueError("bad CRC")
        if not seen_ihdr:
            if kind != b"IHDR" or length != 13:
                raise ValueError("IHDR first")
            width, height = struct.unpack(">II", data[pos + 8 : pos + 16])
            seen_ihdr = True
        pos = body_end + 4
        if kind == b"IEND":
            return pos, width, height


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# In entropy-coded data a marker is 0xFF followed by anything but 0x00 (stuffing), RSTn or 0xFF (fill).
_ENTROPY_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg_structure(data: bytes) -> tuple[int, int, int]:
    """Walk the segments (ITU T.81 Annex B) to EOI: its end offset and the frame's size."""
    pos, width, height = 2, 0, 0
    size = len(data)
    while pos < size:
        if data[pos] != 0xFF:
            raise ValueError("marker expected")
        while data[pos] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            return pos, width, height
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > size:
            raise ValueError("bad segment length")
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
        pos += length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            found = _ENTROPY_MARKER.search(data, pos)
            if found is None:
                raise ValueError("no end of scan")
            pos = found.start()
    raise ValueError("no EOI")


def _header_check(data: bytes, name: str, content_type: str, width: int, height: int, limits: Limits) -> None:
    """Let Pillow read the image's header (not its pixels) and agree on its size. Decoding, even at
    1/8 scale, costs ~7 ms for a 300 KB JPEG on the submission path and protects from nothing the
    structure walk has not: damaged pixel data is refused later by the reader (OCR) that needs it."""
    try:
        with Image.open(io.BytesIO(data), formats=["PNG" if content_type == PNG else "JPEG"]) as image:
            if image.size != (width, height):
                raise _refused("polyglot", name)  # Pillow read another structure than ours
    except Refused:
        raise
    except Image.DecompressionBombError:
        raise _image_bomb(name, width, height, limits) from None
    except Exception:  # whatever Pillow raises on hostile bytes is a damaged image
        log.debug("documents: Pillow could not read an upload", exc_info=True)
        raise _refused("malformed_image", name) from None


# --- PDF ------------------------------------------------------------------------------------------


def _inspect_pdf(data: bytes, name: str, limits: Limits) -> Inspection:
    eof = data.rfind(b"%%EOF")
    if eof < 0:
        raise _refused("malformed_pdf", name)
    trailer = data[eof + 5 :]
    if len(trailer.strip(b" \t\r\n\f\x00")) > PDF_TRAILER_ALLOWANCE or _foreign_signature(trailer):
        raise _refused("polyglot", name)
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise _refused("encrypted_pdf", name) from None
    except Exception:  # qpdf gave up on it
        raise _refused("malformed_pdf", name) from None
    try:
        with pdf:
            if pdf.is_encrypted:
                raise _refused("encrypted_pdf", name)
            pages = len(pdf.pages)
            if pages > limits.max_pages:
                raise _refused("too_many_pages", name, pages=pages, limit=limits.max_pages)
            _walk_objects(pdf, data, name, limits)
            warnings = pdf.get_warnings()
            if warnings:  # qpdf repaired something (xref, lengths, objects): damaged
                log.info("documents: damaged PDF refused", extra={"warnings": [str(w) for w in warnings[:5]]})
                raise _refused("malformed_pdf", name)
    except Refused:
        raise
    except RecursionError:
        raise _refused("malformed_pdf", name) from None
    except Exception:  # whatever qpdf raises on hostile bytes is a damaged PDF
        log.debug("documents: pikepdf could not read an upload", exc_info=True)
        raise _refused("malformed_pdf", name) from None
    if pages == 0:
        raise _refused("malformed_pdf", name)
    return Inspection(content_type=PDF, pages=pages)


def _walk_objects(pdf: pikepdf.Pdf, data: bytes, name: str, limits: Limits) -> None:
    """One pass over every object: active content, embedded files, image sizes, and the streams
    whose inflated size must be measured."""
    budget = min(limits.max_inflated_bytes, max(INFLATE_FLOOR, limits.max_inflate_ratio * len(data)))
    streams: list[tuple[pikepdf.Stream, list[str]]] = []
    deepest = 0
    _check_dictionary(pdf.trailer, name)
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            continue
        _check_dictionary(obj, name)
        if isinstance(obj, pikepdf.Stream):
            filters = _filters(obj)
            if obj.get("/Subtype") == pikepdf.Name.Image:
                width, height = _int(obj.get("/Width")), _int(obj.get("/Height"))
                if width * height > limits.max_pixels:
                    raise _image_bomb(name, width, height, limits)
            if filters and filters[0] not in IMAGE_CODECS:
                streams.append((obj, filters))
                deepest = max(deepest, sum(f == "/FlateDecode" for f in filters))
    # Fast path: a file this small cannot inflate past the budget (the usual one-page PDF).
    worst = len(data) * FLATE_MAX_RATIO**deepest
    if worst <= budget and not any(f in BOUNDED_RATIO for _, filters in streams for f in filters):
        return
    total = 0
    for stream, filters in streams:
        total += _inflated_size(stream, filters, budget - total, name)


def _check_dictionary(root: pikepdf.Object, name: str) -> None:
    """Refuse active content or embedded files in ``root`` and the direct objects inside it (an
    indirect one is visited on its own in the walk over all objects)."""
    stack: list[tuple[pikepdf.Object, int]] = [(root, 0)]
    while stack:
        obj, depth = stack.pop()
        if depth > WALK_DEPTH:
            raise _refused("malformed_pdf", name)
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            keys = set(obj.keys())
            if keys & ACTIVE_KEYS:
                raise _refused("active_content", name)
            if keys & EMBED_KEYS or obj.get("/Type") == pikepdf.Name.EmbeddedFile:
                raise _refused("embedded_file", name)
            subtype = obj.get("/Subtype")
            if subtype == pikepdf.Name.FileAttachment:
                raise _refused("embedded_file", name)
            if subtype == pikepdf.Name.RichMedia:
                raise _refused("active_content", name)
            action = obj.get("/S")
            if isinstance(action, pikepdf.Name) and str(action) in ACTIVE_ACTIONS:
                raise _refused("active_content", name)
            children: Iterable[Any] = (obj.get(key) for key in keys)
        elif isinstance(obj, pikepdf.Array):
            children = iter(obj)
        else:
            continue
        for child in children:
            if isinstance(child, pikepdf.Dictionary | pikepdf.Array) and not child.is_indirect:
                stack.append((child, depth + 1))


def _filters(stream: pikepdf.Stream) -> list[str]:
    value = stream.get("/Filter")
    if value is None:
        return []
    if isinstance(value, pikepdf.Name):
        return [str(value)]
    if isinstance(value, pikepdf.Array):
        return [str(item) for item in value if isinstance(item, pikepdf.Name)]
    return []


def _int(value: Any) -> int:
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def _inflated_size(stream: pikepdf.Stream, filters: list[str], budget: int, name: str) -> int:
    """The size of ``stream`` once its compression filters are undone, refusing it as soon as it
    passes ``budget``: Flate is inflated in bounded chunks (never more than the budget in all);
    ASCII filters are decoded (they at most quadruple); run-length and LZW are counted at their
    worst ratio rather than decoded. An image codec ends the chain (its pixels are bounded by the
    image's declared size, checked apart)."""
    chunks: Iterable[bytes] = (stream.read_raw_bytes(),)
    bound: int | None = None  # once a filter is only bounded, the size is a worst case
    for kind in filters:
        if kind in IMAGE_CODECS:
            break
        if bound is not None:
            bound *= FLATE_MAX_RATIO if kind == "/FlateDecode" else BOUNDED_RATIO.get(kind, 4)
        elif kind == "/FlateDecode":
            chunks = _inflate(chunks)
        elif kind in ("/ASCIIHexDecode", "/ASCII85Decode"):
            chunks = (_ascii_decode(b"".join(chunks), kind),)
        elif kind in BOUNDED_RATIO:
            bound = sum(len(c) for c in _capped(chunks, budget, name)) * BOUNDED_RATIO[kind]
        else:
            break  # an unknown filter: readers fail on it too
        if bound is not None and bound > budget:
            raise _refused("archive_bomb", name)
    if bound is not None:
        return bound
    return sum(len(c) for c in _capped(chunks, budget, name))


def _capped(chunks: Iterable[bytes], budget: int, name: str) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > budget:
            raise _refused("archive_bomb", name)
        yield chunk


def _inflate(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Inflate zlib data chunk by chunk, at most ``INFLATE_CHUNK`` bytes at a time. Corrupt data ends
    the stream where it breaks (readers show what they could inflate; qpdf warns on it)."""
    inflater = zlib.decompressobj()
    try:
        for chunk in chunks:
            pending = chunk
            while True:
                out = inflater.decompress(pending, INFLATE_CHUNK)
                pending = inflater.unconsumed_tail
                if out:
                    yield out
                if inflater.eof or (not out and not pending):
                    break
            if inflater.eof:
                return
    except zlib.error:
        return


def _ascii_decode(raw: bytes, kind: str) -> bytes:
    try:
        if kind == "/ASCIIHexDecode":
            text = re.sub(rb"\s", b"", raw.split(b">", 1)[0])
            return bytes.fromhex((text + b"0" * (len(text) % 2)).decode("ascii"))
        body = raw.strip().removeprefix(b"<~").split(b"~>", 1)[0]
        return base64.a85decode(body, ignorechars=b" \t\n\r\x0c\x00")
    except ValueError:
        return b""
