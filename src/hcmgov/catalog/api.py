"""/api/v1/procedures: the procedure catalogue."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate

from hcmgov.catalog import selectors
from hcmgov.common.pagination import Pages
from hcmgov.common.problem import problems

router = Router(tags=["procedures"])
PUBLIC = {"x-access": "public"}


class FeeOut(Schema):
    code: str
    name: str
    name_en: str | None = None
    amount: int | None = None
    note: str | None = None


class DocumentOut(Schema):
    code: str
    name: str
    name_en: str | None = None
    kind: str | None = None
    count: int | None = None
    required: bool = True
    template: str | None = None


class ProcedureOut(Schema):
    code: str
    local_code: str
    code_verified: bool
    name: str
    name_en: str
    field: str
    field_en: str
    level: str
    agency_kind: str
    agency_department: str
    online_level: str
    statutory_days: int
    has_fee: bool


class ProcedureDetailOut(ProcedureOut):
    version: int
    valid_from: dt.date
    fees: list[FeeOut]
    required_documents: list[DocumentOut]
    legal_basis: list[str]
    result: str
    result_en: str
    form_schema: dict[str, Any]


@router.get("", response={200: list[ProcedureOut], **problems(422)}, openapi_extra=PUBLIC, summary="Search procedures")
@paginate(Pages, page_size=50)
def list_procedures(
    request: HttpRequest, q: str = "", field: str = "", level: str = "", agency_kind: str = "", online_level: str = ""
) -> Any:
    """Tìm thủ tục hành chính — procedures matching words of `q` (diacritics optional) and filters."""
    return selectors.procedure_search(q=q, field=field, level=level, agency_kind=agency_kind, online_level=online_level)


@router.get(
    "/{code}",
    response={200: ProcedureDetailOut, **problems(404)},
    openapi_extra=PUBLIC,
    summary="One procedure, version in force",
)
def get_procedure(request: HttpRequest, code: str) -> Any:
    procedure = selectors.procedure_get(code=code)
    version = selectors.procedure_version_in_force(procedure=procedure, day=dt.date.today())  # noqa: DTZ011
    out = ProcedureOut.from_orm(procedure).dict()
    out.update(
        version=version.version,
        valid_from=version.valid_from,
        fees=version.fees,
        required_documents=version.required_documents,
        legal_basis=version.legal_basis,
        result=version.result,
        result_en=version.result_en,
        form_schema=version.form_schema,
    )
    return out
