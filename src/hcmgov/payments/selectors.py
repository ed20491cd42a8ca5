"""Reads of the payments app: a dossier's orders and their receipts, what the back office and the
dashboards count."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from hcmgov.common.errors import NotFound
from hcmgov.payments.models import GatewayTransaction, OrderState, PaymentOrder, Receipt, Refund, TxnState


def dossier_orders(*, dossier_id: int) -> list[PaymentOrder]:
    """The dossier's orders, live first, each with its receipt (if any) read in the same query."""
    return list(
        PaymentOrder.objects.filter(dossier_id=dossier_id)
        .select_related("receipt", "paid_transaction")
        .order_by("created_at")
    )


def order_get(*, order_id: int) -> PaymentOrder:
    return PaymentOrder.objects.select_related("agency").get(pk=order_id)


def order_visible(*, order_id: int, user: Any) -> PaymentOrder:
    """An order of a dossier ``user`` may see (its applicant, or an official taking part); 404 otherwise."""
    from hcmgov.dossiers import selectors as dossiers

    order = PaymentOrder.objects.filter(pk=order_id).first()
    if order is None:
        raise NotFound("yêu cầu thanh toán", "Payment order")
    dossiers.dossier_visible_to(user=user, code=order.dossier_code)  # NotFound when not visible
    return order


def order_is_due(*, order_id: int) -> bool:
    return PaymentOrder.objects.filter(pk=order_id, state=OrderState.DUE).exists()


def transaction_by_ref(*, ref: str) -> GatewayTransaction | None:
    return GatewayTransaction.objects.select_related("order").filter(ref=ref).first()


def receipt_for(*, order_id: int) -> Receipt | None:
    return Receipt.objects.select_related("order", "order__agency").filter(order_id=order_id).first()


def refunds_pending() -> QuerySet[Refund]:
    return Refund.objects.filter(state="requested").order_by("requested_at")


def transactions_settled_on(*, start: dt.datetime, end: dt.datetime) -> QuerySet[GatewayTransaction]:
    """Confirmed gateway payments whose gateway time falls in [start, end)."""
    return GatewayTransaction.objects.filter(state=TxnState.SUCCEEDED, paid_at__gte=start, paid_at__lt=end)


# --- the analytics warehouse's extract (hcmgov.warehouse): no payer, cashier or bank details --------

WAREHOUSE_ORDER_COLUMNS = (
    "dossier_code", "procedure_code", "agency__code", "stage", "amount", "state", "method", "created_at", "paid_at",
    "updated_at",
)  # fmt: skip


def warehouse_order_months(*, since: dt.datetime | None = None) -> set[tuple[int, int]]:
    """(year, month) of creation, city time, of every payment order changed at or after ``since`` (all without it)."""
    from django.db.models.functions import TruncMonth
    from django.utils import timezone

    qs = PaymentOrder.objects.all() if since is None else PaymentOrder.objects.filter(updated_at__gte=since)
    tz = timezone.get_default_timezone()
    months = qs.annotate(m=TruncMonth("created_at", tzinfo=tz)).values_list("m", flat=True).order_by().distinct()
    return {(m.year, m.month) for m in months}


def warehouse_order_rows(*, start: dt.datetime, end: dt.datetime, chunk_size: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Payment orders created in [start, end), as tuples of ``WAREHOUSE_ORDER_COLUMNS``, streamed."""
    qs = PaymentOrder.objects.filter(created_at__gte=start, created_at__lt=end).order_by("id")
    return qs.values_list(*WAREHOUSE_ORDER_COLUMNS).iterator(chunk_size=chunk_size)
