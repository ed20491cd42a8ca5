"""Digitisation by OCR: the text of a scan (JPEG, PNG, TIFF) or of a PDF, for the components of the
personal data store (``Component.text``) and their search.

A PDF page that already carries text (born digital, or OCRed before) gives that text through
``pdftotext`` (poppler; pikepdf cannot decode text, it has no font or ToUnicode handling); only
the pages without text are rendered (``pdftoppm``, greyscale at ``HCMGOV_OCR_DPI``) and read by
Tesseract. Tesseract runs through pytesseract, one process per page: the process start (~50 ms) is
small beside a page's recognition (1–4 s), and a process can be killed at the timeout.

Preprocessing, measured with ``bench/ocr.py`` on generated scans (see the report in
``bench/results/ocr.json``): greyscale; a Gaussian blur of 1.5 px at 300 dpi
(``HCMGOV_OCR_DENOISE``) before Tesseract's own Otsu binarisation, which otherwise turns the speckle
of a noisy, faded scan into a page of dots and reads nothing (error rate 100 % → 0.3 % on the
"heavy" level, no loss on clean pages); scans below ~170 dpi are enlarged to 300 dpi first. No
deskew: Tesseract's layout analysis reads pages turned up to 1.5° as well as straight ones.
Page segmentation: Tesseract's automatic mode (``--psm 3``); ``--psm 6`` (one block) reads the
same on a clean page and is many times slower on a noisy one.
"""

from __future__ import annotations

import io
import logging
import math
import os
import subprocess
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytesseract
from PIL import Image, ImageFilter, ImageOps, ImageSequence, UnidentifiedImageError

from hcmgov.common.config import config
from hcmgov.common.errors import DomainError, Message, OutsideSystemError

log = logging.getLogger(__name__)

# Tesseract's OpenMP threads (Debian builds it with libgomp) cost far more than they give: one page
# took 9.7 s with 2 threads and 2.1–2.5 s with one, on this 2-core machine; with one thread per
# process, parallel pages come from the worker's processes. Set for every Tesseract this process
# starts (pytesseract passes os.environ on); an operator's own OMP_THREAD_LIMIT wins.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

OCR_LANG = config(
    "HCMGOV_OCR_LANG",
    "vie",
    help="Tesseract language(s) of scanned documents, e.g. `vie` or `vie+eng` (traineddata installed).",
    group="documents",
)
OCR_DPI = config("HCMGOV_OCR_DPI", 300, help="Resolution scanned PDF pages are rendered at for OCR.", group="documents")
OCR_MAX_PAGES = config(
    "HCMGOV_OCR_MAX_PAGES",
    50,
    help="Pages of a document read by OCR at most; the text of later pages is not recognised.",
    group="documents",
)
OCR_TIMEOUT = config(
    "HCMGOV_OCR_TIMEOUT",
    300,
    help="Seconds the recognition of one document may take in all before it is abandoned.",
    group="documents",
)
OCR_DENOISE = config(
    "HCMGOV_OCR_DENOISE",
    1.5,
    help="Gaussian blur radius (pixels at 300 dpi) applied to scans before OCR against speckle; 0: none.",
    group="documents",
)

# Below this long side (pixels) an image is taken for a scan under ~170 dpi (an A4 page is 3508 px
# at 300 dpi) and enlarged: Tesseract reads best with capitals 20–40 px high.
LOW_RESOLUTION_LONG_SIDE = 2000
# A PDF page with fewer characters of its own than this is taken for a scan (a stamp, a page number
# or a scanner's header line are not a text layer).
TEXT_LAYER_MIN_CHARS = 20
IMAGE_TYPES = {"image/jpeg", "image/png", "image/tiff"}
PDF_TYPE = "application/pdf"


@dataclass(frozen=True)
class Recognised:
    """What was read: ``text`` (NFC), ``confidence`` Tesseract's mean word confidence 0–100 over the
    recognised pages (``None`` when nothing was recognised by OCR: a PDF's own text, or no words),
    ``pages`` read, ``ocr_pages`` of them by OCR, ``truncated`` when pages beyond
    ``HCMGOV_OCR_MAX_PAGES`` were left out, ``seconds`` taken."""

    text: str
    confidence: float | None
    pages: int
    ocr_pages: int
    seconds: float
    truncated: bool = False


