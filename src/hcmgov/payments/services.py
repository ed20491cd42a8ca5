"""Writes of the payments app: payment orders, gateway transactions and their settlement from the
gateway's callbacks, cash at the counter, refunds and receipts.

**Exactly once.** A transaction is settled under its row lock, by whichever of the IPN, the
browser's return or a query reaches it first; the others find it settled and change nothing (the
IPN is answered 02, "already confirmed"). The order is then locked and paid only if it is still
due; a second confirmed transaction for an order already paid (two tabs, a late IPN after cash at
the counter) is marked ``overpaid`` and refunded. Unique constraints back the locks: one live
order per dossier and stage, one transaction paying an order, one receipt per order, one refund
per transaction.

Callbacks are checked in VNPay's order — signature (97), transaction known (01), amount (04),
not yet confirmed (02) — and every one is kept with our answer (:class:`GatewayCallback`).
Network calls (refunds, queries) are never made inside a transaction holding a lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.common import context
from hcmgov.common.config import config
from hcmgov.common.db import fast_cursor, fast_insert
from hcmgov.common.errors import DomainError, Message
from hcmgov.core import services as core_services
from hcmgov.dossiers import selectors as dossiers
from hcmgov.identity import selectors as identity
from hcmgov.payments import fees
from hcmgov.payments.adapters import national, vnpay
from hcmgov.payments.models import (
    Beneficiary,
    GatewayCallback,
    GatewayTransaction,
    Method,
    OrderState,
    PaymentOrder,
    Receipt,
    Refund,
    RefundState,
    Stage,
    TxnState,
)

log = logging.getLogger(__name__)
LOCAL_TZ = dt.timezone(dt.timedelta(hours=7))
DESK_ROLES = {"receiver", "head", "agency_admin"}


def expiry() -> dt.timedelta:
    minutes = config(
        "HCMGOV_PAYMENT_EXPIRY_MINUTES",
        15,
        help="Minutes a gateway payment may take before it expires (vnp_ExpireDate); "
        "the applicant can then start a new one.",
        group="payments",
    )
    return dt.timedelta(minutes=minutes)


expiry()


def _refuse(code: str, vi: str, en: str, status: int = 409) -> DomainError:
    return DomainError(code, Message(vi, en), status)


# --- orders ---------------------------------------------------------------------------------------


def order_lines(*, dossier: Any) -> tuple[str, list[fees.FeeLine]]:
    """The stage and the fee lines a dossier owes (nothing written)."""
    version = dossier.procedure_version
    lines = fees.fees_compute(
        items=version.fees,
        channel=dossier.channel,
        form_data=dossier.form_data or {},
        day=dossier.submitted_at.astimezone(LOCAL_TZ).date(),
    )
    return fees.fee_stage(version.fee_stage), lines


def order_possible(*, dossier: Any) -> bool:
    """Whether a payment order may be made for the dossier now: not for a closed dossier, nor for
    one whose fee was recorded paid without an order (data carried over from before the platform)."""
    return not dossiers.dossier_is_closed(dossier=dossier) and dossier.fee_paid_at is None


def order_ensure(*, dossier_id: int, now: dt.datetime | None = None) -> PaymentOrder | None:
    """The dossier's live payment order, made from its fee lines if it has none yet; None when
    nothing can be charged online (no fee, all exempt, or only amounts the platform does not know —
    those are settled at the desk). Idempotent: called by the submission's event and by the pay
    page, whichever comes first; a concurrent second call finds the first one's order."""
    existing = PaymentOrder.objects.filter(dossier_id=dossier_id).exclude(state=OrderState.CANCELLED).first()
    if existing is not None:
        return existing
    dossier = dossiers.dossier_by_id(dossier_id=dossier_id)
    if not order_possible(dossier=dossier):
        return None
    stage, lines = order_lines(dossier=dossier)
    amount = fees.fees_total(lines)
    if amount <= 0:
        return None
    try:
        return _order_create(dossier=dossier, stage=stage, lines=lines, amount=amount, now=now or timezone.now())
    except IntegrityError:
        return PaymentOrder.objects.filter(dossier_id=dossier_id).exclude(state=OrderState.CANCELLED).first()


