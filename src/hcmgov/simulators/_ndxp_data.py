"""The records the NDXP simulator's national services answer (test data: no real person's or
business's details), each derived from its key alone, so the same ID always gives the same record.

**Personal IDs** (số định danh cá nhân, 12 digits) follow the numbering of the national population
database as secondary sources describe it (Decree 137/2015/NĐ-CP, Circular 07/2016/TT-BCA and their
successors; the texts were not read here): the code of the province where the birth was registered
(:data:`PROVINCES`, the statistics codes of Decision 124/2004/QĐ-TTg, 63 provinces before the 2025
mergers), one digit for century and sex (0 man, 1 woman born 1900–1999; 2 man, 3 woman born
2000–2099), the last two digits of the year of birth, then a six-digit serial. An ID of 12 digits
that does not follow it — unknown province, a century digit past 3, a year of birth still to
come, serial 000000 — is a person the database does not have. The e-ID simulator's seeded people
(``_eid_people.PEOPLE``) are answered with their own details.

**Tax codes** (mã số thuế) have 10 digits, the tenth a check digit — 10 − (Σ dᵢ·wᵢ mod 11) with
weights 31 29 23 19 17 13 7 5 3 over the first nine, a remainder 0 (check 10) meaning no valid
code — or 13: a unit (branch) of the enterprise with those 10 digits, numbered 001–999, written
with or without a hyphen. **The simulator's own rule**: the first two digits are the issuing
province (01–63); a code outside that (00, 64–99: 8… are individuals' codes) is no enterprise.
The project had no tax-code validator in ``hcmgov.common`` to reuse; :func:`tax_code_check` is it.

Addresses are in the wards and communes of Hồ Chí Minh City from 1 July 2025
(``hcmgov/core/data/units/hcmc-2025.json``, read here without Django); business lines are VSIC 2018
codes (Decision 27/2018/QĐ-TTg).
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import hashlib
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from hcmgov.simulators._eid_people import BUSINESSES, PEOPLE, Person

UNITS_FILE = Path(__file__).resolve().parent.parent / "core" / "data" / "units" / "hcmc-2025.json"
CITY = "Thành phố Hồ Chí Minh"
GMT7 = dt.timezone(dt.timedelta(hours=7))
PERSONAL_ID = re.compile(r"^\d{12}$")
TAX_CODE = re.compile(r"^(\d{10})(?:-?(\d{3}))?$")
TAX_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)

PROVINCES = {
    **{"001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn", "008": "Tuyên Quang"},
    **{"010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu", "014": "Sơn La", "015": "Yên Bái"},
    **{"017": "Hòa Bình", "019": "Thái Nguyên", "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang"},
    **{"025": "Phú Thọ", "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng"},
    **{"033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định", "037": "Ninh Bình"},
    **{"038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh", "044": "Quảng Bình", "045": "Quảng Trị"},
    **{"046": "Thừa Thiên Huế", "048": "Đà Nẵng", "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định"},
    **{"054": "Phú Yên", "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum"},
    **{"064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng", "070": "Bình Phước"},
    **{"072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai", "077": "Bà Rịa - Vũng Tàu", "079": "Hồ Chí Minh"},
    **{"080": "Long An", "082": "Tiền Giang", "083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long"},
    **{"087": "Đồng Tháp", "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ", "093": "Hậu Giang"},
    **{"094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau"},
}

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương")
MIDDLE = {"male": ("Văn", "Hữu", "Minh", "Quốc", "Đức", "Thanh", "Hoàng"), "female": ("Thị", "Ngọc", "Thu", "Bích")}
GIVEN = {
    "male": ("An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khoa", "Long", "Nam", "Phúc", "Quang", "Sơn", "Tài"),
    "female": ("Anh", "Châu", "Dung", "Giang", "Hà", "Hạnh", "Hoa", "Lan", "Linh", "Mai", "Nhung", "Thảo", "Trang"),
}
STREETS = (
    *("Lê Lợi", "Nguyễn Huệ", "Hai Bà Trưng", "Pasteur", "Điện Biên Phủ", "Cách Mạng Tháng Tám", "Lý Thường Kiệt"),
    *("Nguyễn Thị Minh Khai", "Võ Văn Tần", "Phan Văn Trị", "Quang Trung", "Lê Văn Sỹ", "Nguyễn Văn Linh"),
    *("Kha Vạn Cân", "Phạm Văn Đồng", "Lũy Bán Bích", "Âu Cơ", "Kinh Dương Vương", "Nguyễn Oanh"),
)
KINDS = (  # (Vietnamese, English, the legal representative's usual title)
    ("Công ty TNHH một thành viên", "One Member Company Limited", "Giám đốc"),
    ("Công ty TNHH", "Company Limited", "Giám đốc"),
    ("Công ty Cổ phần", "Joint Stock Company", "Tổng Giám đốc"),
)
BRANDS = (
    "Phú Gia",
    "Minh Phát",
    "An Khang",
    "Hưng Thịnh",
    "Tân Phú",
    "Bến Nghé",
    "Thành Công",
    "Việt Tiến",
    "Nam Long",
)
SECTORS = (  # (Vietnamese, English, VSIC 2018 lines, the first the main one)
    ("Thương mại", "Trading", (("4690", "Bán buôn tổng hợp"), ("4649", "Bán buôn đồ dùng khác cho gia đình"))),
    ("Xây dựng", "Construction", (("4101", "Xây dựng nhà để ở"), ("4102", "Xây dựng nhà không để ở"))),
    (
        "Công nghệ",
        "Technology",
        (
            ("6201", "Lập trình máy vi tính"),
            ("6202", "Tư vấn máy vi tính và quản trị hệ thống máy vi tính"),
            ("6311", "Xử lý dữ liệu, cho thuê và các hoạt động liên quan"),
        ),
    ),
    (
        "Vận tải",
        "Transport",
        (("4933", "Vận tải hàng hóa bằng đường bộ"), ("5229", "Hoạt động dịch vụ hỗ trợ khác liên quan đến vận tải")),
    ),
    ("Dịch vụ Ăn uống", "Food Services", (("5610", "Nhà hàng và các dịch vụ ăn uống phục vụ lưu động"),)),
    ("Tư vấn", "Consulting", (("7020", "Hoạt động tư vấn quản lý"),)),
)
STATUSES = {
    "active": ("Đang hoạt động", "Active"),
    "suspended": ("Tạm ngừng kinh doanh có thời hạn", "Temporarily suspended"),
    "dissolved": ("Đã giải thể", "Dissolved"),
}


@functools.lru_cache(maxsize=1)
def wards() -> tuple[dict[str, str], ...]:
    """The city's 168 wards, communes and special zone of 2025, by statistics code."""
    units = json.loads(UNITS_FILE.read_text(encoding="utf-8"))["units"]
    return tuple(
        {"code": u["code"], "name": u["name"], "name_en": u["name_en"]} for u in units if u["type"] != "province"
    )


