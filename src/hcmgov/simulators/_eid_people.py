"""The people and businesses the e-ID simulator knows (test data: no real person's details).

Personal IDs follow the numbering of the national population database: province code (079 Hồ Chí
Minh City), one digit for century and sex (0 man, 1 woman born 1900–1999; 2 man, 3 woman born
2000–2099), the last two digits of the year of birth, then a serial. Addresses use the wards of
the city after the 2025 reorganisation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SIM_PASSWORD = "vneid-Matkhau-2026"  # noqa: S105 - every seeded person's password (test data)


@dataclass(frozen=True)
class Business:
    tax_code: str
    name: str
    address: str


@dataclass(frozen=True)
class Person:
    personal_id: str
    family_name: str
    given_name: str
    birthdate: str
    gender: str
    street_address: str
    locality: str
    level: int
    represents: tuple[str, ...] = ()  # tax codes of the businesses the person is legal representative of
    password: str = SIM_PASSWORD

    @property
    def name(self) -> str:
        return f"{self.family_name} {self.given_name}"

    @property
    def subject(self) -> str:
        """Opaque and stable across restarts; not the personal ID (which is a claim of its own)."""
        return "vneid-" + hashlib.sha256(b"sim-eid:" + self.personal_id.encode()).hexdigest()[:32]

    def address(self) -> dict[str, str]:
        region = "Thành phố Hồ Chí Minh"
        return {
            "formatted": f"{self.street_address}, {self.locality}, {region}",
            "street_address": self.street_address,
            "locality": self.locality,
            "region": region,
            "country": "VN",
        }


# a 10-digit tax code whose last digit checks (the usual weights 31 29 23 19 17 13 7 5 3)
BUSINESSES = (Business("0312345673", "Công ty TNHH Sài Gòn Xanh", "45 Nguyễn Huệ, Phường Sài Gòn"),)
PEOPLE = (
    # 079 Hồ Chí Minh City · 0 man born 1900-1999 · 85 born 1985 · serial
    Person("079085001234", "Nguyễn Văn", "An", "1985-03-12", "male", "12 Lê Lợi", "Phường Sài Gòn", 2),
    Person("079190005678", "Trần Thị Bích", "Ngọc", "1990-11-05", "female", "88 Võ Văn Tần", "Phường Xuân Hòa", 1),
    Person(
        "079078009876",
        "Lê Hoàng",
        "Minh",
        "1978-07-20",
        "male",
        "45 Nguyễn Huệ",
        "Phường Sài Gòn",
        2,
        represents=("0312345673",),
    ),
    Person("079301002468", "Phạm Thu", "Hà", "2001-01-30", "female", "7 Phan Văn Trị", "Phường Hạnh Thông", 1),
)