def orders_ensure(
    *, dossier_ids: list[int], request_ids: dict[int, str] | None = None, now: dt.datetime | None = None
) -> None:
    """``order_ensure`` of each of ``dossier_ids`` (an outbox batch's submissions): the live orders
    and the dossiers read in one query each, then an order made for each dossier that owes a fee
    and has none (as ``order_ensure``, one at a time: each its own insert and events), under the
    request id ``request_ids`` gives for its dossier (the submission's: the audit and the order's
    events trace back to it)."""
    request_ids = request_ids or {}
    from hcmgov.dossiers import selectors_batch

    live = PaymentOrder.objects.filter(dossier_id__in=dossier_ids).exclude(state=OrderState.CANCELLED)
    ordered = set(live.values_list("dossier_id", flat=True))
    missing = [pk for pk in dict.fromkeys(dossier_ids) if pk not in ordered]
    if not missing:
        return
    found = selectors_batch.dossiers_by_ids(dossier_ids=missing)
    for dossier_id in missing:
        dossier = found.get(dossier_id)
        if dossier is None:
            raise ObjectDoesNotExist(f"dossier {dossier_id}")  # as order_ensure: the event is tried again
        if not order_possible(dossier=dossier):
            continue
        stage, lines = order_lines(dossier=dossier)
        amount = fees.fees_total(lines)
        if amount <= 0:
            continue
        try:
            with transaction.atomic(), context.acting_as(context.get_actor(), request_ids.get(dossier_id) or None):
                _order_create(dossier=dossier, stage=stage, lines=lines, amount=amount, now=now or timezone.now())
        except IntegrityError:  # made meanwhile by the pay page: found there
            continue


@audited("payment.order_create")
def _order_create(
    *, dossier: Any, stage: str, lines: list[fees.FeeLine], amount: int, now: dt.datetime
) -> PaymentOrder:
    order = PaymentOrder.objects.create(
        dossier_id=dossier.pk,
        dossier_code=dossier.code,
        procedure_code=dossier.procedure.code,
        agency_id=dossier.agency_id,
        payer_id=dossier.applicant_id,
        payer_name=dossier.applicant_name,
        stage=stage,
        lines=[line.as_dict() for line in lines],
        amount=amount,
        created_at=now,
    )
    _publish(order, "payment.order_created", amount=amount)
    if stage == Stage.SUBMISSION:  # due before processing: the dossier waits for it
        _publish(order, "payment.requested", amount=amount)
    return order


def order_request_at_result(*, dossier_id: int) -> PaymentOrder | None:
    """The dossier's result is ready: a fee due at the result and still unpaid is now requested
    (the dossier waits for it in status 6). Returns the order requested, if any."""
    order = PaymentOrder.objects.filter(dossier_id=dossier_id, stage=Stage.RESULT, state=OrderState.DUE).first()
    if order is not None:
        _publish(order, "payment.requested", amount=order.amount)
    return order


def orders_request_at_result(*, dossier_ids: list[int], request_ids: dict[int, str] | None = None) -> None:
    """``order_request_at_result`` of each of ``dossier_ids`` (an outbox batch's results), the
    orders read in one query; each request published under the request id ``request_ids`` gives
    for its dossier."""
    request_ids = request_ids or {}
    due = PaymentOrder.objects.filter(dossier_id__in=dossier_ids, stage=Stage.RESULT, state=OrderState.DUE)
    for order in due.order_by("id"):
        with context.acting_as(context.get_actor(), request_ids.get(order.dossier_id) or None):
            _publish(order, "payment.requested", amount=order.amount)


