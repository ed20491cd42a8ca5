"""The registers of the shared data store, declared here and kept in the database by
``services.registries_sync`` (after every migration): a registry's schema is code, reviewed like
code. Each national registry names the exchange service it is mirrored from (``service``, a path
under the city's gateway ``/x/``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

POPULATION = "population"
BUSINESS = "business"
HOUSEHOLD_BUSINESS = "household_business"
CONSTRUCTION_PERMIT = "construction_permit"
DECLARED = "declared"

_ADDRESS = {
    "type": "object",
    "properties": {
        "formatted": {"type": "string", "maxLength": 300},
        "street_address": {"type": "string"},
        "ward_code": {"type": "string"},
        "ward": {"type": "string"},
        "province_code": {"type": "string"},
        "province": {"type": "string"},
        "country": {"type": "string"},
    },
    "required": ["formatted"],
}
_DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}


@dataclass(frozen=True)
class Declaration:
    code: str
    name: str
    name_en: str
    kind: str
    subject: str
    key_name: str
    schema: dict[str, Any]
    service: str = ""
    authoritative: bool = False
    refresh_days: int = 30
    key_pattern: str = field(default="")


DECLARATIONS: tuple[Declaration, ...] = (
    Declaration(
        POPULATION,
        "Cơ sở dữ liệu quốc gia về dân cư",
        "National population database",
        "national",
        "person",
        "personal_id",
        {
            "type": "object",
            "properties": {
                "personal_id": {"type": "string", "pattern": "^[0-9]{12}$"},
                "full_name": {"type": "string", "minLength": 1, "maxLength": 150},
                "date_of_birth": _DATE,
                "sex": {"enum": ["male", "female"]},
                "nationality": {"type": "string"},
                "nationality_name": {"type": "string"},
                "ethnicity": {"type": "string"},
                "permanent_address": _ADDRESS,
            },
            "required": ["personal_id", "full_name", "date_of_birth"],
        },
        service="VN/BCA/CSDLQGDC/citizens",
        authoritative=True,
        key_pattern="^[0-9]{12}$",
    ),
    Declaration(
        BUSINESS,
        "Cơ sở dữ liệu quốc gia về đăng ký doanh nghiệp",
        "National business registration database",
        "national",
        "business",
        "tax_code",
        {
            "type": "object",
            "properties": {
                "tax_code": {"type": "string", "pattern": r"^[0-9]{10}(-?[0-9]{3})?$"},
                "name": {"type": "string", "minLength": 1, "maxLength": 300},
                "name_en": {"type": "string"},
                "address": _ADDRESS,
                "legal_representative": {
                    "type": "object",
                    "properties": {"full_name": {"type": "string"}, "personal_id": {"type": "string"}},
                    "required": ["full_name"],
                },
                "registration_date": _DATE,
                "status": {"type": "string"},
                "charter_capital_vnd": {"type": "integer", "minimum": 0},
                "business_lines": {"type": "array"},
            },
            "required": ["tax_code", "name", "address"],
        },
        service="VN/BKHDT/CSDLQGDKDN/enterprises",
        authoritative=True,
        key_pattern=r"^[0-9]{10}(-?[0-9]{3})?$",
    ),
    Declaration(
        HOUSEHOLD_BUSINESS,
        "Sổ đăng ký hộ kinh doanh",
        "Register of household businesses",
        "city",
        "business",
        "registration_number",
        {
            "type": "object",
            "properties": {
                "registration_number": {"type": "string", "minLength": 1, "maxLength": 20},
                "name": {"type": "string", "minLength": 1, "maxLength": 300},
                "owner_name": {"type": "string"},
                "owner_personal_id": {"type": "string", "pattern": "^[0-9]{12}$"},
                "address": _ADDRESS,
                "business_lines": {"type": "array", "items": {"type": "string"}},
                "capital_vnd": {"type": "integer", "minimum": 0},
                "registered_on": _DATE,
                "status": {"enum": ["active", "suspended", "closed"]},
            },
            "required": ["registration_number", "name", "owner_personal_id", "registered_on"],
        },
        authoritative=True,
        refresh_days=0,
    ),
    Declaration(
        CONSTRUCTION_PERMIT,
        "Sổ giấy phép xây dựng đã cấp",
        "Register of construction permits issued",
        "city",
        "other",
        "permit_number",
        {
            "type": "object",
            "properties": {
                "permit_number": {"type": "string", "minLength": 1, "maxLength": 40},
                "owner_name": {"type": "string"},
                "owner_personal_id": {"type": "string", "pattern": "^[0-9]{12}$"},
                "site_address": _ADDRESS,
                "floors": {"type": "integer", "minimum": 0},
                "floor_area_m2": {"type": "number", "minimum": 0},
                "issued_on": _DATE,
                "issued_by": {"type": "string"},
                "dossier_code": {"type": "string"},
            },
            "required": ["permit_number", "owner_name", "site_address", "issued_on", "issued_by"],
        },
        authoritative=True,
        refresh_days=0,
    ),
    Declaration(
        DECLARED,
        "Thông tin người dân, doanh nghiệp đã khai",
        "Facts declared by applicants",
        "declared",
        "other",
        "applicant",
        {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
        refresh_days=0,
    ),
)

BY_CODE = {d.code: d for d in DECLARATIONS}
