"""The bill of the national payment platform of the National Public Service Portal (Nền tảng
thanh toán trực tuyến của Cổng Dịch vụ công quốc gia).

What the bill carries is known (``shared/DOMAIN.md``, "Payments": dossier code, lookup code,
service and procedure codes and names, unit code and name, fee items with type, code, name and
amount, the beneficiary's account, bank and account name, revenue type, deciding agency, treasury,
decision date and number, payment content, payer's name, ID number and address, the amounts). How
it is sent is not: no public API specification of the platform was found, so this module builds
the bill as data — for the portal's integration team to map field by field — and sends nothing.
Field names are ours (English), each with the Vietnamese label of the portal's bill.
"""

from __future__ import annotations

from typing import Any

FEE_TYPES = {"LEPHI": ("1", "Lệ phí"), "PHI": ("2", "Phí")}  # revenue type by the item code's prefix


def _fee_type(code: str) -> tuple[str, str]:
    return FEE_TYPES["LEPHI"] if code.startswith("LEPHI") else FEE_TYPES["PHI"]


def payment_bill(*, order: Any, dossier: Any, beneficiary: Any, payer: Any) -> dict[str, Any]:
    """The bill of ``order`` (lines whose amount is known), with the Vietnamese label of each part."""
    items = []
    for line in order.lines:
        if line.get("amount") is None:
            continue
        type_code, type_name = _fee_type(str(line["code"]))
        items.append(
            {
                "type_code": type_code,  # loại phí, lệ phí
                "type_name": type_name,
                "code": line["code"],  # mã khoản thu
                "name": line["name"],  # tên khoản thu
                "amount": int(line["amount"]),  # số tiền (đồng)
            }
        )
    return {
        "dossier_code": order.dossier_code,  # mã hồ sơ
        "lookup_code": dossier.tracking_secret,  # mã tra cứu
        "procedure_code": order.procedure_code,  # mã thủ tục
        "procedure_name": dossier.procedure.name,  # tên thủ tục
        "service_code": dossier.procedure.local_code or order.procedure_code,  # mã dịch vụ công
        "unit_code": dossier.agency.code,  # mã đơn vị
        "unit_name": dossier.agency.name,  # tên đơn vị
        "fee_items": items,  # danh sách phí, lệ phí
        "amounts": [item["amount"] for item in items],  # danh sách số tiền
        "total": sum(item["amount"] for item in items),
        "beneficiary": {
            "account_number": beneficiary.account_number,  # số tài khoản thụ hưởng
            "account_name": beneficiary.account_name,  # tên tài khoản thụ hưởng
            "bank_code": beneficiary.bank_code,  # mã ngân hàng thụ hưởng
            "bank_name": beneficiary.bank_name,
        },
        "revenue": {"chapter": beneficiary.revenue_chapter, "item": beneficiary.revenue_item},  # loại thu, mục lục NS
        "deciding_agency": dossier.agency.name,  # cơ quan quyết định thu
        "treasury": {"code": beneficiary.treasury_code, "name": beneficiary.treasury_name},  # kho bạc
        "decision": {"number": "", "date": None},  # số, ngày quyết định (a fee fixed by law: none)
        "content": f"Nộp phí, lệ phí hồ sơ {order.dossier_code}",  # nội dung thanh toán
        "payer": {
            "name": order.payer_name,  # họ tên người nộp
            "personal_id": getattr(payer, "personal_id", "") or "",  # số giấy tờ tùy thân
            "address": getattr(payer, "address", "") or "",  # địa chỉ
        },
    }