def order_due(*, dossier_id: int) -> PaymentOrder:
    """The dossier's order awaiting payment (made now if the dossier has fees and none yet), or a
    refusal saying why there is nothing to pay."""
    order = order_ensure(dossier_id=dossier_id)
    if order is None:
        raise _refuse(
            "no_fee", "Hồ sơ này không có phí, lệ phí phải nộp trực tuyến.", "This dossier has no fee to pay online."
        )
    if order.state == OrderState.PAID:
        raise _refuse(
            "already_paid",
            "Phí, lệ phí của hồ sơ này đã được thanh toán.",
            "The fees of this dossier are already paid.",
        )
    if order.state != OrderState.DUE:
        raise _refuse(
            "order_closed", "Yêu cầu thanh toán này không còn hiệu lực.", "This payment order is no longer open."
        )
    return order


def order_for_official(*, order_id: int, official: Any) -> PaymentOrder:
    """An order of an agency where ``official`` works at the desk; 404 otherwise (no hint that it exists)."""
    order = PaymentOrder.objects.filter(pk=order_id).first()
    if order is None or not identity.user_has_role(user=official, agency_id=order.agency_id, roles=DESK_ROLES):
        raise DomainError("not_found", Message("Không tìm thấy yêu cầu thanh toán.", "Payment order not found."), 404)
    return order


def _publish(order: PaymentOrder, topic: str, **extra: Any) -> None:
    _announce(
        topic,
        dossier_id=order.dossier_id,
        dossier_code=order.dossier_code,
        order_id=order.pk,
        stage=order.stage,
        **extra,
    )


def _announce(topic: str, *, dossier_id: int, dossier_code: str, order_id: int, stage: str, **extra: Any) -> None:
    core_services.event_publish(
        topic=topic,
        key=dossier_code,
        payload={"dossier_id": dossier_id, "order_id": order_id, "stage": stage, **extra},
    )


def order_national_bill(*, order: PaymentOrder) -> dict[str, Any]:
    """The national payment platform's bill for ``order`` (``adapters.national``); refused while
    the agency has no beneficiary account on record."""
    beneficiary = Beneficiary.objects.filter(agency_id=order.agency_id).first()
    if beneficiary is None:
        raise _refuse(
            "no_beneficiary",
            "Cơ quan chưa khai báo tài khoản thụ hưởng phí, lệ phí.",
            "The agency has no beneficiary account for fees on record.",
        )
    dossier = dossiers.dossier_by_id(dossier_id=order.dossier_id)
    return national.payment_bill(order=order, dossier=dossier, beneficiary=beneficiary, payer=dossier.applicant)


# --- paying through the gateway -------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    transaction: GatewayTransaction
    redirect_url: str


def transaction_start(
    *, order: PaymentOrder, user: Any, ip: str, return_url: str, locale: str = "vi", now: dt.datetime | None = None
) -> Started:
    """Start paying ``order`` through the gateway: a new transaction with its own reference, and the
    signed address to send the applicant's browser to."""
    now = now or timezone.now()
    if not identity.user_acts_for(user=user, applicant_id=order.payer_id):
        raise _refuse("forbidden", "Đây không phải hồ sơ của bạn.", "This is not your dossier.", 403)
    cfg = vnpay.gateway_config()
    if not cfg.enabled:
        raise DomainError("payment_unavailable", vnpay.NOT_CONFIGURED, 503)
    txn = _transaction_create(order=order, ip=ip, now=now)
    info = f"Thanh toan phi, le phi ho so {order.dossier_code}"
    url = vnpay.pay_url(
        cfg,
        ref=txn.ref,
        amount=txn.amount,
        order_info=info,
        ip=ip,
        return_url=return_url,
        created_at=now,
        expires_at=txn.expires_at,
        locale=locale,
    )
    return Started(txn, url)


def gateway_return_url() -> str:
    """Where the gateway sends the applicant's browser back: the portal's return page."""
    from django.conf import settings
    from django.urls import reverse

    return f"{settings.PUBLIC_URL.rstrip('/')}{reverse('web:payment_return')}"


def dossier_pay_start(*, dossier_id: int, user: Any, ip: str, locale: str = "vi") -> Started:
    """Start paying a dossier's due fees (the order made now if it has none): the pages' and the
    API's one entry."""
    order = order_due(dossier_id=dossier_id)
    return transaction_start(order=order, user=user, ip=ip, return_url=gateway_return_url(), locale=locale)


