"""The electronic receipt for fees and charges (biên lai thu phí, lệ phí) as PDF.

Its content follows Decree 123/2020/NĐ-CP, Art. 32 on receipts (as read from secondary sources;
not checked against the decree's text here): the receipt's name, its form and series symbols and
number, the collecting organisation, the fee or charge and its amount, the date, the collector,
and the payer. The platform issues it when the payment is recorded (``services._order_paid``:
numbered per series without gaps) and renders it when asked; the stored fields never change, so
neither does the PDF (a refund marks the receipt cancelled, it is not renumbered).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

FORM_SYMBOL = "01BLP0-001"  # biên lai thu phí, lệ phí không có mệnh giá, điện tử (symbol of our series)


def amount_in_words(amount: int) -> str:
    """The amount in Vietnamese words (receipts state it in words as well as in figures)."""
    digits = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]

    def three(n: int, full: bool) -> str:
        h, t, u = n // 100, n // 10 % 10, n % 10
        words = []
        if full or h:
            words += [digits[h], "trăm"]
        if t == 0 and u and (full or h):
            words.append("lẻ")
        elif t == 1:
            words.append("mười")
        elif t > 1:
            words += [digits[t], "mươi"]
        if u:
            if u == 1 and t > 1:
                words.append("mốt")
            elif u == 5 and t > 0:
                words.append("lăm")
            elif u == 4 and t > 1:
                words.append("tư")
            else:
                words.append(digits[u])
        return " ".join(words)

    if amount == 0:
        return "Không đồng"
    groups = []
    n = amount
    while n:
        groups.append(n % 1000)
        n //= 1000
    units = ["", "nghìn", "triệu", "tỷ", "nghìn tỷ", "triệu tỷ"]
    parts = []
    for i in range(len(groups) - 1, -1, -1):
        if groups[i] == 0:
            continue
        parts.append(three(groups[i], full=i < len(groups) - 1))
        if units[i]:
            parts.append(units[i])
    text = " ".join(parts)
    return text[0].upper() + text[1:] + " đồng"


def grouped(amount: Any) -> str:
    """An amount in đồng grouped the Vietnamese way (120.000)."""
    return "" if amount is None else f"{int(amount):,}".replace(",", ".")


def receipt_pdf(receipt: Any) -> bytes:
    from weasyprint import HTML  # heavy import: only when a PDF is asked for

    order = receipt.order
    lines = [
        {**line, "unit_text": grouped(line.get("unit_amount")), "amount_text": grouped(line["amount"])}
        for line in receipt.lines
        if line.get("amount") is not None  # an amount the platform does not know was not charged
    ]
    with translation.override("vi"):  # a legal document: Vietnamese
        html = render_to_string(
            "payments/receipt.html",
            {
                "receipt": receipt,
                "lines": lines,
                "total_text": grouped(receipt.amount),
                "order": order,
                "agency": order.agency,
                "form_symbol": FORM_SYMBOL,
                "issued": timezone.localtime(receipt.issued_at),
                "words": amount_in_words(receipt.amount),
            },
        )
    pdf: bytes = HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
    return pdf
