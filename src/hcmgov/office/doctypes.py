"""Types of administrative documents and their abbreviations in the symbol (ký hiệu), after Decree
30/2020/NĐ-CP, Art. 7 (the types) and Appendix III (the abbreviations).

How sure: the decree's own text was not read here. The list follows a secondary summary of
Appendix III found in public sources and the brief of issue 12; where they differ (the brief's UQ,
GT, NP are Circular 01/2011/TT-BNV's, which the decree replaced; the summary gives GUQ, GGT, GNP)
the summary's are used — see docs/office/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DocumentType:
    code: str
    name: str
    abbreviation: str  # empty: công văn, whose symbol has none (Appendix I, II.3)


CONG_VAN = "cong_van"

TYPES: tuple[DocumentType, ...] = (
    DocumentType("nghi_quyet", "Nghị quyết (cá biệt)", "NQ"),
    DocumentType("quyet_dinh", "Quyết định (cá biệt)", "QĐ"),
    DocumentType("chi_thi", "Chỉ thị", "CT"),
    DocumentType("quy_che", "Quy chế", "QC"),
    DocumentType("quy_dinh", "Quy định", "QyĐ"),
    DocumentType("thong_cao", "Thông cáo", "TC"),
    DocumentType("thong_bao", "Thông báo", "TB"),
    DocumentType("huong_dan", "Hướng dẫn", "HD"),
    DocumentType("chuong_trinh", "Chương trình", "CTr"),
    DocumentType("ke_hoach", "Kế hoạch", "KH"),
    DocumentType("phuong_an", "Phương án", "PA"),
    DocumentType("de_an", "Đề án", "ĐA"),
    DocumentType("du_an", "Dự án", "DA"),
    DocumentType("bao_cao", "Báo cáo", "BC"),
    DocumentType("bien_ban", "Biên bản", "BB"),
    DocumentType("to_trinh", "Tờ trình", "TTr"),
    DocumentType("hop_dong", "Hợp đồng", "HĐ"),
    DocumentType("cong_dien", "Công điện", "CĐ"),
    DocumentType("ban_ghi_nho", "Bản ghi nhớ", "GN"),
    DocumentType("ban_thoa_thuan", "Bản thỏa thuận", "TTh"),
    DocumentType("giay_uy_quyen", "Giấy ủy quyền", "GUQ"),
    DocumentType("giay_moi", "Giấy mời", "GM"),
    DocumentType("giay_gioi_thieu", "Giấy giới thiệu", "GGT"),
    DocumentType("giay_nghi_phep", "Giấy nghỉ phép", "GNP"),
    DocumentType("phieu_gui", "Phiếu gửi", "PG"),
    DocumentType("phieu_chuyen", "Phiếu chuyển", "PC"),
    DocumentType("phieu_bao", "Phiếu báo", "PB"),
    DocumentType(CONG_VAN, "Công văn", ""),
)
BY_CODE = {t.code: t for t in TYPES}
DOCUMENT_TYPE_CHOICES = [(t.code, t.name) for t in TYPES]


def number_symbol(*, number: int, doc_type: str, agency_abbreviation: str, unit_abbreviation: str = "") -> str:
    """Số, ký hiệu as printed (Decree 30/2020, Appendix I, II.3): the number, two digits at least
    (a number under 10 takes a leading 0), then the symbol — the type's abbreviation and the
    issuing body's (``05/QĐ-UBND``); a công văn has the body's and the drafting unit's or field's
    instead (``45/UBND-VX``)."""
    kind = BY_CODE[doc_type]
    if kind.abbreviation:
        symbol = f"{kind.abbreviation}-{agency_abbreviation}"
    else:
        symbol = "-".join(part for part in (agency_abbreviation, unit_abbreviation) if part)
    return f"{number:02d}/{symbol}"
