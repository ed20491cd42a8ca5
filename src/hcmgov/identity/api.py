"""/api/v1/me: the caller's own account — the consents they gave to share their data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from hcmgov.common.apiauth import AUTH
from hcmgov.common.errors import DomainError, Message
from hcmgov.common.problem import problems
from hcmgov.identity import selectors, services

me_router = Router(tags=["me"], auth=AUTH)
APPLICANT = {"x-access": "applicant"}


class ConsentOut(Schema):
    id: int
    purpose: str
    purpose_name: str
    purpose_name_en: str
    recipient: str
    recipient_name: str
    data_categories: list[str]
    data_category_names: list[str]
    legal_basis: str
    source: str
    granted_at: dt.datetime
    expires_at: dt.datetime | None
    withdrawn_at: dt.datetime | None
    in_force: bool

    @staticmethod
    def resolve_purpose_name(obj: Any) -> str:
        return str(obj.purpose_label.vi)

    @staticmethod
    def resolve_purpose_name_en(obj: Any) -> str:
        return str(obj.purpose_label.en)

    @staticmethod
    def resolve_data_category_names(obj: Any, context: Any) -> list[str]:
        language = getattr(context["request"], "LANGUAGE_CODE", "vi")
        return [label.in_language(language) for label in obj.category_labels]


def _require_applicant(request: HttpRequest) -> None:
    if getattr(request.user, "kind", None) not in {"citizen", "business"}:
        raise DomainError(
            "forbidden",
            Message("Chỉ công dân, doanh nghiệp có mục này.", "Only citizens and businesses have this."),
            403,
        )


@me_router.get(
    "/consents",
    response={200: list[ConsentOut], **problems(401, 403)},
    openapi_extra=APPLICANT,
    summary="The consents I gave to share my data, in force or not",
)
def consents(request: HttpRequest) -> Any:
    """Chia sẻ dữ liệu — newest first; ``in_force`` is false once withdrawn or expired."""
    _require_applicant(request)
    return selectors.consents_of(user=request.user)


@me_router.post(
    "/consents/{consent_id}/withdraw",
    response={200: ConsentOut, **problems(401, 403, 404)},
    openapi_extra=APPLICANT,
    summary="Withdraw one of my consents (again: no change)",
)
def consent_withdraw(request: HttpRequest, consent_id: int) -> Any:
    """Rút lại sự đồng ý (Decree 13/2023/NĐ-CP, Art. 12): not in force from now on. Another
    person's consent is not found."""
    _require_applicant(request)
    user: Any = request.user
    return services.consent_withdraw(subject=user, consent_id=consent_id)
