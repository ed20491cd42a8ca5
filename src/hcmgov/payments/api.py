"""/api/v1/payments: a dossier's fees, paying them through the gateway, cash at the counter, and
the gateway's IPN (which answers in VNPay's own shape, not in problem details)."""

import datetime as dt
from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import Router, Schema

from hcmgov.common.access import is_applicant
from hcmgov.common.apiauth import AUTH
from hcmgov.common.errors import DomainError, Message
from hcmgov.common.problem import problems
from hcmgov.dossiers import selectors as dossiers
from hcmgov.payments import selectors, services

router = Router(tags=["payments"], auth=AUTH)
ipn_router = Router(tags=["payments"])
APPLICANT = {"x-access": "applicant"}
OFFICIAL = {"x-access": "official"}
SIGNED_IN = {"x-access": "applicant-or-official"}
PUBLIC = {"x-access": "public"}


class FeeLineOut(Schema):
    code: str
    name: str
    name_en: str
    unit_amount: int | None
    quantity: int
    reduction_percent: int
    amount: int | None
    basis: str


class ReceiptOut(Schema):
    series: str
    number: int
    issued_at: dt.datetime
    cancelled_at: dt.datetime | None


class OrderOut(Schema):
    id: int
    dossier: str
    stage: str
    amount: int
    state: str
    method: str
    paid_at: dt.datetime | None
    lines: list[FeeLineOut]
    receipt: ReceiptOut | None

    @staticmethod
    def resolve_dossier(obj: Any) -> str:
        return str(obj.dossier_code)

    @staticmethod
    def resolve_receipt(obj: Any) -> Any:
        return getattr(obj, "receipt", None)


class StartedOut(Schema):
    ref: str
    amount: int
    expires_at: dt.datetime
    redirect_url: str


class IpnOut(Schema):
    RspCode: str
    Message: str


@router.get(
    "/dossiers/{code}",
    response={200: list[OrderOut], **problems(401, 404)},
    openapi_extra=SIGNED_IN,
    summary="A dossier's fees: the payment orders, their lines and receipts",
)
def dossier_orders(request: HttpRequest, code: str) -> Any:
    dossier = dossiers.dossier_visible_to(user=request.user, code=code)
    services.order_ensure(dossier_id=dossier.pk)
    return selectors.dossier_orders(dossier_id=dossier.pk)


@router.post(
    "/dossiers/{code}/start",
    response={200: StartedOut, **problems(401, 403, 404, 409, 503)},
    openapi_extra=APPLICANT,
    summary="Start paying a dossier's due fees through the gateway; send the browser to redirect_url",
)
def start(request: HttpRequest, code: str) -> Any:
    dossier = dossiers.dossier_visible_to(user=request.user, code=code)
    if not is_applicant(request.user):
        raise DomainError("forbidden", Message("Chỉ người nộp hồ sơ được thanh toán.", "Only the applicant pays."), 403)
    started = services.dossier_pay_start(
        dossier_id=dossier.pk,
        user=request.user,
        ip=str(request.META.get("REMOTE_ADDR") or "127.0.0.1"),
        locale=getattr(request, "LANGUAGE_CODE", "vi") or "vi",
    )
    txn = started.transaction
    return {"ref": txn.ref, "amount": txn.amount, "expires_at": txn.expires_at, "redirect_url": started.redirect_url}


@router.post(
    "/orders/{order_id}/cash",
    response={200: OrderOut, **problems(401, 403, 404, 409)},
    openapi_extra=OFFICIAL,
    summary="Record fees paid in cash at the one-stop-shop desk",
)
def pay_cash(request: HttpRequest, order_id: int) -> Any:
    if getattr(request.user, "kind", None) != "official":
        raise DomainError("forbidden", Message("Chỉ cán bộ được dùng chức năng này.", "Officials only."), 403)
    order = services.order_for_official(order_id=order_id, official=request.user)
    services.order_pay_cash(order=order, official=request.user)
    return selectors.order_get(order_id=order_id)


@router.get(
    "/orders/{order_id}/national-bill",
    response={200: dict[str, Any], **problems(401, 404, 409)},
    openapi_extra=SIGNED_IN,
    summary="The order as the national payment platform's bill (the fields of the portal's bill)",
)
def national_bill(request: HttpRequest, order_id: int) -> Any:
    order = selectors.order_visible(order_id=order_id, user=request.user)
    return services.order_national_bill(order=order)


@ipn_router.get(
    "/vnpay/ipn",
    response={200: IpnOut},
    openapi_extra=PUBLIC,
    summary="The gateway's IPN (VNPay 2.1.0): a payment's result, server to server",
    description="Answers {RspCode, Message}: 00 confirmed, 01 order not found, 02 already confirmed, "
    "04 invalid amount, 97 invalid signature, 99 unknown error.",
)
def ipn(request: HttpRequest) -> Any:
    params = {k: str(v) for k, v in request.GET.items() if k.startswith("vnp_")}
    outcome = services.callback_handle(kind="ipn", params=params)
    return JsonResponse({"RspCode": outcome.code, "Message": outcome.message})