class UnreadableDocument(DomainError):
    """The bytes are not an image or PDF that can be read (corrupt, encrypted, or another type)."""

    def __init__(self, vi: str, en: str, *, code: str = "document_unreadable") -> None:
        super().__init__(code=code, message=Message(vi, en), status=422)


class OcrUnavailable(OutsideSystemError):
    """Tesseract (or poppler) is missing, failed, or took longer than ``HCMGOV_OCR_TIMEOUT``: the
    file may be fine, the machine is not."""


def recognise(*, data: bytes, content_type: str) -> Recognised:
    """The text of a scan or a PDF (see the module's docstring for how)."""
    started = time.monotonic()
    deadline = started + OCR_TIMEOUT
    kind = content_type.split(";")[0].strip().lower()
    if kind == PDF_TYPE:
        texts, confidences, pages, ocr_pages, truncated = _pdf(data, deadline)
    elif kind in IMAGE_TYPES:
        texts, confidences, pages, ocr_pages, truncated = _images(data, deadline)
    else:
        raise UnreadableDocument(
            f"Không nhận dạng được văn bản từ tệp loại {kind or '(không rõ)'}: chỉ nhận PDF, JPEG, PNG, TIFF.",
            f"Cannot recognise text in a {kind or '(unknown)'} file: only PDF, JPEG, PNG and TIFF.",
            code="document_type_unsupported",
        )
    text = unicodedata.normalize("NFC", "\n\n".join(t for t in texts if t).strip())
    confidence = sum(confidences) / len(confidences) if confidences else None
    return Recognised(
        text=text,
        confidence=round(confidence, 2) if confidence is not None else None,
        pages=pages,
        ocr_pages=ocr_pages,
        seconds=round(time.monotonic() - started, 3),
        truncated=truncated,
    )


# --- images --------------------------------------------------------------------------------------


def _images(data: bytes, deadline: float) -> tuple[list[str], list[float], int, int, bool]:
    try:
        image = Image.open(io.BytesIO(data))
        frames = [frame.copy() for frame in ImageSequence.Iterator(image)]  # a TIFF may hold pages
        for frame in frames:
            frame.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise _unreadable(exc) from exc
    truncated = len(frames) > OCR_MAX_PAGES
    texts: list[str] = []
    confidences: list[float] = []
    for frame in frames[:OCR_MAX_PAGES]:
        text, words = tesseract(prepare(ImageOps.exif_transpose(frame)), deadline=deadline)
        texts.append(text)
        confidences += words
    return texts, confidences, len(frames[:OCR_MAX_PAGES]), len(texts), truncated


def prepare(image: Image.Image, *, dpi: int | None = None) -> Image.Image:
    """Greyscale, enlarged when a scan of unknown resolution is under ~170 dpi, and blurred against
    speckle (``HCMGOV_OCR_DENOISE`` pixels at 300 dpi; ``dpi`` of a page rendered from a PDF)."""
    grey = image.convert("L")
    if dpi is None and max(grey.size) < LOW_RESOLUTION_LONG_SIDE:
        factor = min(3.0, 3508 / max(grey.size))
        grey = grey.resize((round(grey.width * factor), round(grey.height * factor)), Image.Resampling.BICUBIC)
    if OCR_DENOISE > 0:
        grey = grey.filter(ImageFilter.GaussianBlur(OCR_DENOISE * (dpi or 300) / 300))
    return grey


