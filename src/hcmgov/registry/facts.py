"""The facts about an applicant the city may hold and prefill (a form field names one with
``x-prefill``), where each is found, and which consent category covers it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hcmgov.common.errors import Message
from hcmgov.registry import registries as r


@dataclass(frozen=True)
class Fact:
    name: str
    label: Message
    category: str  # identity.purposes.CATEGORIES: what a consent must cover to use it
    subject: str  # "person" or "business": whose key finds it
    registry: str = ""  # the base registry that vouches for it ("" none)
    path: str = ""  # where in that registry's record ("a.b"; "" the record's key)
    account: str = ""  # the account's attribute holding it ("" none)


FACTS: dict[str, Fact] = {
    f.name: f
    for f in (
        Fact("full_name", Message("Họ và tên", "Full name"), "identity", "person", r.POPULATION, "full_name",
             "full_name"),
        Fact("personal_id", Message("Số định danh cá nhân", "Personal ID"), "identity", "person", r.POPULATION, "",
             "personal_id"),
        Fact("date_of_birth", Message("Ngày sinh", "Date of birth"), "identity", "person", r.POPULATION,
             "date_of_birth", "date_of_birth"),
        Fact("sex", Message("Giới tính", "Sex"), "identity", "person", r.POPULATION, "sex"),
        Fact("nationality", Message("Quốc tịch", "Nationality"), "identity", "person", r.POPULATION,
             "nationality_name"),
        Fact("ethnicity", Message("Dân tộc", "Ethnicity"), "identity", "person", r.POPULATION, "ethnicity"),
        Fact("address", Message("Địa chỉ thường trú", "Permanent address"), "address", "person", r.POPULATION,
             "permanent_address.formatted", "address"),
        Fact("phone", Message("Số điện thoại", "Phone"), "contact", "person", account="phone"),
        Fact("email", Message("Thư điện tử", "E-mail"), "contact", "person", account="email"),
        Fact("tax_code", Message("Mã số thuế", "Tax code"), "business", "business", r.BUSINESS, "", "tax_code"),
        Fact("business_name", Message("Tên doanh nghiệp", "Business name"), "business", "business", r.BUSINESS,
             "name"),
        Fact("business_address", Message("Địa chỉ trụ sở", "Registered office"), "business", "business",
             r.BUSINESS, "address.formatted"),
        Fact("legal_representative", Message("Người đại diện theo pháp luật", "Legal representative"), "business",
             "business", r.BUSINESS, "legal_representative.full_name"),
    )
}  # fmt: skip


def fact_value(facts: dict[str, Any] | None, path: str) -> Any:
    """The value at ``path`` ("a.b") of a record's facts, or None."""
    node: Any = facts
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def comparable(value: Any) -> str:
    """Two statements of a fact agree when they are equal after case, spacing and Unicode form
    are set aside ("Nguyễn  Văn A" is "nguyễn văn a")."""
    import unicodedata

    text = unicodedata.normalize("NFC", str(value if value is not None else ""))
    return " ".join(text.split()).casefold()