@audited("payment.transaction_start")
def _transaction_create(*, order: PaymentOrder, ip: str, now: dt.datetime) -> GatewayTransaction:
    locked = PaymentOrder.objects.select_for_update().get(pk=order.pk)
    if locked.state != OrderState.DUE:
        raise _refuse(
            "already_paid" if locked.state == OrderState.PAID else "order_closed",
            "Phí, lệ phí của hồ sơ này đã được thanh toán."
            if locked.state == OrderState.PAID
            else "Yêu cầu thanh toán này không còn hiệu lực.",
            "The fees of this dossier are already paid."
            if locked.state == OrderState.PAID
            else "This payment order is no longer open.",
        )
    return GatewayTransaction.objects.create(
        order=locked,
        gateway=Method.VNPAY,
        ref=f"HCM{now.astimezone(LOCAL_TZ):%y%m%d}{secrets.token_hex(5).upper()}",
        amount=locked.amount,
        created_at=now,
        expires_at=now + expiry(),
        client_ip=ip or None,
    )


# --- callbacks ------------------------------------------------------------------------------------

IPN_MESSAGES = {
    "00": "Confirm Success",
    "01": "Order not found",
    "02": "Order already confirmed",
    "04": "Invalid amount",
    "97": "Invalid signature",
    "99": "Unknown error",
}


@dataclass(frozen=True)
class Outcome:
    """What a callback did: ``code`` is VNPay's IPN answer code; ``ref`` the transaction concerned
    (empty when none was found)."""

    code: str
    ref: str = ""
    settled_now: bool = False

    @property
    def message(self) -> str:
        return IPN_MESSAGES.get(self.code, IPN_MESSAGES["99"])


def _keep(kind: str, params: dict[str, str], *, signature_ok: bool, answer: str, now: dt.datetime) -> None:
    fast_insert(
        GatewayCallback,
        {
            "gateway": Method.VNPAY,
            "kind": kind,
            "ref": str(params.get("vnp_TxnRef", ""))[:40],
            "params": {k: str(v)[:500] for k, v in list(params.items())[:60]},
            "signature_ok": signature_ok,
            "answer": answer,
            "received_at": now,
        },
    )


def callback_handle(*, kind: str, params: dict[str, str], now: dt.datetime | None = None) -> Outcome:
    """Handle the gateway's IPN (``kind`` "ipn") or the browser's return ("return") carrying a
    payment's result. Both are signed by the gateway; whichever arrives first settles the
    transaction, the other finds it settled. Never raises for bad input: the outcome says what
    was wrong, and the callback is kept with it."""
    now = now or timezone.now()
    cfg = vnpay.gateway_config()
    signature_ok = bool(cfg.hash_secret) and vnpay.verify(params, cfg.hash_secret)
    try:
        with transaction.atomic():
            outcome = _settle_from(params, cfg, signature_ok=signature_ok, via=kind, now=now)
            _keep(kind, params, signature_ok=signature_ok, answer=outcome.code, now=now)
            return outcome
    except Exception:  # the database refused (a lock timeout…): answer 99, the gateway calls again
        log.exception("payments: callback failed", extra={"payment_ref": params.get("vnp_TxnRef", "")})
        try:
            _keep(kind, params, signature_ok=signature_ok, answer="99", now=now)
        except Exception:
            log.exception("payments: callback not kept", extra={"payment_ref": params.get("vnp_TxnRef", "")})
        return Outcome("99")


