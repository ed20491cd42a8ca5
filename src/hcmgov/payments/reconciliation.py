"""Reconciliation: the gateway's daily statement against our books.

The statement is a CSV with a header row naming at least ``TxnRef``, ``TransactionType`` (01 a
payment, 02 a full refund, 03 a partial refund), ``Amount`` (in đồng) and ``TransactionStatus``
(00 success); ``TransactionNo`` and ``PayDate`` are kept when present. VNPay merchants download a
reconciliation file from the merchant portal; the CSV layout is the one ``hcmgov sim pay`` serves.

Every difference becomes a :class:`Mismatch` for the finance officer: a payment on the statement we
never confirmed (``missing_here`` — an IPN lost and never queried), one we confirmed that the
statement lacks (``missing_there``), a different amount, or a state that differs (we think it
failed, the statement says it succeeded). Nothing in the books is changed by a reconciliation:
a person decides.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from typing import Any

from django.db import transaction
from django.utils import timezone

from hcmgov.payments.adapters import vnpay
from hcmgov.payments.models import GatewayTransaction, Method, Mismatch, ReconciliationRun, Refund, TxnState

MAX_ROWS = 1_000_000


class StatementError(ValueError):
    """The statement cannot be read (no header, a missing column, a bad number)."""


def statement_parse(data: bytes) -> list[dict[str, Any]]:
    """The statement's rows: ``ref``, ``type``, ``amount`` (đồng), ``status``, ``txn_no``."""
    text = data.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise StatementError("empty statement")
    names = {name.strip().lower(): name for name in reader.fieldnames}
    for needed in ("txnref", "transactiontype", "amount", "transactionstatus"):
        if needed not in names:
            raise StatementError(f"the statement has no column {needed}")
    rows = []
    for n, row in enumerate(reader, start=2):
        if n > MAX_ROWS:
            raise StatementError("statement too long")
        amount = (row.get(names["amount"]) or "").strip()
        if not amount.isdigit():
            raise StatementError(f"line {n}: amount {amount!r} is not a whole number of đồng")
        rows.append(
            {
                "ref": (row.get(names["txnref"]) or "").strip(),
                "type": (row.get(names["transactiontype"]) or "").strip(),
                "amount": int(amount),
                "status": (row.get(names["transactionstatus"]) or "").strip(),
                "txn_no": (row.get(names.get("transactionno", ""), "") or "").strip(),
            }
        )
    return rows


def _ours(day: dt.date) -> tuple[dict[str, GatewayTransaction], dict[str, Refund]]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=vnpay.GMT7)
    end = start + dt.timedelta(days=1)
    paid = {
        t.ref: t
        for t in GatewayTransaction.objects.filter(
            gateway=Method.VNPAY, state=TxnState.SUCCEEDED, paid_at__gte=start, paid_at__lt=end
        )
    }
    refunds = {
        r.transaction.ref: r
        for r in Refund.objects.filter(state="done", done_at__gte=start, done_at__lt=end).select_related("transaction")
    }
    return paid, refunds


def reconcile(*, day: dt.date, statement: bytes, now: dt.datetime | None = None) -> ReconciliationRun:
    """Compare the statement of ``day`` (GMT+7) with the payments and refunds we recorded that day."""
    now = now or timezone.now()
    rows = statement_parse(statement)
    paid, refunds = _ours(day)
    problems: list[Mismatch] = []
    matched = 0
    seen: set[str] = set()
    for row in rows:
        ref = row["ref"]
        if row["type"] == "01":
            if row["status"] != "00":
                continue  # a failed payment on the statement: no money moved
            seen.add(ref)
            ours = paid.get(ref)
            if ours is None:
                other = GatewayTransaction.objects.filter(ref=ref).first()
                kind = "status" if other is not None else "missing_here"
                problems.append(Mismatch(kind=kind, ref=ref, ours=_describe(other) if other else None, theirs=row))
            elif ours.amount != row["amount"]:
                problems.append(Mismatch(kind="amount", ref=ref, ours=_describe(ours), theirs=row))
            else:
                matched += 1
        elif row["type"] in {"02", "03"}:
            refund = refunds.get(ref)
            if refund is None:
                problems.append(Mismatch(kind="missing_here", ref=ref, ours=None, theirs=row))
            elif refund.amount != row["amount"]:
                problems.append(Mismatch(kind="amount", ref=ref, ours={"refund": refund.amount}, theirs=row))
            else:
                matched += 1
    for ref, txn in paid.items():
        if ref not in seen:
            problems.append(Mismatch(kind="missing_there", ref=ref, ours=_describe(txn), theirs=None))
    with transaction.atomic():
        run = ReconciliationRun.objects.create(
            gateway=Method.VNPAY,
            day=day,
            statement_sha256=hashlib.sha256(statement).hexdigest(),
            statement_rows=len(rows),
            matched=matched,
            mismatched=len(problems),
            ran_at=now,
        )
        for problem in problems:
            problem.run = run
        Mismatch.objects.bulk_create(problems)
    return run


def _describe(txn: GatewayTransaction) -> dict[str, Any]:
    return {"amount": txn.amount, "state": txn.state, "txn_no": txn.gateway_txn_no, "order_id": txn.order_id}


def reconcile_fetch(*, day: dt.date) -> ReconciliationRun:
    """Fetch the gateway's statement of ``day`` and reconcile it."""
    return reconcile(day=day, statement=vnpay.VnpayClient.from_settings().statement(day=day))