def _draw(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _pick(options: tuple[Any, ...] | list[Any], draw: bytes, at: int) -> Any:
    return options[int.from_bytes(draw[at : at + 2], "big") % len(options)]


def ascii_fold(text: str) -> str:
    """Vietnamese without its marks (đ → d), as English names of businesses are written."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def address(draw: bytes, *, street: str = "", ward_name: str = "") -> dict[str, str]:
    """A permanent address in a ward of the city: drawn, or the given street and ward."""
    ward = next((w for w in wards() if w["name"] == ward_name), None) or _pick(wards(), draw, 10)
    if not street:
        number = 1 + int.from_bytes(draw[12:14], "big") % 399
        lane = f"/{1 + draw[14] % 60}" if draw[15] % 3 == 0 else ""
        street = f"{number}{lane} {_pick(STREETS, draw, 16)}"
    return {
        "formatted": f"{street}, {ward['name']}, {CITY}",
        "street_address": street,
        "ward_code": ward["code"],
        "ward": ward["name"],
        "province_code": "79",
        "province": CITY,
        "country": "VN",
    }


# --- people ------------------------------------------------------------------------------------


def personal_id_valid(personal_id: str) -> bool:
    return bool(PERSONAL_ID.match(personal_id))


def citizen(personal_id: str, *, today: dt.date | None = None) -> dict[str, Any] | None:
    """The population database's record of ``personal_id`` (12 digits), or None when it has none."""
    seeded = {p.personal_id: p for p in PEOPLE}.get(personal_id)
    if seeded is not None:
        return _seeded_citizen(seeded)
    province, century, year, serial = personal_id[:3], int(personal_id[3]), personal_id[4:6], personal_id[6:]
    today = today or dt.datetime.now(GMT7).date()
    if province not in PROVINCES or century > 3 or serial == "000000":
        return None
    born_year = (1900 if century < 2 else 2000) + int(year)
    sex = "male" if century % 2 == 0 else "female"
    draw = _draw("ndxp-citizen:" + personal_id)
    month = 1 + draw[0] % 12
    born = dt.date(born_year, month, 1 + draw[1] % calendar.monthrange(born_year, month)[1])
    if born > today:
        return None
    family, middle, given = _pick(FAMILY, draw, 2), _pick(MIDDLE[sex], draw, 4), _pick(GIVEN[sex], draw, 6)
    return _citizen_record(
        personal_id,
        family=family,
        middle=middle,
        given=given,
        born=born.isoformat(),
        sex=sex,
        home=address(draw),
        ethnicity="Hoa" if draw[8] % 25 == 0 else "Kinh",
    )


def _seeded_citizen(person: Person) -> dict[str, Any]:
    family, _, middle = person.family_name.partition(" ")
    return _citizen_record(
        person.personal_id,
        family=family,
        middle=middle,
        given=person.given_name,
        born=person.birthdate,
        sex=person.gender,
        home=address(_draw(person.personal_id), street=person.street_address, ward_name=person.locality),
        ethnicity="Kinh",
    )


def _citizen_record(
    personal_id: str, *, family: str, middle: str, given: str, born: str, sex: str, home: dict[str, str], ethnicity: str
) -> dict[str, Any]:
    province = personal_id[:3]
    return {
        "personal_id": personal_id,
        "full_name": " ".join(part for part in (family, middle, given) if part),
        "family_name": family,
        "middle_name": middle,
        "given_name": given,
        "date_of_birth": born,
        "sex": sex,
        "sex_vi": "Nam" if sex == "male" else "Nữ",
        "nationality": "VN",
        "nationality_name": "Việt Nam",
        "ethnicity": ethnicity,
        "place_of_birth_registration": {"province_code": province, "province": PROVINCES.get(province, "")},
        "permanent_address": home,
    }


# --- enterprises -------------------------------------------------------------------------------


def tax_code_check(code: str) -> tuple[str, str] | None:
    """``(the 10 digits, the unit's 3 digits or "")`` of a well-formed tax code whose check digit
    is right (10 digits, or 13 with or without a hyphen, unit 001–999); None otherwise."""
    match = TAX_CODE.match(code)
    if match is None:
        return None
    base, unit = match[1], match[2] or ""
    remainder = sum(int(d) * w for d, w in zip(base[:9], TAX_WEIGHTS, strict=True)) % 11
    if remainder == 0 or int(base[9]) != 10 - remainder or unit == "000":
        return None
    return base, unit


def tax_code_complete(nine: str) -> str:
    """The 10-digit tax code that starts with these 9 digits, or "" when none does (remainder 0)."""
    remainder = sum(int(d) * w for d, w in zip(nine, TAX_WEIGHTS, strict=True)) % 11
    return f"{nine}{10 - remainder}" if remainder else ""


def enterprise(code: str) -> dict[str, Any] | None:
    """The business registry's record of a valid tax code (:func:`tax_code_check`), or None."""
    checked = tax_code_check(code)
    if checked is None:
        return None
    base, unit = checked
    if not 1 <= int(base[:2]) <= 63:
        return None
    known = {b.tax_code: b for b in BUSINESSES}.get(base)
    draw = _draw("ndxp-enterprise:" + base)
    kind_vi, kind_en, title = _pick(KINDS, draw, 0)
    sector_vi, sector_en, lines = _pick(SECTORS, draw, 2)
    brand = _pick(BRANDS, draw, 4)
    if known is not None:
        name, where = known.name, known.address.rpartition(", ")
        name_en = ascii_fold(name.replace("Công ty TNHH ", "")) + " Company Limited"
        home = address(draw, street=where[0], ward_name=where[2])
        representative = next(p for p in PEOPLE if base in p.represents).personal_id
        title, status = "Giám đốc", "active"
    else:
        name = f"{kind_vi} {sector_vi} {brand}"
        name_en = f"{ascii_fold(brand)} {sector_en} {kind_en}"
        home = address(draw)
        representative = f"079{draw[6] % 2}{50 + draw[7] % 50}{1 + int.from_bytes(draw[8:11], 'big') % 999_999:06d}"
        status = ("dissolved", "suspended", "suspended", *("active",) * 17)[draw[11] % 20]
    person = citizen(representative)
    assert person is not None  # a 1950–1999 birth in province 079: always a person
    registered = dt.date(2000, 1, 1) + dt.timedelta(days=int.from_bytes(draw[12:14], "big") % 9000)
    record: dict[str, Any] = {
        "tax_code": base + (f"-{unit}" if unit else ""),
        "name": name,
        "name_en": name_en,
        "unit_type": "branch" if unit else "enterprise",
        "address": home,
        "legal_representative": {
            "full_name": person["full_name"],
            "personal_id": person["personal_id"],
            "title": title,
        },
        "registration_date": registered.isoformat(),
        "status": status,
        "status_vi": STATUSES[status][0],
        "status_en": STATUSES[status][1],
        "charter_capital_vnd": (1 + int.from_bytes(draw[14:16], "big") % 200) * 100_000_000,
        "business_lines": [{"code": c, "name": n, "main": i == 0} for i, (c, n) in enumerate(lines)],
    }
    if unit:
        record.update(
            name=f"Chi nhánh {int(unit)} - {name}",
            name_en=f"Branch {int(unit)} - {name_en}",
            parent_tax_code=base,
            address=address(_draw(f"ndxp-enterprise:{base}-{unit}")),
        )
    return record