def _settle_from(
    params: dict[str, str], cfg: vnpay.GatewayConfig, *, signature_ok: bool, via: str, now: dt.datetime
) -> Outcome:
    """Settle the transaction the result names, if it is still open and the amount is right: one
    conditional UPDATE, which waits for a concurrent callback's lock and then finds the
    transaction settled. Only when it changed nothing is the transaction read, to say why."""
    if not signature_ok:
        return Outcome("97")
    result = vnpay.parse_result(params)
    if result.tmn_code != cfg.tmn_code:
        return Outcome("01")
    if _settle(result, via=via, now=now):
        return Outcome("00", result.ref, settled_now=True)
    found = GatewayTransaction.objects.filter(ref=result.ref).values_list("amount", flat=True).first()
    if found is None:
        return Outcome("01")
    if result.amount != found:
        return Outcome("04", result.ref)
    return Outcome("02", result.ref)  # settled before (the UPDATE waited for it if it was racing)


def _dt(value: dt.datetime | None) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


_SETTLED = ("succeeded", "failed")


def _txn_settle(result: vnpay.PayResult, *, via: str, now: dt.datetime) -> tuple[int, int] | None:
    """Record the gateway's verdict on the open transaction (pending, or expired on our side: money
    taken after our deadline is still money taken) with this reference and amount; ``(id,
    order_id)``, or None when there is none."""
    table = GatewayTransaction._meta.db_table
    succeeded = result.succeeded
    with fast_cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET state = %s, settled_at = %s, settled_via = %s, response_code = %s,"  # noqa: S608 - ours
            " gateway_txn_no = %s, bank_code = %s, bank_txn_no = %s, card_type = %s, paid_at = %s"
            " WHERE ref = %s AND amount = %s AND state NOT IN (%s, %s) RETURNING id, order_id",
            [
                TxnState.SUCCEEDED if succeeded else TxnState.FAILED,
                _dt(now),
                via,
                result.response_code or result.transaction_status,
                result.txn_no,
                result.bank_code,
                result.bank_txn_no,
                result.card_type,
                _dt(result.pay_date if succeeded else None),
                result.ref,
                result.amount,
                *_SETTLED,
            ],
        )
        row = cursor.fetchone()
    return (int(row[0]), int(row[1])) if row else None


def _settle(result: vnpay.PayResult, *, via: str, now: dt.datetime) -> bool:
    """Settle the open transaction of ``result`` (False: none is open with its reference and
    amount). A confirmed payment pays its order if the order is still due; otherwise (paid another
    way already, or the dossier closed) the transaction is marked overpaid and the money given back."""
    settled = _txn_settle(result, via=via, now=now)
    if settled is None:
        return False
    txn_id, order_id = settled
    if not result.succeeded or _order_paid(
        order_id=order_id, method=Method.VNPAY, txn_id=txn_id, collector="", now=now
    ):
        return True
    GatewayTransaction.objects.filter(pk=txn_id).update(overpaid=True)
    txn = GatewayTransaction.objects.get(pk=txn_id)
    _refund_open(txn, reason="Thanh toán trùng / duplicate payment", now=now)
    return True


def _order_paid(*, order_id: int, method: str, txn_id: int | None, collector: str, now: dt.datetime) -> bool:
    """Pay the order if it is still due: a conditional UPDATE, the receipt copied from the order,
    and ``payment.paid`` announced, in the caller's transaction. False when it was not due."""
    orders, agencies = PaymentOrder._meta.db_table, PaymentOrder._meta.get_field("agency").related_model._meta.db_table
    with fast_cursor() as cursor:
        cursor.execute(
            f"UPDATE {orders} SET state = %s, method = %s, paid_at = %s, paid_transaction_id = %s,"  # noqa: S608
            f" cashier_label = %s, updated_at = %s WHERE id = %s AND state = %s RETURNING dossier_id, dossier_code,"
            f" stage, agency_id, (SELECT a.code FROM {agencies} a WHERE a.id = {orders}.agency_id)",
            [OrderState.PAID, method, _dt(now), txn_id, collector, _dt(now), order_id, OrderState.DUE],
        )
        row = cursor.fetchone()
        if row is None:
            return False
        dossier_id, dossier_code, stage, agency_id, agency_code = row
        year = now.astimezone(LOCAL_TZ).year
        number = core_services.sequence_next(scope=f"receipt:{agency_id}", day=dt.date(year, 1, 1))
        cursor.execute(
            f"INSERT INTO {Receipt._meta.db_table} (order_id, series, number, issued_at, collector_name,"  # noqa: S608
            " payer_name, lines, amount, method, cancelled_at)"
            f" SELECT o.id, %s, %s, %s, COALESCE(NULLIF(%s, ''), a.name), o.payer_name, o.lines, o.amount,"
            f" o.method, NULL FROM {orders} o JOIN {agencies} a ON a.id = o.agency_id WHERE o.id = %s",
            [receipt_series(agency_code=agency_code, year=year), number, _dt(now), collector, order_id],
        )
    _announce(
        "payment.paid",
        dossier_id=dossier_id,
        dossier_code=dossier_code,
        order_id=order_id,
        stage=stage,
        method=method,
        online=method != Method.CASH,
        paid_at=now.isoformat(),
    )
    return True


