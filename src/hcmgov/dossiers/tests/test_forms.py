"""Forms 02, 04, 05 and 06 of Circular 01/2018/TT-VPCP as PDF (``hcmgov.dossiers.forms``).

WeasyPrint takes about a second a form: each PDF is rendered once per module and inspected by
several tests.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata

import pytest
from pypdf import PdfReader

from hcmgov.dossiers import forms

UTC = dt.UTC
AGENCY = "Ủy ban nhân dân phường Bến Thành"
CODE = "000.00.12.H29-261102-0007"
PROCEDURE = "Cấp bản sao trích lục hộ tịch"
APPLICANT = "Nguyễn Thị Ánh Tuyết"
TRACKING = f"https://dichvucong.hochiminhcity.gov.vn/tra-cuu/?code={CODE}&secret=K7Q2M9"


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    """A UTC instant: the forms must print it seven hours later, in Ho Chi Minh City time."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def pages_of(pdf: bytes) -> list[str]:
    assert pdf.startswith(b"%PDF")
    # NFC: the text layer may hand back decomposed Vietnamese letters
    return [unicodedata.normalize("NFC", page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    """Whitespace collapsed, so that a value wrapped in a narrow cell still reads as one string."""
    return " ".join(text.split())


def packed(text: str) -> str:
    return "".join(text.split())


# --- dates ------------------------------------------------------------------------------------


def test_dates_are_written_the_vietnamese_way_in_ho_chi_minh_city_time():
    # 18:30 UTC on 28 February is 01:30 on 1 March in Ho Chi Minh City (UTC+7)
    assert forms.vn_datetime(utc(28, 18, 30, month=2)) == "01 giờ 30 phút, ngày 01 tháng 3 năm 2026"
    assert forms.vn_date(dt.date(2026, 1, 5)) == "ngày 05 tháng 01 năm 2026"  # day < 10, months 1 and 2: "0"
    assert forms.vn_date(dt.date(2026, 11, 26)) == "ngày 26 tháng 11 năm 2026"
    assert forms.vn_time(utc(26, 7, 30)) == "14 giờ 30 phút"
    with pytest.raises(ValueError, match="naive"):
        forms.vn_time(dt.datetime(2026, 11, 26, 14, 30))


def test_inputs_are_checked_and_frozen():
    with pytest.raises(ValueError, match="timezone-aware"):
        forms.Handover(from_party="A", to_party="B", handed_over_at=dt.datetime(2026, 11, 2, 10, 0))
    with pytest.raises(ValueError, match="timeliness"):
        forms.Handover(from_party="A", to_party="B", handed_over_at=utc(2, 3), timeliness="soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="after the original due date"):
        forms.ApologyForm(
            agency_name=AGENCY,
            dossier_code=CODE,
            procedure_name=PROCEDURE,
            applicant_name=APPLICANT,
            received_at=utc(2, 2),
            due_at=utc(9, 9),
            new_due_at=utc(9, 9),
            reason="—",
            signer_name="Lê Minh Khôi",
            signer_title="Chủ tịch",
            tracking_url=TRACKING,
        )
    book = forms.LogBook(agency_name=AGENCY, period_from=dt.date(2026, 11, 1), period_to=dt.date(2026, 11, 30), rows=[])
    assert book.rows == ()  # a list argument is kept as a tuple
    with pytest.raises(ValueError, match="period"):
        forms.LogBook(agency_name=AGENCY, period_from=dt.date(2026, 11, 30), period_to=dt.date(2026, 11, 1))


# --- Form 02 ----------------------------------------------------------------------------------

SUPPLEMENT_ITEMS = [
    ("Tờ khai đề nghị cấp bản sao trích lục hộ tịch có chữ ký", "Tờ khai nộp kèm chưa ký"),
    ("Bản sao Căn cước công dân", "Ảnh chụp bị mờ, không đọc được số định danh"),
]


@pytest.fixture(scope="module")
def supplement_pages() -> list[str]:
    return pages_of(
        forms.supplement_request_pdf(
            forms.SupplementRequestForm(
                agency_name=AGENCY,
                dossier_code=CODE,
                procedure_name=PROCEDURE,
                applicant_name=APPLICANT,
                received_at=utc(2, 2, 15),
                requested_at=utc(3, 3, 5),
                items=SUPPLEMENT_ITEMS,
                note="Có thể nộp bổ sung trực tuyến hoặc tại Bộ phận một cửa.",
                official_name="Trần Văn Đức",
                official_phone="028 3829 1234",
                tracking_url=TRACKING,
            )
        )
    )


def test_supplement_request_lists_each_item_with_its_reason(supplement_pages):
    assert len(supplement_pages) == 1
    text = flat(supplement_pages[0])
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text
    assert "Mẫu số 02" in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    assert CODE in packed(text)
    assert APPLICANT in text
    assert PROCEDURE in text
    assert "09 giờ 15 phút, ngày 02 tháng 11 năm 2026" in text  # 02:15 UTC
    assert "ngày 03 tháng 11 năm 2026" in text  # the form's date
    for what, why in SUPPLEMENT_ITEMS:
        assert what in text
        assert why in text
    assert "Trần Văn Đức, số điện thoại 028 3829 1234 để được hướng dẫn" in text
    assert TRACKING in packed(text)


# --- Form 04 ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def apology_pages() -> list[str]:
    return pages_of(
        forms.apology_pdf(
            forms.ApologyForm(
                agency_name=AGENCY,
                dossier_code=CODE,
                procedure_name=PROCEDURE,
                applicant_name=APPLICANT,
                received_at=utc(2, 2, 15),
                due_at=utc(9, 9, 0),
                new_due_at=utc(16, 7, 30),
                reason="Cần xác minh thông tin đăng ký khai sinh tại Sở Tư pháp tỉnh Đồng Nai.",
                signer_name="Lê Minh Khôi",
                signer_title="Chủ tịch",
                tracking_url=TRACKING,
                issued_at=utc(9, 1, 0),
            )
        )
    )


def test_apology_states_the_reason_and_the_new_appointment(apology_pages):
    assert len(apology_pages) == 1
    text = flat(apology_pages[0])
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text
    assert "Mẫu số 04" in text
    assert CODE in packed(text)
    assert f"Kính gửi: Ông/Bà {APPLICANT}" in text
    assert "Ngày 02 tháng 11 năm 2026" in text  # received
    assert "16 giờ 00 phút, ngày 09 tháng 11 năm 2026" in text  # the missed appointment
    assert "14 giờ 30 phút, ngày 16 tháng 11 năm 2026" in text  # the new one
    assert "Cần xác minh thông tin đăng ký khai sinh tại Sở Tư pháp tỉnh Đồng Nai." in text
    assert "xin lỗi Ông/Bà" in text
    assert "CHỦ TỊCH" in text
    assert "Lê Minh Khôi" in text


# --- Form 05 ----------------------------------------------------------------------------------


def control_sheet(rows: list[forms.Handover]) -> forms.ControlSheet:
    return forms.ControlSheet(
        agency_name=AGENCY,
        dossier_code=CODE,
        procedure_name=PROCEDURE,
        applicant_name=APPLICANT,
        applicant_contact="12 Lê Lợi, phường Bến Thành — 0903 123 456",
        received_at=utc(2, 2, 15),
        due_at=utc(9, 9, 0),
        rows=rows,
        processing_agency="Phòng Tư pháp",
    )


SHORT_ROWS = [
    forms.Handover(
        from_party="Bộ phận một cửa — Trần Văn Đức",
        to_party="Phòng Tư pháp — Phạm Thị Hồng",
        handed_over_at=utc(2, 3, 0),
        due_at=utc(4, 10, 0),
        finished_at=utc(4, 4, 0),
        timeliness="early",
    ),
    forms.Handover(
        from_party="Phòng Tư pháp — Phạm Thị Hồng",
        to_party="Lãnh đạo phường — Lê Minh Khôi",
        handed_over_at=utc(4, 4, 0),
        due_at=utc(6, 10, 0),
        finished_at=utc(6, 9, 30),
        timeliness="on_time",
    ),
    forms.Handover(
        from_party="Lãnh đạo phường — Lê Minh Khôi",
        to_party="Bộ phận một cửa — Trần Văn Đức",
        handed_over_at=utc(6, 9, 30),
        due_at=utc(7, 10, 0),
        finished_at=utc(8, 2, 0),
        timeliness="late",
        note="Chờ ký số",
    ),
    forms.Handover(
        from_party="Bộ phận một cửa — Trần Văn Đức",
        to_party="Ông/Bà Nguyễn Thị Ánh Tuyết",
        handed_over_at=utc(8, 2, 30),
    ),
]


@pytest.fixture(scope="module")
def control_pages() -> list[str]:
    return pages_of(forms.control_sheet_pdf(control_sheet(SHORT_ROWS)))


def test_control_sheet_records_each_handover_and_its_timeliness(control_pages):
    text = flat(" ".join(control_pages))
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in text
    assert "Mẫu số 05" in text
    assert CODE in packed(text)
    assert "Cơ quan (bộ phận) giải quyết hồ sơ: Phòng Tư pháp" in text
    assert "Người giao" in text
    assert "Người nhận" in text
    # the rows in order, each with its handover time and the Vietnamese timeliness word
    table = text[text.index("GHI CHÚ") :]
    expected = [
        ("Bộ phận một cửa — Trần Văn Đức", "10 giờ 00 phút, ngày 02 tháng 11 năm 2026", "Trước hạn"),
        ("Phòng Tư pháp — Phạm Thị Hồng", "11 giờ 00 phút, ngày 04 tháng 11 năm 2026", "Đúng hạn"),
        ("Lãnh đạo phường — Lê Minh Khôi", "16 giờ 30 phút, ngày 06 tháng 11 năm 2026", "Quá hạn"),
        ("Bộ phận một cửa — Trần Văn Đức", "09 giờ 30 phút, ngày 08 tháng 11 năm 2026", None),
    ]
    position = 0
    for party, handed_over, word in expected:
        position = table.index(f"1. Giao: {party}", position)
        position = table.index(handed_over, position)
        if word:
            position = table.index(word, position)
    assert "Hoàn thành: 09 giờ 00 phút, ngày 08/11/2026" in table  # the late step finished 02:00 UTC
    assert "Chờ ký số" in table
    assert "2. Nhận: Ông/Bà Nguyễn Thị Ánh Tuyết" in table
    # the open last step has no timeliness yet: each word once in the table body only
    assert table.count("Đúng hạn") == 1
    assert table.count("Quá hạn") == 1


LONG = 15  # five handovers fill a page


@pytest.fixture(scope="module")
def long_control_pages() -> list[str]:
    rows = [
        forms.Handover(
            from_party=f"Chuyên viên Phạm Thị Hồng {i:02d}",
            to_party=f"Chuyên viên Đỗ Quốc Bảo {i:02d}",
            handed_over_at=utc(2, 3, i),
            due_at=utc(4, 10, 0),
            finished_at=utc(3, 3, i),
            timeliness="on_time",
        )
        for i in range(LONG)
    ]
    return pages_of(forms.control_sheet_pdf(control_sheet(rows)))


def test_a_long_control_sheet_breaks_across_pages_with_its_header_repeated(long_control_pages):
    assert len(long_control_pages) > 1
    for page in long_control_pages:
        assert "THỜI GIAN GIAO, NHẬN HỒ SƠ" in flat(page)
    text = flat(" ".join(long_control_pages))
    for i in range(LONG):
        assert f"1. Giao: Chuyên viên Phạm Thị Hồng {i:02d} 2. Nhận: Chuyên viên Đỗ Quốc Bảo {i:02d}" in text
        assert f"10 giờ {i:02d} phút, ngày 02 tháng 11 năm 2026" in text
    assert text.count("Đúng hạn") == LONG


# --- Form 06 ----------------------------------------------------------------------------------

BOOK_ROWS = [
    forms.LogBookRow(
        number=i + 1,
        dossier_code=f"000.00.12.H29-2611{i % 28 + 1:02d}-{i:04d}",
        procedure_name="Đăng ký khai sinh" if i % 2 else "Chứng thực bản sao từ bản chính",
        applicant_name=f"Võ Thị Thu Hà {i:03d}",
        applicant_address="45 Nguyễn Huệ, phường Sài Gòn",
        applicant_phone="0912 345 678",
        lead_agency="Phòng Tư pháp",
        received_at=utc(i % 28 + 1, 1, 30),
        due_at=utc(i % 28 + 1, 9, 0),
        handed_to_processing_at=utc(i % 28 + 1, 2, 0),
        result_finished_at=utc(i % 28 + 1, 8, 0) if i % 4 else None,
        returned_at=utc(i % 28 + 1, 8, 30) if i % 4 else None,
        note="Trả qua bưu chính" if i % 7 == 0 else "",
    )
    for i in range(120)
]


@pytest.fixture(scope="module")
def book() -> tuple[list[tuple[float, float]], list[str]]:
    """The page sizes and the text of each page of a 120-dossier log book."""
    pdf = forms.log_book_pdf(
        forms.LogBook(
            agency_name=AGENCY,
            period_from=dt.date(2026, 11, 1),
            period_to=dt.date(2026, 11, 30),
            rows=BOOK_ROWS,
            printed_at=utc(30, 10, 0),
        )
    )
    sizes = [(float(page.mediabox.width), float(page.mediabox.height)) for page in PdfReader(io.BytesIO(pdf)).pages]
    return sizes, pages_of(pdf)


def test_log_book_is_landscape_and_repeats_its_header_on_every_page(book):
    sizes, pages = book
    assert len(pages) > 1
    assert all(width > height for width, height in sizes)  # A4 landscape
    assert "SỔ THEO DÕI HỒ SƠ" in pages[0]
    assert "Từ ngày 01 tháng 11 năm 2026 đến ngày 30 tháng 11 năm 2026" in flat(pages[0])
    for page in pages:
        assert "Cơ quan chủ trì giải quyết" in flat(page)
        assert "Ngày, tháng, năm" in page


def test_log_book_has_every_dossier(book):
    _, pages = book
    text = flat(" ".join(pages))
    codes = re.findall(r"000\.00\.12\.H29-\d{6}-\d{4}", packed(text))
    assert codes == [row.dossier_code for row in BOOK_ROWS]  # each once, in order
    for row in BOOK_ROWS:
        assert row.applicant_name in text
    assert text.count("45 Nguyễn Huệ, phường Sài Gòn, 0912 345 678") == 120
    assert "Trả qua bưu chính" in text
    # the first row's dates, 01:30 / 09:00 / 02:00 UTC on 1 November, in UTC+7
    first = text[text.index("Võ Thị Thu Hà 000") : text.index("Võ Thị Thu Hà 001")]
    assert "01/11/2026 08 giờ 30" in first
    assert "01/11/2026 16 giờ 00" in first
    assert "01/11/2026 09 giờ 00" in first