def tesseract(image: Image.Image, *, deadline: float) -> tuple[str, list[float]]:
    """One page through Tesseract: its text (lines of a paragraph joined, paragraphs separated by a
    blank line) and each word's confidence, from a single run (TSV output)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _timeout()
    image.format = "PPM"  # handed to Tesseract uncompressed: PNG encoding would cost ~0.3 s a page
    try:
        rows = pytesseract.image_to_data(
            image,
            lang=OCR_LANG,
            config="--psm 3",
            timeout=max(1, math.ceil(remaining)),
            output_type=pytesseract.Output.DICT,
        )
    except pytesseract.TesseractNotFoundError as exc:
        raise OcrUnavailable(
            Message(
                "Máy chủ chưa cài Tesseract nên không nhận dạng được văn bản (OCR).",
                "Tesseract is not installed on the server, so text cannot be recognised (OCR).",
            ),
            code="tesseract_missing",
            detail=f"command {pytesseract.pytesseract.tesseract_cmd!r} not found",
        ) from exc
    except pytesseract.TesseractError as exc:
        raise OcrUnavailable(
            Message("Tesseract báo lỗi khi nhận dạng văn bản.", "Tesseract failed to recognise the text."),
            code="tesseract_failed",
            detail=str(exc.message)[:300],
        ) from exc
    except RuntimeError as exc:  # pytesseract's "Tesseract process timeout" (the process is killed)
        if "timeout" not in str(exc).lower():
            raise
        raise _timeout() from exc
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences: list[float] = []
    for n, word in enumerate(rows["text"]):
        conf = float(rows["conf"][n])
        if rows["level"][n] != 5 or not word.strip() or conf < 0:
            continue
        lines.setdefault((rows["block_num"][n], rows["par_num"][n], rows["line_num"][n]), []).append(word)
        confidences.append(conf)
    paragraphs: dict[tuple[int, int], list[str]] = {}
    for (block, par, _line), words in lines.items():
        paragraphs.setdefault((block, par), []).append(" ".join(words))
    text = "\n\n".join("\n".join(par) for par in paragraphs.values())
    return unicodedata.normalize("NFC", text), confidences


# --- PDF -----------------------------------------------------------------------------------------


def _pdf(data: bytes, deadline: float) -> tuple[list[str], list[float], int, int, bool]:
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            count = len(pdf.pages)
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError) as exc:
        raise _unreadable(exc) from exc
    if count == 0:
        raise UnreadableDocument("Tệp PDF không có trang nào.", "The PDF has no pages.")
    pages = min(count, OCR_MAX_PAGES)
    with tempfile.TemporaryDirectory(prefix="hcm_ocr_") as folder:
        path = Path(folder) / "in.pdf"
        path.write_bytes(data)
        own = _poppler(["pdftotext", "-enc", "UTF-8", "-f", "1", "-l", str(pages), str(path), "-"], deadline).decode(
            "utf-8", "replace"
        )
        texts = own.split("\f")[:pages]  # pdftotext ends every page with a form feed
        texts += [""] * (pages - len(texts))
        confidences: list[float] = []
        ocr_pages = 0
        for number, own_text in enumerate(texts, 1):
            if len("".join(own_text.split())) >= TEXT_LAYER_MIN_CHARS:
                texts[number - 1] = own_text.strip()
                continue
            base = Path(folder) / f"page{number}"
            _poppler(
                [
                    "pdftoppm",
                    "-r",
                    str(OCR_DPI),
                    "-gray",
                    "-f",
                    str(number),
                    "-l",
                    str(number),
                    "-singlefile",
                    str(path),
                    str(base),
                ],
                deadline,
            )
            with Image.open(f"{base}.pgm") as rendered:
                texts[number - 1], words = tesseract(prepare(rendered, dpi=OCR_DPI), deadline=deadline)
            confidences += words
            ocr_pages += 1
    return texts, confidences, pages, ocr_pages, count > pages


def _poppler(command: list[str], deadline: float) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _timeout()
    try:
        done = subprocess.run(command, capture_output=True, timeout=remaining, check=False)  # noqa: S603
    except FileNotFoundError as exc:
        raise OcrUnavailable(
            Message(
                "Máy chủ chưa cài poppler-utils (pdftotext, pdftoppm) nên không đọc được tệp PDF.",
                "poppler-utils (pdftotext, pdftoppm) is not installed on the server, so PDFs cannot be read.",
            ),
            code="poppler_missing",
            detail=command[0],
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise _timeout() from exc
    if done.returncode:
        raise _unreadable(RuntimeError(done.stderr.decode("utf-8", "replace")[:300]))
    return done.stdout


def _unreadable(exc: BaseException) -> UnreadableDocument:
    log.info("ocr: unreadable document", extra={"error": str(exc)[:300]})
    return UnreadableDocument(
        "Tệp bị hỏng hoặc không phải ảnh quét / PDF đọc được, nên không nhận dạng được văn bản.",
        "The file is corrupt or not a readable scan or PDF, so its text cannot be recognised.",
    )


def _timeout() -> OcrUnavailable:
    return OcrUnavailable(
        Message(
            f"Nhận dạng văn bản (OCR) quá {OCR_TIMEOUT} giây nên đã dừng.",
            f"Text recognition (OCR) took longer than {OCR_TIMEOUT} seconds and was stopped.",
        ),
        code="ocr_timeout",
    )
