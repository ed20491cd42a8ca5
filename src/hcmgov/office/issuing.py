"""The number and date of issue written onto the first page of an outgoing document, before the
agency's digital signature (Decree 30/2020/NĐ-CP, Art. 15–16 and Appendix I, as the platform
reads them: the clerk gives the number at issue, and in an electronic document the number and the
date are placed before the issuing body's digital signature, which covers them).

**Why before, not after.** A PAdES signature covers the bytes of the file as it was signed. Text
drawn onto a page afterwards — even as an incremental update, which leaves the signed bytes
intact — changes the page's content, and a validator reports the signed revision as modified in a
way the signature does not allow (``documents.verification``: *altered*). So the issue writes the
number onto the approved draft version (an incremental update of the draft itself: the draft's
bytes are the issued file's first revision, unchanged), and the agency's certificate then signs
that file. See docs/office/README.md ("Signatures and the number") for what this leaves out.

The text is rendered by WeasyPrint (its fonts carry every Vietnamese letter and a ToUnicode map,
so the number is real, searchable text) and drawn as a form XObject in the top band of the first
page, which drafts leave blank for it (the "new document" form says so).
"""

from __future__ import annotations

import datetime as dt
from io import BytesIO

from django.utils.html import escape

from hcmgov.common.errors import DomainError, Message

XOBJECT_NAME = "/HcmgovSoKyHieu"
MM = 72 / 25.4  # points per millimetre


def date_line(*, place: str, day: dt.date) -> str:
    """ "Thành phố Hồ Chí Minh, ngày 05 tháng 3 năm 2026" (Decree 30/2020, Appendix I: a day under
    10 and the months 1 and 2 take a leading 0)."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"{place}, ngày {day.day:02d} tháng {month} năm {day.year}"


def _overlay(width: float, height: float, number_symbol: str, dated: str) -> bytes:
    """One page the size of the document's first page, with only the number and the date on it."""
    from weasyprint import HTML

    html = f"""<html><head><style>
@page {{ size: {width:.2f}pt {height:.2f}pt; margin: 0 }}
body {{ margin: 0; font-family: "DejaVu Serif", "Liberation Serif", serif; font-size: 10pt }}
.so {{ position: absolute; top: {8 * MM:.2f}pt; left: {20 * MM:.2f}pt }}
.ngay {{ position: absolute; top: {8 * MM:.2f}pt; right: {15 * MM:.2f}pt; font-style: italic }}
</style></head><body><div class="so">Số: {escape(number_symbol)}</div><div class="ngay">{escape(dated)}</div>
</body></html>"""
    data: bytes = HTML(string=html).write_pdf()
    return data


def number_stamp(*, pdf: bytes, number_symbol: str, issued_on: dt.date, place: str) -> bytes:
    """``pdf`` with "Số: <number_symbol>" and the place and date of issue drawn at the top of its
    first page, as an incremental update (the original bytes come first, unchanged). Refused
    (422) when the file cannot be read as a PDF."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.rw_common import find_inherited_value_in_tree

    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        page_ref, _ = writer.find_page_for_modification(0)
        box = [float(v) for v in find_inherited_value_in_tree(page_ref.get_object(), "/MediaBox", "/Parent")]
        left, bottom, width, height = box[0], box[1], box[2] - box[0], box[3] - box[1]
        overlay = PdfFileReader(BytesIO(_overlay(width, height, number_symbol, date_line(place=place, day=issued_on))))
        xobject = writer.import_page_as_xobject(overlay, 0)
        # the page's own content is wrapped in q … Q so that whatever state it leaves (a
        # transformation, a colour) does not move or tint the number drawn after it
        before = writer.add_object(generic.StreamObject(stream_data=b"q\n"))
        after = writer.add_object(
            generic.StreamObject(
                stream_data=f"Q\nq 1 0 0 1 {left:.4f} {bottom:.4f} cm {XOBJECT_NAME} Do Q\n".encode("ascii")
            )
        )
        writer.add_stream_to_page(0, before, prepend=True)
        resources = generic.DictionaryObject(
            {pdf_name("/XObject"): generic.DictionaryObject({pdf_name(XOBJECT_NAME): xobject})}
        )
        writer.add_stream_to_page(0, after, resources=resources)
        out = BytesIO()
        writer.write(out)
    except Exception as exc:  # pyHanko's PdfReadError, PdfError, a page tree it cannot walk…
        raise DomainError(
            "pdf_not_numbered",
            Message(
                f"Không ghi được số văn bản lên tệp PDF: {type(exc).__name__}: {exc}",
                f"The number could not be written onto the PDF: {type(exc).__name__}: {exc}",
            ),
            422,
        ) from exc
    return out.getvalue()
