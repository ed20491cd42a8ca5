"""Simulator of the VNPay payment gateway (Cổng thanh toán VNPAY), protocol version 2.1.0.

Sources (VNPay's public merchant documentation, sandbox site):

* "Thanh toán PAY" — https://sandbox.vnpayment.vn/apis/docs/thanh-toan-pay/pay.html: the pay URL
  and its parameters, the return URL, the IPN and its ``{"RspCode", "Message"}`` answer, the
  ``vnp_ResponseCode`` and ``vnp_TransactionStatus`` tables;
* "Truy vấn và hoàn tiền" — https://sandbox.vnpayment.vn/apis/docs/truy-van-hoan-tien/querydr&refund.html:
  ``POST /merchant_webapi/api/transaction`` (JSON), ``querydr`` and ``refund``, their fields,
  ``|``-joined checksums and answer codes;
* "Chuyển đổi phiên bản và thuật toán mã hóa" — https://sandbox.vnpayment.vn/apis/docs/chuyen-doi-thuat-toan/changeTypeHash.html:
  2.1.0 signs with HMAC-SHA512 and no longer sends ``vnp_SecureHashType``;
* "Hướng dẫn tích hợp" — https://sandbox.vnpayment.vn/apis/docs/huong-dan-tich-hop/ (a signed example URL).
  The ``|`` field orders below were also checked against an open-source client written from the
  same page (github.com/lehuygiang28/vnpay, ``src/services/query.service.ts``).

**Pay.** ``GET /paymentv2/vpcpay.html?<vnp_*>`` with ``vnp_Version=2.1.0``, ``vnp_Command=pay``,
``vnp_TmnCode``, ``vnp_Amount`` (đồng × 100, a whole number of đồng), ``vnp_CurrCode=VND``,
``vnp_CreateDate`` and ``vnp_ExpireDate`` (``yyyyMMddHHmmss``, GMT+7), ``vnp_IpAddr``, ``vnp_Locale``
(vn/en), ``vnp_OrderInfo`` (unaccented ASCII), ``vnp_OrderType``, ``vnp_ReturnUrl``, ``vnp_TxnRef``,
optional ``vnp_BankCode``, and ``vnp_SecureHash``: HMAC-SHA512 (hex) with the hash secret over the
``vnp_`` parameters but ``vnp_SecureHash``/``vnp_SecureHashType``, sorted by key, each
``quote_plus(key)=quote_plus(value)`` (form encoding, space as ``+``), joined with ``&``. (Python's
``quote_plus`` leaves ``~`` alone and encodes ``*``; Java's and PHP's encoders differ there: keep
those characters out of signed values.) A request the gateway refuses gets an HTML error page, never
a redirect: 02 unknown ``vnp_TmnCode``, 97 "Sai chữ ký" (bad signature; VNPay's own page numbers
it 70), 03 wrong format, 01 the ``vnp_TxnRef`` is already paid for this merchant (a failed attempt
may be retried with the same ref). A good request shows the order (Vietnamese first, then English)
and a form posting ``token`` (the pending order) and ``action`` to ``/paymentv2/vpcpay.html/choose``:
``pay`` → ``vnp_ResponseCode`` 00 / ``vnp_TransactionStatus`` 00; ``fail`` → 51 (balance too low) /
02; ``cancel`` → 24 / 02; any choice after ``vnp_ExpireDate`` → 11 (timed out) / 02. Each attempt
is recorded with a new 8-digit ``vnp_TransactionNo``, ``vnp_BankCode`` NCB (or the requested one),
``vnp_BankTranNo`` ``VNP<TransactionNo>``, ``vnp_CardType`` ATM and ``vnp_PayDate`` (GMT+7).

**IPN, then return.** The gateway calls ``GET {ipn_url}?<signed result>`` — exactly ``vnp_Amount
vnp_BankCode vnp_BankTranNo vnp_CardType vnp_OrderInfo vnp_PayDate vnp_ResponseCode vnp_TmnCode
vnp_TransactionNo vnp_TransactionStatus vnp_TxnRef vnp_SecureHash`` — reads the merchant's JSON
``{"RspCode": "00", "Message": "…"}`` (00 confirmed, 02 already confirmed, 01 order not found, 04
wrong amount, 97 bad signature, 99 other), keeps every IPN and answer, then redirects the browser
(302) to ``vnp_ReturnUrl`` with the same signed parameters. VNPay calls an IPN again while the
answer is not 00/02; here ``ipn_retries`` more times, ``ipn_retry_interval`` seconds apart, from a
thread (default 0: off). The IPN URL is the factory's ``ipn_url``, else ``$HCMGOV_SIM_PAY_IPN_URL``,
else ``http://127.0.0.1:8000/api/v1/payments/vnpay/ipn``.

**Transaction API** ``POST /merchant_webapi/api/transaction`` (JSON; all answers HTTP 200).
``querydr`` fields ``vnp_RequestId vnp_Version vnp_Command vnp_TmnCode vnp_TxnRef
vnp_TransactionDate vnp_CreateDate vnp_IpAddr vnp_OrderInfo``; ``refund`` fields ``vnp_RequestId
vnp_Version vnp_Command vnp_TmnCode vnp_TransactionType vnp_TxnRef vnp_Amount vnp_TransactionNo
vnp_TransactionDate vnp_CreateBy vnp_CreateDate vnp_IpAddr vnp_OrderInfo``: ``vnp_SecureHash`` is the
HMAC-SHA512 of the values joined with ``|`` in exactly these orders. Answers are signed the same
way over ``vnp_ResponseId vnp_Command vnp_ResponseCode vnp_Message vnp_TmnCode vnp_TxnRef vnp_Amount
vnp_BankCode vnp_PayDate vnp_TransactionNo vnp_TransactionType vnp_TransactionStatus vnp_OrderInfo``
(querydr adds ``vnp_PromotionCode vnp_PromotionAmount``); a field absent from the answer counts as
"" (an unknown merchant's answer is unsigned). Codes: 00 ok, 02 unknown merchant, 03 wrong format,
91 not found, 94 ``vnp_RequestId`` already used by this merchant today, 95 refused, 97 bad
checksum, 99 other. ``vnp_TransactionDate`` must be the payment's ``vnp_CreateDate`` (else 91).
querydr answers the payment (``vnp_TransactionType`` 01 and its status) or, once refunded, the
latest refund's type and status. A refund (02 the whole amount, once, before any partial one; 03
partial, at most what is left) answers its own new ``vnp_TransactionNo`` and status 05 (VNPay
processing), which ``POST /_sim/refunds/settle`` moves to 06 (sent to the bank — the last state
VNPay's table has) or 09 (refused, the money counts as unrefunded again). Refunding a failed
payment, more than was paid, or 02 after a partial refund is refused with 95 (VNPay's table has no
narrower code for it that we could confirm).

**Statement.** Real merchants download a reconciliation file from VNPay's merchant portal; its
layout is not public, so ``GET /_sim/statement?date=yyyyMMdd`` (default today, GMT+7; optional
``tmn_code``, ``all=1``) is **the simulator's own CSV** (UTF-8, header row, ``\\r\\n``):
``TmnCode,TxnRef,TransactionNo,TransactionType,Amount,BankCode,PayDate,TransactionStatus`` —
TransactionType 01 payment, 02/03 refund; **Amount in đồng** (not × 100); the day's successful
payments and refunds not refused, by PayDate (``all=1``: failed attempts and refused refunds too).

**Test endpoints** (not VNPay's): ``GET /`` the simulator and its account (``TMN_CODE``,
``HASH_SECRET``); ``GET /_sim/transactions``; ``DELETE /_sim/transactions`` forgets transactions,
pending orders, RequestIds, IPNs (held and sent) and faults (not the config); ``POST
/_sim/transactions`` plants one: ``{"txn_ref", "amount" (đồng), "tmn_code", "order_info",
"pay_date", "create_date", "transaction_no", "bank_code", "response_code", "transaction_status"}``
(two required); ``PATCH /_sim/transactions/<TxnRef>`` ``{"amount": đồng}`` changes its amount on the
statement only; ``GET /_sim/ipn`` → ``{"ipn_url", "sent": [...], "held": N}``; ``GET|POST
/_sim/config`` ``{"ipn_url", "ipn_retries", "ipn_retry_interval", "ipn_timeout"}``; ``POST
/_sim/release`` (``{"txn_ref"}`` optional) sends held IPNs now; ``POST /_sim/refunds/settle``
``{"status": "06"|"09", "txn_ref"}``; ``GET|DELETE /_sim/faults``; ``POST /_sim/faults`` with
``"times": N`` (default 1) — the IPN of each of the next N payments:

* ``{"ipn": "before_return"}`` — as normal: sent and answered before the redirect;
* ``{"ipn": "late", "delay": 2.0}`` — redirect first; IPN held until ``POST /_sim/release`` or, if
  ``delay`` is given, that many seconds (sent from a thread);
* ``{"ipn": "twice"}`` — the same IPN twice at once (``"concurrent": false``: one after the other);
* ``{"ipn": "none"}`` — never sent: the merchant has to querydr;
* ``{"ipn": "wrong_amount", "amount": 1000}`` — correctly signed with another amount (đồng; default
  paid + 1,000); the return URL keeps the right one;
* ``{"ipn": "bad_signature"}`` — signed with another key; the return URL is signed right.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from hcmgov.simulators import StartResponse, WSGIApp
from hcmgov.simulators._http import Request, json_answer, page, redirect, text_answer
from hcmgov.simulators._pay_ledger import Ledger, Transaction
from hcmgov.simulators._pay_protocol import (
    PAGE_ERRORS,
    VERSION,
    gmt7,
    now,
    parse_gmt7,
    secure_hash,
    signed,
    verify,
)

PAY_PATH = "/paymentv2/vpcpay.html"
CHOOSE_PATH = PAY_PATH + "/choose"
API_PATH = "/merchant_webapi/api/transaction"

# the simulator's merchant account, unless the factory is given others (merchants={TmnCode: secret})
TMN_CODE = "HCMGOV01"
HASH_SECRET = "HCMGOVSIMHASHSECRET0123456789ABC"  # noqa: S105 - the simulator's well-known test account
IPN_URL_ENV = "HCMGOV_SIM_PAY_IPN_URL"
DEFAULT_IPN_URL = "http://127.0.0.1:8000/api/v1/payments/vnpay/ipn"

IPN_FAULTS = ("before_return", "late", "twice", "none", "wrong_amount", "bad_signature")
CHOICES = {"pay": ("00", "00"), "fail": ("51", "02"), "cancel": ("24", "02")}
REQUIRED = (
    *("vnp_Version", "vnp_Command", "vnp_Amount", "vnp_CreateDate", "vnp_CurrCode", "vnp_IpAddr", "vnp_Locale"),
    *("vnp_OrderInfo", "vnp_OrderType", "vnp_ReturnUrl", "vnp_TxnRef", "vnp_ExpireDate"),
)
TXN_REF = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")  # documented as alphanumeric; "-", "_", "." tolerated
ORDER_INFO = re.compile(r"^[\x20-\x7e]{1,255}$")  # "Tiếng Việt không dấu", no control characters
MAX_ANSWER = 64 * 1024
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the merchant is called directly


class PageError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Order:
    """A pay request shown to the user and not chosen yet."""

    token: str
    tmn_code: str
    txn_ref: str
    amount: int  # đồng
    order_info: str
    create_date: str
    expire: datetime
    return_url: str
    bank_code: str


class PayGateway:
    """The gateway: merchant accounts, pending orders, the ledger, IPN delivery and faults."""

    def __init__(
        self,
        *,
        merchants: Mapping[str, str] | None = None,
        ipn_url: str | None = None,
        ipn_retries: int = 0,
        ipn_retry_interval: float = 5.0,
        ipn_timeout: float = 5.0,
    ) -> None:
        self.ledger = Ledger(merchants or {TMN_CODE: HASH_SECRET})
        self.lock = threading.Lock()
        self.config: dict[str, Any] = {}
        self._configure(
            {
                "ipn_url": ipn_url or os.environ.get(IPN_URL_ENV) or DEFAULT_IPN_URL,
                "ipn_retries": ipn_retries,
                "ipn_retry_interval": ipn_retry_interval,
                "ipn_timeout": ipn_timeout,
            }
        )
        self.orders: dict[str, Order] = {}
        self.faults: deque[dict[str, Any]] = deque()
        self.sent: list[dict[str, Any]] = []
        self.held: dict[int, dict[str, Any]] = {}
        self.timers: set[threading.Timer] = set()
        self.generation = 0  # bumped by a reset: IPNs scheduled before it are dropped
        self._held_seq = 0

    # --- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.read(environ)
        route = (request.method, request.path)
        if route == ("GET", PAY_PATH):
            return self._pay_page(request, start_response)
        if route == ("POST", CHOOSE_PATH):
            return self._choose(request, start_response)
        if route == ("POST", API_PATH):
            return json_answer(start_response, "200 OK", self.ledger.api(request.json()))
        if route == ("GET", "/"):
            return json_answer(start_response, "200 OK", self._describe())
        if request.path.startswith("/_sim/"):
            return self._sim(request, start_response)
        if request.path in (PAY_PATH, CHOOSE_PATH, API_PATH):
            return json_answer(start_response, "405 Method Not Allowed", {"error": "method not allowed"})
        return json_answer(start_response, "404 Not Found", {"error": "not found"})

    # --- the pay page ---------------------------------------------------------------------------

    def _order(self, query: Mapping[str, str]) -> Order:
        params = {k: v for k, v in query.items() if k.startswith("vnp_")}
        tmn_code = params.get("vnp_TmnCode", "")
        if not tmn_code or not params.get("vnp_SecureHash"):
            raise PageError("03")
        if tmn_code not in self.ledger.merchants:
            raise PageError("02")
        if not verify(self.ledger.merchants[tmn_code], params):
            raise PageError("97")
        if any(not params.get(name) for name in REQUIRED):
            raise PageError("03")
        amount, create, expire = params["vnp_Amount"], params["vnp_CreateDate"], params["vnp_ExpireDate"]
        created, expires = parse_gmt7(create), parse_gmt7(expire)
        return_url = urlsplit(params["vnp_ReturnUrl"])
        if (
            (params["vnp_Version"], params["vnp_Command"], params["vnp_CurrCode"]) != (VERSION, "pay", "VND")
            or not amount.isdigit()
            or int(amount) <= 0
            or int(amount) % 100
            or created is None
            or expires is None
            or expires <= created
            or params["vnp_Locale"] not in ("vn", "en")
            or return_url.scheme not in ("http", "https")
            or not return_url.netloc
            or not ORDER_INFO.match(params["vnp_OrderInfo"])
            or not TXN_REF.match(params["vnp_TxnRef"])
        ):
            raise PageError("03")
        if self.ledger.paid(tmn_code, params["vnp_TxnRef"]):
            raise PageError("01")
        return Order(
            token=secrets.token_urlsafe(16),
            tmn_code=tmn_code,
            txn_ref=params["vnp_TxnRef"],
            amount=int(amount) // 100,
            order_info=params["vnp_OrderInfo"],
            create_date=create,
            expire=expires,
            return_url=params["vnp_ReturnUrl"],
            bank_code=params.get("vnp_BankCode") or "NCB",
        )

    def _pay_page(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        try:
            order = self._order(request.query)
        except PageError as error:
            return _error_page(start_response, error.code)
        with self.lock:
            self.orders[order.token] = order
        amount = f"{order.amount:,}".replace(",", ".")
        e = html.escape
        body = (
            '<section lang="vi"><h2>Thông tin đơn hàng</h2>'
            f'<p>Mã đơn hàng: <strong id="txn-ref">{e(order.txn_ref)}</strong></p>'
            f'<p>Số tiền: <strong id="amount">{amount}</strong> VND</p>'
            f'<p>Nội dung thanh toán: <span id="order-info">{e(order.order_info)}</span></p>'
            f"<p>Hết hạn lúc: {order.expire:%H:%M:%S %d/%m/%Y} (GMT+7)</p></section>"
            '<section lang="en"><h2>Order</h2>'
            f"<p>Order ref: {e(order.txn_ref)} — amount: {amount} VND — {e(order.order_info)}</p>"
            f"<p>Expires at {order.expire:%Y-%m-%d %H:%M:%S} (GMT+7)</p></section>"
            f'<form method="post" action="{CHOOSE_PATH}">'
            f'<input type="hidden" name="token" value="{e(order.token)}">'
            '<button name="action" value="pay">Thanh toán thành công / Pay successfully (00)</button> '
            '<button name="action" value="fail">Không đủ số dư / Insufficient funds (51)</button> '
            '<button name="action" value="cancel">Hủy giao dịch / Cancel (24)</button></form>'
        )
        return page(start_response, "200 OK", "Cổng thanh toán VNPAY (mô phỏng) / VNPAY gateway (simulator)", body)

    def _choose(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        token, action = request.form.get("token", ""), request.form.get("action", "")
        with self.lock:
            order = self.orders.pop(token, None) if action in CHOICES else None
        if order is None:
            return page(
                start_response,
                "400 Bad Request",
                "Thông báo / Notice",
                "<p>Phiên thanh toán không tồn tại hoặc đã xử lý.</p>"
                '<p lang="en">Unknown or already used payment session, or no valid choice.</p>',
            )
        moment = now()
        code, status = ("11", "02") if moment > order.expire else CHOICES[action]
        with self.lock:
            fault = self.faults.popleft() if self.faults else {"ipn": "before_return"}
            generation = self.generation
        number = self.ledger.new_transaction_no()
        transaction = Transaction(
            tmn_code=order.tmn_code,
            txn_ref=order.txn_ref,
            transaction_no=number,
            amount=order.amount,
            order_info=order.order_info,
            create_date=order.create_date,
            pay_date=gmt7(moment),
            response_code=code,
            status=status,
            bank_code=order.bank_code,
            bank_tran_no=f"VNP{number}",
            ipn=fault["ipn"],
        )
        if not self.ledger.add(transaction, unless_paid=True):
            return _error_page(start_response, "01")
        secret = self.ledger.merchants[order.tmn_code]
        result = signed(secret, transaction.result())
        self._notify(fault, transaction, result, secret, generation)
        separator = "&" if urlsplit(order.return_url).query else "?"
        return redirect(start_response, order.return_url + separator + urlencode(result))

    # --- the IPN --------------------------------------------------------------------------------

    def _notify(
        self, fault: dict[str, Any], t: Transaction, result: dict[str, str], secret: str, generation: int
    ) -> None:
        kind, ipn = fault["ipn"], result
        if kind == "wrong_amount":
            ipn = signed(secret, {**t.result(), "vnp_Amount": str(int(fault.get("amount") or t.amount + 1000) * 100)})
        elif kind == "bad_signature":
            ipn = {**result, "vnp_SecureHash": secure_hash("not-" + secret, result)}
        if kind == "none":
            return
        if kind == "late":
            with self.lock:
                self._held_seq += 1
                self.held[self._held_seq] = {"params": ipn, "kind": kind, "generation": generation}
            if fault.get("delay") is not None:
                self._later(float(fault["delay"]), self._release, self._held_seq)
            return
        if kind == "twice" and fault.get("concurrent", True):
            threads = [threading.Thread(target=self._send, args=(ipn, kind, generation), daemon=True) for _ in "12"]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=float(self.config["ipn_timeout"]) + 1)
            return
        for _ in range(2 if kind == "twice" else 1):
            self._send(ipn, kind, generation)

    def _send(self, params: dict[str, str], kind: str, generation: int, attempt: int = 1) -> dict[str, Any] | None:
        """One IPN call; its record, or None when a reset came first. Retries, if any, from a timer."""
        with self.lock:
            if generation != self.generation:
                return None
            config = dict(self.config)
        record = _deliver(config["ipn_url"], params, float(config["ipn_timeout"]))
        record.update({"fault": kind, "attempt": attempt})
        with self.lock:
            if generation != self.generation:
                return None
            self.sent.append(record)
        if record["RspCode"] not in ("00", "02") and attempt <= int(config["ipn_retries"]):
            self._later(float(config["ipn_retry_interval"]), self._send, params, kind, generation, attempt + 1)
        return record

    def _release(self, held_id: int) -> dict[str, Any] | None:
        with self.lock:
            held = self.held.pop(held_id, None)
        return None if held is None else self._send(held["params"], held["kind"], held["generation"])

    def _later(self, delay: float, function: Callable[..., Any], *args: Any) -> None:
        def run() -> None:
            with self.lock:
                self.timers.discard(timer)
            function(*args)

        timer = threading.Timer(max(delay, 0.0), run)
        timer.daemon = True
        with self.lock:
            self.timers.add(timer)
        timer.start()

    # --- test endpoints -------------------------------------------------------------------------

    def _describe(self) -> dict[str, Any]:
        with self.lock:
            ipn_url = self.config["ipn_url"]
        return {
            "simulator": "pay",
            "protocol": "VNPAY payment gateway 2.1.0: pay page, return URL, IPN, querydr, refund",
            "pay": PAY_PATH,
            "transaction_api": API_PATH,
            "statement": "/_sim/statement?date=yyyyMMdd",
            "ipn_url": ipn_url,
            "ipn_faults": list(IPN_FAULTS),
            # a simulator's account is no secret: the platform's HCMGOV_VNPAY_* are set to it
            "account": {"vnp_TmnCode": TMN_CODE, "vnp_HashSecret": HASH_SECRET},
            "merchants": sorted(self.ledger.merchants),
        }

    def _sim(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        method, path = request.method, request.path
        ok, bad = "200 OK", "400 Bad Request"
        if path == "/_sim/transactions":
            if method == "GET":
                return json_answer(start_response, ok, {"transactions": self.ledger.views()})
            if method == "DELETE":
                self._reset()
                return json_answer(start_response, ok, {"cleared": True})
            if method == "POST":
                try:
                    return json_answer(start_response, "201 Created", self.ledger.plant(request.json()).view())
                except ValueError as error:
                    return json_answer(start_response, bad, {"error": str(error)})
        elif path.startswith("/_sim/transactions/") and method == "PATCH":
            try:
                found = self.ledger.patch(unquote(path.removeprefix("/_sim/transactions/")), request.json())
            except ValueError as error:
                return json_answer(start_response, bad, {"error": str(error)})
            if found is None:
                return json_answer(start_response, "404 Not Found", {"error": "no such TxnRef"})
            return json_answer(start_response, ok, found.view())
        elif path == "/_sim/ipn" and method == "GET":
            with self.lock:
                body = {"ipn_url": self.config["ipn_url"], "sent": list(self.sent), "held": len(self.held)}
            return json_answer(start_response, ok, body)
        elif path == "/_sim/faults":
            if method == "POST":
                return self._add_faults(request.json(), start_response)
            if method in ("GET", "DELETE"):
                with self.lock:
                    pending = list(self.faults)
                    if method == "DELETE":
                        self.faults.clear()
                return json_answer(start_response, ok, {"faults": pending})
        elif path == "/_sim/release" and method == "POST":
            txn_ref = str(request.json().get("txn_ref", ""))
            with self.lock:
                chosen = [k for k, v in self.held.items() if not txn_ref or v["params"]["vnp_TxnRef"] == txn_ref]
            records = [r for r in (self._release(k) for k in chosen) if r is not None]
            return json_answer(start_response, ok, {"released": len(records), "sent": records})
        elif path == "/_sim/config":
            if method == "POST":
                try:
                    self._configure(request.json())
                except (TypeError, ValueError) as error:
                    return json_answer(start_response, bad, {"error": str(error)})
            if method in ("GET", "POST"):
                with self.lock:
                    return json_answer(start_response, ok, dict(self.config))
        elif path == "/_sim/statement" and method == "GET":
            day = request.query.get("date") or gmt7(now())[:8]
            if parse_gmt7(day + "000000") is None:
                return json_answer(start_response, bad, {"error": "date is yyyyMMdd"})
            csv_text = self.ledger.statement(
                day, tmn_code=request.query.get("tmn_code", ""), every_attempt=request.query.get("all") == "1"
            )
            return text_answer(
                start_response, ok, csv_text, "text/csv; charset=utf-8", f'inline; filename="vnpay-{day}.csv"'
            )
        elif path == "/_sim/refunds/settle" and method == "POST":
            data = request.json()
            status = str(data.get("status", "06"))
            if status not in ("06", "09"):
                return json_answer(start_response, bad, {"error": "status is 06 or 09"})
            return json_answer(
                start_response, ok, {"settled": self.ledger.settle_refunds(status, data.get("txn_ref", ""))}
            )
        else:
            return json_answer(start_response, "404 Not Found", {"error": "not found"})
        return json_answer(start_response, "405 Method Not Allowed", {"error": "method not allowed"})

    def _add_faults(self, data: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        fault = dict(data)
        times = fault.pop("times", 1)
        valid = (
            fault.get("ipn") in IPN_FAULTS
            and isinstance(times, int)
            and 1 <= times <= 1000
            and isinstance(fault.get("delay", 0), int | float)
            and fault.get("delay", 0) >= 0
            and isinstance(fault.get("amount", 1), int)
            and fault.get("amount", 1) > 0
        )
        if not valid:
            return json_answer(start_response, "400 Bad Request", {"error": "invalid fault", "ipn": list(IPN_FAULTS)})
        with self.lock:
            self.faults.extend(dict(fault) for _ in range(times))
        return json_answer(start_response, "200 OK", {"queued": times})

    def _configure(self, data: Mapping[str, Any]) -> None:
        """Check and apply config changes (``ValueError``: nothing applied)."""
        new = dict(self.config)
        for name, value in data.items():
            if name == "ipn_url":
                url = urlsplit(str(value))
                if url.scheme not in ("http", "https") or not url.netloc:
                    raise ValueError("ipn_url must be an http(s) URL")
                new[name] = str(value)
            elif name == "ipn_retries" and isinstance(value, int) and 0 <= value <= 20:
                new[name] = value
            elif name in ("ipn_retry_interval", "ipn_timeout") and isinstance(value, int | float) and value >= 0:
                new[name] = float(value)
            else:
                raise ValueError(f"invalid {name}")
        with self.lock:
            self.config = new

    def _reset(self) -> None:
        with self.lock:
            self.generation += 1
            for timer in self.timers:
                timer.cancel()
            self.timers.clear()
            self.orders.clear()
            self.faults.clear()
            self.sent.clear()
            self.held.clear()
        self.ledger.reset()


def make_app(**options: Any) -> WSGIApp:
    """The gateway with the simulator's account; options: ``merchants`` ({TmnCode: hash secret}),
    ``ipn_url``, ``ipn_retries``, ``ipn_retry_interval``, ``ipn_timeout``."""
    return PayGateway(**options)


# --- helpers -----------------------------------------------------------------------------------


def _error_page(start_response: StartResponse, code: str) -> Iterable[bytes]:
    vi, en = PAGE_ERRORS[code]
    body = (
        f'<p class="error" data-code="{code}">{html.escape(vi)}</p><p lang="en">{html.escape(en)}</p>'
        f"<p>Mã lỗi / Error code: <code>{code}</code></p>"
    )
    return page(start_response, "400 Bad Request", "Thông báo / Notice — VNPAY (mô phỏng / simulator)", body)


def _deliver(ipn_url: str, params: Mapping[str, str], timeout: float) -> dict[str, Any]:
    """Call the merchant's IPN URL once; what was sent and what came back (or the error)."""
    url = ipn_url + ("&" if urlsplit(ipn_url).query else "?") + urlencode(params)
    record: dict[str, Any] = {
        "TxnRef": params.get("vnp_TxnRef", ""),
        "TransactionNo": params.get("vnp_TransactionNo", ""),
        "url": url,
        "params": dict(params),
        "sent_at": datetime.now(UTC).isoformat(),
        "status": None,
        "answer": None,
        "RspCode": None,
        "error": None,
    }
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "hcmgov-sim-pay"})  # noqa: S310 - http(s) only, checked by _configure
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            record["status"], raw = response.status, response.read(MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        record["status"], raw = exc.code, exc.read(MAX_ANSWER)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        record["error"] = str(exc)[:300]
        return record
    try:
        answer: Any = json.loads(raw)
    except ValueError:
        answer = raw.decode("utf-8", "replace")[:2000]
    record["answer"] = answer
    if isinstance(answer, dict):
        record["RspCode"] = str(answer.get("RspCode", ""))
    return record
