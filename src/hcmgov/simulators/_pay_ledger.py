"""The payment simulator's books: its transactions and refunds, the transaction API that reads and
changes them (``querydr``, ``refund``) and the daily statement. Rules and sources:
:mod:`hcmgov.simulators.pay`. Amounts are kept in đồng; ``vnp_Amount`` (đồng × 100) only on the wire."""

from __future__ import annotations

import csv
import hmac
import io
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hcmgov.simulators._pay_protocol import (
    API_CODES,
    QUERYDR_ANSWER_FIELDS,
    QUERYDR_FIELDS,
    REFUND_ANSWER_FIELDS,
    REFUND_FIELDS,
    VERSION,
    gmt7,
    now,
    parse_gmt7,
    pipe_hash,
)

STATEMENT_COLUMNS = (
    "TmnCode",
    "TxnRef",
    "TransactionNo",
    "TransactionType",
    "Amount",
    "BankCode",
    "PayDate",
    "TransactionStatus",
)
REQUEST_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")  # "Alphanumeric[1,32]"
TRANSACTION_NO = re.compile(r"^\d{1,15}$")


class ApiError(Exception):
    """The transaction API answers ``code`` (see ``API_CODES``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Refund:
    transaction_no: str
    transaction_type: str  # 02 full, 03 partial
    amount: int  # đồng
    pay_date: str
    status: str  # 05 processing → 06 sent to the bank, or 09 refused
    request_id: str
    create_by: str

    def view(self) -> dict[str, Any]:
        return {
            "TransactionNo": self.transaction_no,
            "TransactionType": self.transaction_type,
            "Amount": self.amount,
            "PayDate": self.pay_date,
            "TransactionStatus": self.status,
            "RequestId": self.request_id,
            "CreateBy": self.create_by,
        }


@dataclass
class Transaction:
    """One payment attempt (successful or not) the gateway knows of."""

    tmn_code: str
    txn_ref: str
    transaction_no: str
    amount: int  # đồng
    order_info: str
    create_date: str  # the merchant's vnp_CreateDate: querydr's vnp_TransactionDate must equal it
    pay_date: str
    response_code: str
    status: str
    bank_code: str = "NCB"
    bank_tran_no: str = ""
    card_type: str = "ATM"
    source: str = "pay_page"  # or "planted" (POST /_sim/transactions)
    ipn: str = ""  # the IPN behaviour used for it
    statement_amount: int | None = None  # PATCH /_sim/transactions/<TxnRef>: the statement says this
    refunds: list[Refund] = field(default_factory=list)

    @property
    def refunded(self) -> int:
        return sum(r.amount for r in self.refunds if r.status != "09")

    def result(self) -> dict[str, str]:
        """The return/IPN parameters of this payment, unsigned."""
        return {
            "vnp_Amount": str(self.amount * 100),
            "vnp_BankCode": self.bank_code,
            "vnp_BankTranNo": self.bank_tran_no,
            "vnp_CardType": self.card_type,
            "vnp_OrderInfo": self.order_info,
            "vnp_PayDate": self.pay_date,
            "vnp_ResponseCode": self.response_code,
            "vnp_TmnCode": self.tmn_code,
            "vnp_TransactionNo": self.transaction_no,
            "vnp_TransactionStatus": self.status,
            "vnp_TxnRef": self.txn_ref,
        }

    def view(self) -> dict[str, Any]:
        return {
            "TmnCode": self.tmn_code,
            "TxnRef": self.txn_ref,
            "TransactionNo": self.transaction_no,
            "TransactionType": "01",
            "Amount": self.amount,
            "OrderInfo": self.order_info,
            "BankCode": self.bank_code,
            "BankTranNo": self.bank_tran_no,
            "CardType": self.card_type,
            "CreateDate": self.create_date,
            "PayDate": self.pay_date,
            "ResponseCode": self.response_code,
            "TransactionStatus": self.status,
            "Refunded": self.refunded,
            "Refunds": [r.view() for r in self.refunds],
            "StatementAmount": self.statement_amount,
            "Source": self.source,
            "Ipn": self.ipn,
        }


class Ledger:
    """Transactions by (TmnCode, TxnRef), the RequestIds seen, and the API over them; thread safe."""

    def __init__(self, merchants: Mapping[str, str]) -> None:
        self.merchants = dict(merchants)  # TmnCode → hash secret
        self.lock = threading.Lock()
        self.transactions: list[Transaction] = []
        self.request_ids: dict[tuple[str, str], str] = {}  # (TmnCode, RequestId) → day seen (yyyyMMdd)
        self._next_no = 14_000_000 + secrets.randbelow(50_000_000)

    def reset(self) -> None:
        with self.lock:
            self.transactions.clear()
            self.request_ids.clear()

    def new_transaction_no(self) -> str:
        with self.lock:
            self._next_no += 1
            return f"{self._next_no:08d}"

    def paid(self, tmn_code: str, txn_ref: str) -> bool:
        with self.lock:
            return any(t.tmn_code == tmn_code and t.txn_ref == txn_ref and t.status == "00" for t in self.transactions)

    def add(self, transaction: Transaction, *, unless_paid: bool = False) -> bool:
        """Record ``transaction``; with ``unless_paid``, not if its TxnRef is already paid (False)."""
        with self.lock:
            if unless_paid and transaction.status == "00":
                key = (transaction.tmn_code, transaction.txn_ref)
                if any((t.tmn_code, t.txn_ref) == key and t.status == "00" for t in self.transactions):
                    return False
            self.transactions.append(transaction)
            return True

    def views(self) -> list[dict[str, Any]]:
        with self.lock:
            return [t.view() for t in self.transactions]

    # --- test helpers: plant, alter, settle -----------------------------------------------------

    def plant(self, data: Mapping[str, Any]) -> Transaction:
        """A transaction the gateway has and the merchant may never have heard of (``ValueError``: bad data)."""
        txn_ref, amount = data.get("txn_ref"), data.get("amount")
        if not isinstance(txn_ref, str) or not txn_ref or not isinstance(amount, int) or not _positive_int(amount):
            raise ValueError("txn_ref (text) and amount (đồng, > 0) are required")
        pay_date = str(data.get("pay_date") or gmt7(now()))
        create_date = str(data.get("create_date") or pay_date)
        if parse_gmt7(pay_date) is None or parse_gmt7(create_date) is None:
            raise ValueError("pay_date and create_date are yyyyMMddHHmmss (GMT+7)")
        response_code = str(data.get("response_code", "00"))
        transaction_no = str(data.get("transaction_no") or self.new_transaction_no())
        if not TRANSACTION_NO.match(transaction_no):
            raise ValueError("transaction_no is digits")
        transaction = Transaction(
            tmn_code=str(data.get("tmn_code") or next(iter(self.merchants))),
            txn_ref=txn_ref,
            transaction_no=transaction_no,
            amount=amount,
            order_info=str(data.get("order_info") or f"Thanh toan {txn_ref}"),
            create_date=create_date,
            pay_date=pay_date,
            response_code=response_code,
            status=str(data.get("transaction_status") or ("00" if response_code == "00" else "02")),
            bank_code=str(data.get("bank_code") or "NCB"),
            bank_tran_no=str(data.get("bank_tran_no") or f"VNP{transaction_no}"),
            card_type=str(data.get("card_type") or "ATM"),
            source="planted",
        )
        self.add(transaction)
        return transaction

    def patch(self, txn_ref: str, data: Mapping[str, Any]) -> Transaction | None:
        """Make the statement show another amount for ``txn_ref`` (its latest attempt); nothing else changes."""
        if not _positive_int(data.get("amount")):
            raise ValueError("amount (đồng, > 0) is required")
        with self.lock:
            found = [t for t in self.transactions if t.txn_ref == txn_ref]
            if not found:
                return None
            chosen = next((t for t in reversed(found) if t.status == "00"), found[-1])
            chosen.statement_amount = int(data["amount"])
            return chosen

    def settle_refunds(self, status: str, txn_ref: str = "") -> int:
        """Move refunds still processing (05) to ``status`` (06 sent to the bank, or 09 refused)."""
        count = 0
        with self.lock:
            for t in self.transactions:
                for r in t.refunds:
                    if r.status == "05" and (not txn_ref or t.txn_ref == txn_ref):
                        r.status = status
                        count += 1
        return count

    # --- the transaction API -------------------------------------------------------------------

    def api(self, body: Any) -> dict[str, str]:
        """The answer to one ``POST /merchant_webapi/api/transaction`` body, signed when the merchant is known."""
        body = body if isinstance(body, dict) else {}
        command = body.get("vnp_Command") if body.get("vnp_Command") in ("querydr", "refund") else ""
        answer_fields = REFUND_ANSWER_FIELDS if command == "refund" else QUERYDR_ANSWER_FIELDS
        tmn_code = body.get("vnp_TmnCode") if isinstance(body.get("vnp_TmnCode"), str) else ""
        answer = {"vnp_ResponseId": secrets.token_hex(16), "vnp_Command": command or str(body.get("vnp_Command", ""))}
        try:
            if not command:
                raise ApiError("03")
            if tmn_code not in self.merchants:
                raise ApiError("02")
            answer.update(self._querydr(body) if command == "querydr" else self._refund(body))
            code = "00"
        except ApiError as error:
            code = error.code
        answer.update({"vnp_ResponseCode": code, "vnp_Message": API_CODES[code], "vnp_TmnCode": str(tmn_code)})
        if isinstance(body.get("vnp_TxnRef"), str | int):
            answer.setdefault("vnp_TxnRef", str(body["vnp_TxnRef"]))
        if tmn_code in self.merchants:
            answer["vnp_SecureHash"] = pipe_hash(self.merchants[tmn_code], answer, answer_fields)
        return answer

    def _checked(self, body: Mapping[str, Any], fields: tuple[str, ...], optional: frozenset[str]) -> dict[str, str]:
        """The request's fields as text: all present (03), signed (97), well formed (03), new RequestId (94)."""
        values: dict[str, str] = {}
        for name in fields:
            value = body.get(name, "")
            if isinstance(value, bool) or not isinstance(value, str | int) or (value == "" and name not in optional):
                raise ApiError("03")
            values[name] = str(value)
        given = body.get("vnp_SecureHash")
        expected = pipe_hash(self.merchants[values["vnp_TmnCode"]], values, fields)
        if not isinstance(given, str) or not hmac.compare_digest(given.lower(), expected):
            raise ApiError("97")
        dates = [values[n] for n in ("vnp_TransactionDate", "vnp_CreateDate")]
        if values["vnp_Version"] != VERSION or not REQUEST_ID.match(values["vnp_RequestId"]):
            raise ApiError("03")
        if any(parse_gmt7(d) is None for d in dates):
            raise ApiError("03")
        key, today = (values["vnp_TmnCode"], values["vnp_RequestId"]), gmt7(now())[:8]
        with self.lock:
            if self.request_ids.get(key) == today:
                raise ApiError("94")
            self.request_ids[key] = today
        return values

    def _find(self, values: Mapping[str, str]) -> Transaction:
        """The attempt ``values`` names (TmnCode, TxnRef, TransactionDate = its vnp_CreateDate);
        a paid one before a failed one. Call with the lock held."""
        found = [
            t
            for t in self.transactions
            if (t.tmn_code, t.txn_ref, t.create_date)
            == (values["vnp_TmnCode"], values["vnp_TxnRef"], values["vnp_TransactionDate"])
        ]
        if not found:
            raise ApiError("91")
        return next((t for t in reversed(found) if t.status == "00"), found[-1])

    def _querydr(self, body: Mapping[str, Any]) -> dict[str, str]:
        values = self._checked(body, QUERYDR_FIELDS, frozenset())
        with self.lock:
            t = self._find(values)
            last = t.refunds[-1] if t.refunds else None
            return {
                "vnp_TxnRef": t.txn_ref,
                "vnp_Amount": str(t.amount * 100),
                "vnp_OrderInfo": t.order_info,
                "vnp_BankCode": t.bank_code,
                "vnp_PayDate": t.pay_date,
                "vnp_TransactionNo": t.transaction_no,
                "vnp_TransactionType": last.transaction_type if last else "01",
                "vnp_TransactionStatus": last.status if last else t.status,
            }

    def _refund(self, body: Mapping[str, Any]) -> dict[str, str]:
        values = self._checked(body, REFUND_FIELDS, frozenset({"vnp_TransactionNo"}))
        raw_amount = values["vnp_Amount"]
        if values["vnp_TransactionType"] not in ("02", "03") or not raw_amount.isdigit():
            raise ApiError("03")
        if int(raw_amount) <= 0 or int(raw_amount) % 100:
            raise ApiError("03")
        amount = int(raw_amount) // 100
        with self.lock:
            t = self._find(values)
            if values["vnp_TransactionNo"] not in ("", "0", t.transaction_no):
                raise ApiError("91")
            if t.status != "00":
                raise ApiError("95")  # nothing was paid: nothing to give back
            if values["vnp_TransactionType"] == "02" and (t.refunded or amount != t.amount):
                raise ApiError("95")  # a full refund is the whole amount, once, before any partial one
            if amount > t.amount - t.refunded:
                raise ApiError("95")  # never more than what was paid
            refund = Refund(
                transaction_no=self._bump(),
                transaction_type=values["vnp_TransactionType"],
                amount=amount,
                pay_date=gmt7(now()),
                status="05",
                request_id=values["vnp_RequestId"],
                create_by=values["vnp_CreateBy"],
            )
            t.refunds.append(refund)
            return {
                "vnp_TxnRef": t.txn_ref,
                "vnp_Amount": str(amount * 100),
                "vnp_OrderInfo": values["vnp_OrderInfo"],
                "vnp_BankCode": t.bank_code,
                "vnp_PayDate": refund.pay_date,
                "vnp_TransactionNo": refund.transaction_no,
                "vnp_TransactionType": refund.transaction_type,
                "vnp_TransactionStatus": refund.status,
            }

    def _bump(self) -> str:  # new_transaction_no with the lock already held
        self._next_no += 1
        return f"{self._next_no:08d}"

    # --- the daily statement -------------------------------------------------------------------

    def statement(self, day: str, *, tmn_code: str = "", every_attempt: bool = False) -> str:
        """The CSV of ``day`` (yyyyMMdd, GMT+7): its successful payments and its refunds not refused
        (``every_attempt``: failed payments and refused refunds too). Amounts in đồng."""
        rows: list[tuple[str, ...]] = []
        with self.lock:
            for t in self.transactions:
                if tmn_code and t.tmn_code != tmn_code:
                    continue
                if t.pay_date[:8] == day and (every_attempt or t.status == "00"):
                    amount = t.amount if t.statement_amount is None else t.statement_amount
                    rows.append(
                        (t.tmn_code, t.txn_ref, t.transaction_no, "01", str(amount), t.bank_code, t.pay_date, t.status)
                    )
                for r in t.refunds:
                    if r.pay_date[:8] == day and (every_attempt or r.status != "09"):
                        rows.append(
                            (
                                *(t.tmn_code, t.txn_ref, r.transaction_no, r.transaction_type),
                                *(str(r.amount), t.bank_code, r.pay_date, r.status),
                            )
                        )
        rows.sort(key=lambda row: (row[6], row[2]))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(STATEMENT_COLUMNS)
        writer.writerows(rows)
        return out.getvalue()


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