# --- the counter ----------------------------------------------------------------------------------


@audited("payment.cash", target="order", fields=("state", "method", "paid_at", "amount"))
def order_pay_cash(*, order: PaymentOrder, official: Any, now: dt.datetime | None = None) -> PaymentOrder:
    """Record fees paid in cash at the one-stop-shop desk, by an official of the order's agency."""
    now = now or timezone.now()
    if not identity.user_has_role(user=official, agency_id=order.agency_id, roles=DESK_ROLES):
        raise _refuse("forbidden", "Bạn không thu phí tại cơ quan này.", "You do not collect fees at this agency.", 403)
    locked = PaymentOrder.objects.select_for_update(of=("self",)).select_related("agency").get(pk=order.pk)
    if locked.state != OrderState.DUE:
        raise _refuse("already_paid", "Phí, lệ phí đã được thanh toán.", "The fees are already paid.")
    collector = official.full_name or official.get_username()
    _order_paid(order_id=locked.pk, method=Method.CASH, txn_id=None, collector=collector, now=now)
    locked.refresh_from_db(fields=["state", "method", "paid_at", "paid_transaction", "cashier_label", "updated_at"])
    return locked


# --- receipts -------------------------------------------------------------------------------------


def receipt_series(*, agency_code: str, year: int) -> str:
    """Ký hiệu biên lai: one series per agency and year (numbers restart each year)."""
    return f"BL{year}-{agency_code}"[:40]


# --- refunds --------------------------------------------------------------------------------------


def _refund_open(txn: GatewayTransaction, *, reason: str, now: dt.datetime) -> Refund:
    refund, created = Refund.objects.get_or_create(
        transaction=txn,
        defaults={
            "amount": txn.amount,
            "reason": reason[:300],
            "request_id": secrets.token_hex(16),
            "requested_at": now,
        },
    )
    if created:
        core_services.event_publish(
            topic="payment.refund_requested",
            key=txn.ref,
            payload={"refund_id": refund.pk, "order_id": txn.order_id, "dossier_id": txn.order.dossier_id},
        )
    return refund


@audited("payment.refund_request", target="order", fields=("state",))
def order_refund(*, order: PaymentOrder, reason: str, now: dt.datetime | None = None) -> PaymentOrder:
    """Give back what was paid for ``order`` (a refused, withdrawn or stopped dossier) and cancel it
    if it was not paid. Idempotent. An online payment is refunded through the gateway by the worker
    (:func:`refund_run`); cash is given back at the desk (the order is marked, the receipt cancelled)."""
    now = now or timezone.now()
    locked = PaymentOrder.objects.select_for_update().get(pk=order.pk)
    if locked.state == OrderState.DUE:
        locked.state = OrderState.CANCELLED
        locked.save(update_fields=["state", "updated_at"])
        return locked
    if locked.state != OrderState.PAID:
        return locked
    if locked.paid_transaction_id is not None:
        _refund_open(locked.paid_transaction, reason=reason, now=now)  # type: ignore[arg-type]
    else:  # cash: handed back at the counter
        locked.state = OrderState.REFUNDED
        locked.save(update_fields=["state", "updated_at"])
        Receipt.objects.filter(order=locked, cancelled_at=None).update(cancelled_at=now)
        _publish(locked, "payment.refunded")
    return locked


