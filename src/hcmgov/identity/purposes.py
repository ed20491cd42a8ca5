"""The register of purposes for which a person may agree to share their data, and of the kinds of
data shared: each with its name in Vietnamese and English. A consent (``identity.models.Consent``)
names one purpose and some data categories from here; a new use of personal data is added here
first, with its legal basis, before any code relies on a consent for it.

Consent as Decree 13/2023/NĐ-CP on personal data protection sets it: given for a stated purpose,
to stated recipients, for stated kinds of data (Art. 11), and withdrawable at any time (Art. 12).
"""

from __future__ import annotations

from dataclasses import dataclass

from hcmgov.common.errors import Message

LEGAL_BASIS = "Nghị định 13/2023/NĐ-CP, Điều 11, 12 / Decree 13/2023/ND-CP, Art. 11, 12"


@dataclass(frozen=True)
class Purpose:
    """A reason to use a person's data: ``code`` is what consents and callers name."""

    code: str
    name: Message
    description: Message


PURPOSES: dict[str, Purpose] = {
    p.code: p
    for p in (
        Purpose(
            "prefill",
            Message("Điền sẵn biểu mẫu", "Prefilled forms"),
            Message(
                "Dùng dữ liệu thành phố đã có (kho dữ liệu dùng chung, VNeID) để điền sẵn tờ khai, khỏi khai lại.",
                "Use the data the city already holds (shared data store, VNeID) to fill in forms for you.",
            ),
        ),
        Purpose(
            "interagency",
            Message("Giải quyết liên thông", "Inter-agency processing"),
            Message(
                "Chia sẻ hồ sơ với cơ quan khác cùng giải quyết thủ tục liên thông.",
                "Share a dossier with the other agencies that process a joint procedure.",
            ),
        ),
        Purpose(
            "data_store",
            Message("Kho dữ liệu cá nhân", "Personal data store"),
            Message(
                "Lưu giấy tờ, kết quả giải quyết vào kho dữ liệu điện tử của bạn để dùng lại cho thủ tục sau.",
                "Keep your documents and results in your personal data store to reuse them later.",
            ),
        ),
        Purpose(
            "notifications",
            Message("Nhận thông báo", "Notifications"),
            Message(
                "Dùng số điện thoại, thư điện tử của bạn để báo tình trạng hồ sơ.",
                "Use your phone number and e-mail to tell you how your dossiers stand.",
            ),
        ),
        Purpose(
            "survey",
            Message("Khảo sát mức độ hài lòng", "Satisfaction surveys"),
            Message(
                "Liên hệ bạn để khảo sát mức độ hài lòng về dịch vụ công.",
                "Contact you to ask how satisfied you are with public services.",
            ),
        ),
    )
}

CATEGORIES: dict[str, Message] = {
    "identity": Message("Họ tên, số định danh, ngày sinh", "Name, personal ID, date of birth"),
    "contact": Message("Số điện thoại, thư điện tử", "Phone number, e-mail"),
    "address": Message("Địa chỉ", "Address"),
    "household": Message("Thông tin cư trú, hộ gia đình", "Residence and household"),
    "business": Message("Thông tin doanh nghiệp", "Business details"),
    "documents": Message("Giấy tờ trong hồ sơ", "Documents of a dossier"),
    "results": Message("Kết quả giải quyết thủ tục", "Results of procedures"),
}


def purpose_name(code: str) -> Message:
    """The purpose's name (its code when it is no longer in the register)."""
    purpose = PURPOSES.get(code)
    return purpose.name if purpose is not None else Message(code, code)


def category_name(code: str) -> Message:
    return CATEGORIES.get(code, Message(code, code))
