"""/api/v1/units and /api/v1/agencies.

No `from __future__ import annotations` in API modules: ninja reads the annotations at import.
"""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate

from hcmgov.common.pagination import Pages
from hcmgov.common.problem import problems
from hcmgov.core import selectors

router = Router(tags=["units and agencies"])
PUBLIC = {"x-access": "public"}


class UnitOut(Schema):
    structure: str
    code: str
    name: str
    name_en: str
    type: str
    level: str
    parent: str | None
    valid_from: dt.date
    valid_to: dt.date | None

    @staticmethod
    def resolve_structure(obj: Any) -> str:
        return obj.structure.key

    @staticmethod
    def resolve_parent(obj: Any) -> str | None:
        return obj.parent.code if obj.parent_id else None


class AgencyOut(Schema):
    code: str
    name: str
    name_en: str
    kind: str
    level: str
    department: str
    unit: str | None
    valid_from: dt.date
    valid_to: dt.date | None
    code_verified: bool

    @staticmethod
    def resolve_unit(obj: Any) -> str | None:
        return obj.unit.code if obj.unit_id else None


@router.get(
    "/units",
    response={200: list[UnitOut], **problems(422)},
    openapi_extra=PUBLIC,
    tags=["units and agencies"],
    summary="Administrative units",
)
@paginate(Pages, page_size=200)
def list_units(request: HttpRequest, structure: str = "", parent: str = "", level: str = "") -> Any:
    """Đơn vị hành chính — units of a structure (`2021` three-level, `2025` two-level)."""
    return selectors.unit_list(structure=structure or None, parent_code=parent or None, level=level or None)


@router.get("/agencies", response={200: list[AgencyOut], **problems(422)}, openapi_extra=PUBLIC, summary="Agencies")
@paginate(Pages, page_size=200)
def list_agencies(request: HttpRequest, kind: str = "", level: str = "", on: dt.date | None = None) -> Any:
    """Cơ quan — agencies that receive dossiers, optionally those in force on a date."""
    return selectors.agency_list(kind=kind or None, level=level or None, day=on)