def refund_run(*, refund_id: int, now: dt.datetime | None = None) -> Refund:
    """Ask the gateway for a requested refund (called by the worker; retried while the gateway is
    unreachable). The same ``request_id`` on every attempt: a retry after a lost answer is a
    duplicate to the gateway, never a second refund."""
    now = now or timezone.now()
    refund = Refund.objects.select_related("transaction").get(pk=refund_id)
    if refund.state != RefundState.REQUESTED:
        return refund
    txn = refund.transaction
    client = vnpay.VnpayClient.from_settings()
    Refund.objects.filter(pk=refund.pk).update(attempts=refund.attempts + 1)
    answer = client.refund(
        ref=txn.ref,
        amount=refund.amount,
        txn_no=txn.gateway_txn_no,
        transaction_date=txn.created_at,
        request_id=refund.request_id,
        by="hcmgov",
        now=now,
    )
    return _refund_answered(
        refund_id=refund.pk, accepted=answer.accepted, code=answer.response_code, note=answer.message, now=now
    )


@audited("payment.refund")
def _refund_answered(*, refund_id: int, accepted: bool, code: str, note: str, now: dt.datetime) -> Refund:
    refund = Refund.objects.select_for_update().select_related("transaction").get(pk=refund_id)
    if refund.state != RefundState.REQUESTED:
        return refund
    refund.response_code = code
    refund.note = note[:300]
    refund.state = RefundState.DONE if accepted else RefundState.FAILED
    refund.done_at = now if accepted else None
    refund.save()
    txn = refund.transaction
    if accepted and not txn.overpaid:
        order = PaymentOrder.objects.select_for_update().get(pk=txn.order_id)
        order.state = OrderState.REFUNDED
        order.save(update_fields=["state", "updated_at"])
        Receipt.objects.filter(order=order, cancelled_at=None).update(cancelled_at=now)
        _publish(order, "payment.refunded")
    return refund


# --- expiry ---------------------------------------------------------------------------------------


def transactions_expire(*, now: dt.datetime | None = None, grace: dt.timedelta = dt.timedelta(minutes=5)) -> int:
    """Close gateway transactions left pending past their expiry: ask the gateway what became of
    each (an IPN may have been lost) and settle it as the gateway says, or mark it expired.
    Returns how many were closed."""
    now = now or timezone.now()
    pending = list(
        GatewayTransaction.objects.filter(state=TxnState.PENDING, expires_at__lt=now - grace).order_by("expires_at")[
            :200
        ]
    )
    if not pending:
        return 0
    try:
        client: vnpay.VnpayClient | None = vnpay.VnpayClient.from_settings()
    except vnpay.GatewayError:
        client = None
    closed = 0
    for txn in pending:
        known: vnpay.QueryResult | None = None
        if client is not None and vnpay.gateway_config().api_url:
            try:
                known = client.query(ref=txn.ref, transaction_date=txn.created_at, now=now)
            except vnpay.GatewayError as exc:
                if exc.retryable:
                    continue  # ask again on the next run
        closed += _expire_one(txn_id=txn.pk, known=known, now=now)
    return closed


def _expire_one(*, txn_id: int, known: vnpay.QueryResult | None, now: dt.datetime) -> int:
    with transaction.atomic():
        txn = GatewayTransaction.objects.select_for_update().get(pk=txn_id)
        if txn.state != TxnState.PENDING:
            return 0
        result = known.result if known is not None and known.found else None
        # the gateway's final word (paid, or failed for good) settles it; "01" is still in progress
        if (
            result is not None
            and result.ref == txn.ref
            and result.transaction_status not in {"", "01"}
            and _settle(result, via="query", now=now)
        ):
            return 1
        txn.state = TxnState.EXPIRED
        txn.settled_at = now
        txn.settled_via = "query" if known is not None else "timer"
        txn.save(update_fields=["state", "settled_at", "settled_via"])
        return 1
