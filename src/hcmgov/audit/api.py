"""/api/v1/office/statistics/authentication: how the transactions of a period were authenticated."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema

from hcmgov.audit import selectors
from hcmgov.common.apiauth import AUTH
from hcmgov.common.errors import DomainError, FieldError, Message, NotFound
from hcmgov.common.problem import problems
from hcmgov.core import selectors as core
from hcmgov.identity import selectors as identity

router = Router(tags=["back office"], auth=AUTH)
OFFICIAL_OR_STAFF = {"x-access": "official-or-staff"}  # officials: their agencies; administrators: the city
MAX_DAYS = 366


class ActionShareOut(Schema):
    action: str
    transactions: int
    authenticated: int


class AuthenticationShareOut(Schema):
    start: dt.date
    end: dt.date
    agency: str | None
    transactions: int
    authenticated: int
    share: float | None
    by_method: dict[str, int]
    by_level: dict[str, int]
    by_action: list[ActionShareOut]


def _forbidden() -> DomainError:
    return DomainError(
        "forbidden",
        Message("Chỉ cán bộ, quản trị viên được xem số liệu này.", "Officials and administrators only."),
        403,
    )


def _scope(user: Any, agency: str) -> list[int] | None:
    """The agencies the caller may count: an official's own (or one of them), an administrator's
    any (None: the whole city)."""
    if not user.is_staff and getattr(user, "kind", None) != "official":
        raise _forbidden()
    agency_id = None
    if agency:
        found = core.agency_list().filter(code=agency).values_list("id", flat=True).first()
        if found is None:
            raise NotFound("cơ quan", "Agency")
        agency_id = int(found)
    if user.is_staff:
        return None if agency_id is None else [agency_id]
    own = identity.user_agency_ids(user=user)
    if agency_id is None:
        return own
    if agency_id not in own:
        raise _forbidden()
    return [agency_id]


@router.get(
    "/authentication",
    response={200: AuthenticationShareOut, **problems(401, 403, 404, 422)},
    openapi_extra=OFFICIAL_OR_STAFF,
    summary="Share of electronically authenticated transactions, by method and assurance level",
)
def authentication(
    request: HttpRequest,
    start: dt.date,
    end: dt.date,
    agency: str = Query("", max_length=32, description="An agency's code; none: all the caller's agencies"),
) -> Any:
    """Tỷ lệ giao dịch được xác thực điện tử — the submissions, supplements, withdrawals and
    officials' decisions of the period (days in Asia/Ho_Chi_Minh, both inclusive), counted by how
    their actor authenticated. An official sees the agencies where they hold a role, an
    administrator the whole city. Levels: 0 not electronically authenticated (system, anonymous,
    not recorded), 1 one factor (password, token, e-ID level 1), 2 two factors or e-ID level 2."""
    if end < start or (end - start).days >= MAX_DAYS or start.year < 1900 or end.year > 2999:
        message = Message(
            f"Khoảng thời gian phải từ 1 đến {MAX_DAYS} ngày trong các năm 1900–2999, ngày kết thúc không trước ngày"
            " bắt đầu.",
            f"The period must be 1 to {MAX_DAYS} days within the years 1900–2999, ending on or after its start.",
        )
        raise DomainError("invalid_period", message, 422, [FieldError("end", "invalid_period", message)])
    figures = selectors.authenticated_transactions(start=start, end=end, agency_ids=_scope(request.user, agency))
    return {
        "start": figures.start,
        "end": figures.end,
        "agency": agency or None,
        "transactions": figures.transactions,
        "authenticated": figures.authenticated,
        "share": figures.share,
        "by_method": figures.by_method,
        "by_level": {str(level): n for level, n in figures.by_level.items()},
        "by_action": [
            {"action": action, "transactions": n, "authenticated": ok} for action, (n, ok) in figures.by_action.items()
        ],
    }
