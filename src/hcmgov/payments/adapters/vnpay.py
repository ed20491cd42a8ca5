"""Client of a payment gateway speaking VNPay's protocol, version 2.1.0.

The protocol (``shared/DOMAIN.md``, "Payments"; VNPay's merchant documentation at
sandbox.vnpayment.vn/apis/docs — "Thanh toán PAY", "Truy vấn và hoàn tiền"):

* **Pay**: the applicant's browser is sent to ``{pay_url}?<vnp_* parameters>`` signed with
  :func:`sign`: drop ``vnp_SecureHash`` and ``vnp_SecureHashType``, sort the other parameters by
  key, join ``quote_plus(key)=quote_plus(value)`` with ``&``, HMAC-SHA512 with the merchant's hash
  secret, hex. ``vnp_Amount`` is đồng × 100; ``vnp_CreateDate``/``vnp_ExpireDate`` are
  ``yyyyMMddHHmmss`` in GMT+7.
* **Return and IPN** carry the result signed the same way (:func:`verify`, :func:`parse_result`).
  The IPN is the gateway's server-to-server call; we answer ``{"RspCode", "Message"}``.
* **Transaction API** (``querydr``, ``refund``): a JSON POST whose ``vnp_SecureHash`` is the
  HMAC-SHA512 of the values joined with ``|`` in the documented order (``QUERY_FIELDS``,
  ``REFUND_FIELDS``); the answer is signed the same way over its own fields.

``hcmgov sim pay`` (:mod:`hcmgov.simulators.pay`) speaks the same protocol; the tests run this
client against it over HTTP.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode

from hcmgov.common.config import config
from hcmgov.common.errors import Message

log = logging.getLogger(__name__)

VERSION = "2.1.0"
GMT7 = dt.timezone(dt.timedelta(hours=7))
DATE_FORMAT = "%Y%m%d%H%M%S"
MAX_ANSWER = 1024 * 1024

# the |-joined fields of the transaction API's signatures, in VNPay's documented order
QUERY_FIELDS = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)
REFUND_FIELDS = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TransactionType",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_TransactionNo",
    "vnp_TransactionDate",
    "vnp_CreateBy",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)
REFUND_ANSWER_FIELDS = (
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
)

QUERY_ANSWER_FIELDS = (*REFUND_ANSWER_FIELDS, "vnp_PromotionCode", "vnp_PromotionAmount")

# vnp_ResponseCode of a payment, as VNPay documents them (the ones an applicant can meet)
RESPONSE_TEXTS: dict[str, Message] = {
    "00": Message("Giao dịch thành công.", "The payment succeeded."),
    "07": Message("Giao dịch bị nghi ngờ gian lận.", "The transaction is suspected of fraud."),
    "09": Message("Thẻ/tài khoản chưa đăng ký Internet Banking.", "The card is not registered for internet banking."),
    "10": Message("Xác thực thông tin thẻ sai quá 3 lần.", "Card authentication failed more than 3 times."),
    "11": Message("Đã hết hạn chờ thanh toán.", "The time allowed for the payment ran out."),
    "12": Message("Thẻ/tài khoản bị khóa.", "The card or account is locked."),
    "13": Message("Nhập sai mật khẩu OTP.", "A wrong one-time password was entered."),
    "24": Message("Bạn đã hủy giao dịch.", "You cancelled the payment."),
    "51": Message("Tài khoản không đủ số dư.", "The account balance is too low."),
    "65": Message("Tài khoản đã vượt hạn mức giao dịch trong ngày.", "The account's daily limit was exceeded."),
    "75": Message("Ngân hàng thanh toán đang bảo trì.", "The paying bank is under maintenance."),
    "79": Message("Nhập sai mật khẩu thanh toán quá số lần quy định.", "Too many wrong payment passwords."),
    "99": Message("Lỗi không xác định từ cổng thanh toán.", "The gateway reported an unknown error."),
}


@dataclass(frozen=True)
class GatewayConfig:
    pay_url: str
    api_url: str
    statement_url: str
    tmn_code: str
    hash_secret: str
    timeout: float

    @property
    def enabled(self) -> bool:
        return bool(self.pay_url and self.tmn_code and self.hash_secret)


def gateway_config() -> GatewayConfig:
    """The gateway's settings, read from the environment now."""
    return GatewayConfig(
        pay_url=config(
            "HCMGOV_VNPAY_PAY_URL",
            "",
            help="Payment page of the VNPay-protocol gateway, e.g. https://sandbox.vnpayment.vn/paymentv2/vpcpay.html "
            "(`hcmgov sim pay` serves one at /paymentv2/vpcpay.html). Empty: online payment off.",
            group="payments",
        ),
        api_url=config(
            "HCMGOV_VNPAY_API_URL",
            "",
            help="The gateway's transaction API (querydr, refund), e.g. "
            "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction.",
            group="payments",
        ),
        statement_url=config(
            "HCMGOV_VNPAY_STATEMENT_URL",
            "",
            help="Where the daily statement (CSV) is fetched; `{date}` is replaced by yyyyMMdd. Empty: no "
            "automatic reconciliation (a statement file can still be loaded by hand).",
            group="payments",
        ),
        tmn_code=config(
            "HCMGOV_VNPAY_TMN_CODE", "", help="The merchant's terminal code (vnp_TmnCode).", group="payments"
        ),
        hash_secret=config(
            "HCMGOV_VNPAY_HASH_SECRET",
            "",
            help="The merchant's hash secret (HMAC-SHA512 key).",
            group="payments",
            secret=True,
        ),
        timeout=config("HCMGOV_VNPAY_TIMEOUT", 10.0, help="Seconds to wait for the gateway's API.", group="payments"),
    )


gateway_config()  # declare the settings at import (`hcmgov configdoc`)


# --- signatures ----------------------------------------------------------------------------------


def canonical(params: Mapping[str, str]) -> str:
    """The signed string of a redirect, return or IPN: the ``vnp_`` parameters but the hash ones,
    sorted by key, ``key=value`` form-encoded (space as ``+``), joined with ``&``."""
    pairs = sorted(
        (k, v) for k, v in params.items() if k.startswith("vnp_") and k not in {"vnp_SecureHash", "vnp_SecureHashType"}
    )
    return "&".join(f"{quote_plus(str(k))}={quote_plus(str(v))}" for k, v in pairs)


def _hmac(secret: str, data: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def sign(params: Mapping[str, str], secret: str) -> str:
    return _hmac(secret, canonical(params))


def verify(params: Mapping[str, str], secret: str) -> bool:
    given = str(params.get("vnp_SecureHash", "")).lower()
    # bytes: compare_digest refuses str with non-ASCII characters, which anyone may send
    return bool(given) and hmac.compare_digest(given.encode(), sign(params, secret).encode())


def sign_fields(values: Mapping[str, Any], fields: tuple[str, ...], secret: str) -> str:
    """The transaction API's signature: the values of ``fields`` joined with ``|``."""
    return _hmac(secret, "|".join(str(values.get(name, "")) for name in fields))


def gmt7(moment: dt.datetime) -> str:
    return moment.astimezone(GMT7).strftime(DATE_FORMAT)


def parse_gmt7(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, DATE_FORMAT).replace(tzinfo=GMT7)
    except (TypeError, ValueError):
        return None


# --- the redirect and its result ------------------------------------------------------------------


def pay_url(
    cfg: GatewayConfig,
    *,
    ref: str,
    amount: int,
    order_info: str,
    ip: str,
    return_url: str,
    created_at: dt.datetime,
    expires_at: dt.datetime,
    locale: str = "vn",
    bank_code: str = "",
) -> str:
    """The signed address the applicant's browser is sent to, to pay ``amount`` đồng."""
    params = {
        "vnp_Version": VERSION,
        "vnp_Command": "pay",
        "vnp_TmnCode": cfg.tmn_code,
        "vnp_Amount": str(amount * 100),
        "vnp_CreateDate": gmt7(created_at),
        "vnp_CurrCode": "VND",
        "vnp_IpAddr": ip,
        "vnp_Locale": "en" if locale.startswith("en") else "vn",
        "vnp_OrderInfo": order_info,
        "vnp_OrderType": "other",
        "vnp_ReturnUrl": return_url,
        "vnp_TxnRef": ref,
        "vnp_ExpireDate": gmt7(expires_at),
    }
    if bank_code:
        params["vnp_BankCode"] = bank_code
    query = canonical(params)
    return f"{cfg.pay_url}?{query}&vnp_SecureHash={sign(params, cfg.hash_secret)}"


@dataclass(frozen=True)
class PayResult:
    """What a return or IPN says about one transaction (amount in đồng; None: not a whole number
    of đồng, which no genuine answer carries)."""

    ref: str
    amount: int | None
    response_code: str
    transaction_status: str
    txn_no: str
    bank_code: str
    bank_txn_no: str
    card_type: str
    pay_date: dt.datetime | None
    tmn_code: str

    @property
    def succeeded(self) -> bool:
        return self.response_code == "00" and self.transaction_status == "00"


def _amount(raw: Any) -> int | None:
    text = str(raw or "")
    if not text.isdigit() or len(text) > 18:
        return None
    value = int(text)
    return value // 100 if value % 100 == 0 else None


def parse_result(params: Mapping[str, str]) -> PayResult:
    return PayResult(
        ref=str(params.get("vnp_TxnRef", ""))[:40],
        amount=_amount(params.get("vnp_Amount")),
        response_code=str(params.get("vnp_ResponseCode", ""))[:4],
        transaction_status=str(params.get("vnp_TransactionStatus", ""))[:4],
        txn_no=str(params.get("vnp_TransactionNo", ""))[:40],
        bank_code=str(params.get("vnp_BankCode", ""))[:20],
        bank_txn_no=str(params.get("vnp_BankTranNo", ""))[:60],
        card_type=str(params.get("vnp_CardType", ""))[:20],
        pay_date=parse_gmt7(str(params.get("vnp_PayDate", ""))),
        tmn_code=str(params.get("vnp_TmnCode", ""))[:20],
    )


# --- the transaction API ------------------------------------------------------------------------


class GatewayError(Exception):
    """The gateway's API could not answer (``retryable``) or refused the request for good."""

    def __init__(self, message: Message, *, retryable: bool, code: str = "", detail: str = "") -> None:
        super().__init__(message.en)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message.vi} / {self.message.en}" + (f" ({self.code})" if self.code else "")


_UNREACHABLE = Message("Không kết nối được cổng thanh toán.", "The payment gateway could not be reached.")
_BAD_ANSWER = Message("Trả lời của cổng thanh toán không hợp lệ.", "The payment gateway's answer is not valid.")
NOT_CONFIGURED = Message(
    "Chưa cấu hình cổng thanh toán trực tuyến.", "No online payment gateway is configured (HCMGOV_VNPAY_*)."
)


@dataclass(frozen=True)
class QueryResult:
    """The gateway's record of a transaction (``querydr``); ``found`` False: it has none."""

    found: bool
    result: PayResult | None
    transaction_type: str = ""


@dataclass(frozen=True)
class RefundResult:
    accepted: bool
    response_code: str
    message: str


def _request_id() -> str:
    return secrets.token_hex(16)


class VnpayClient:
    def __init__(self, cfg: GatewayConfig) -> None:
        if not cfg.enabled:
            raise GatewayError(NOT_CONFIGURED, retryable=False)
        self.config = cfg

    @classmethod
    def from_settings(cls) -> VnpayClient:
        return cls(gateway_config())

    def _post(self, body: dict[str, str], answer_fields: tuple[str, ...]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is the configured gateway's
            self.config.api_url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:  # noqa: S310
                raw = response.read(MAX_ANSWER)
        except urllib.error.HTTPError as exc:
            raise GatewayError(_UNREACHABLE, retryable=exc.code >= 500, code=str(exc.code)) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise GatewayError(_UNREACHABLE, retryable=True, detail=str(exc)[:200]) from exc
        try:
            answer = json.loads(raw)
        except ValueError as exc:
            raise GatewayError(_BAD_ANSWER, retryable=True, detail=raw[:200].decode("utf-8", "replace")) from exc
        if not isinstance(answer, dict):
            raise GatewayError(_BAD_ANSWER, retryable=True)
        if answer.get("vnp_SecureHash") and not hmac.compare_digest(
            str(answer["vnp_SecureHash"]).lower(), sign_fields(answer, answer_fields, self.config.hash_secret)
        ):
            raise GatewayError(_BAD_ANSWER, retryable=False, code="97", detail="answer signature")
        return answer

    def _base(self, command: str, now: dt.datetime, ip: str) -> dict[str, str]:
        return {
            "vnp_RequestId": _request_id(),
            "vnp_Version": VERSION,
            "vnp_Command": command,
            "vnp_TmnCode": self.config.tmn_code,
            "vnp_CreateDate": gmt7(now),
            "vnp_IpAddr": ip,
        }

    def query(self, *, ref: str, transaction_date: dt.datetime, now: dt.datetime, ip: str = "127.0.0.1") -> QueryResult:
        """What the gateway knows of transaction ``ref`` (created at ``transaction_date``)."""
        body = self._base("querydr", now, ip)
        body.update(
            {
                "vnp_TxnRef": ref,
                "vnp_TransactionDate": gmt7(transaction_date),
                "vnp_OrderInfo": f"Truy van giao dich {ref}",
            }
        )
        body["vnp_SecureHash"] = sign_fields(body, QUERY_FIELDS, self.config.hash_secret)
        answer = self._post(body, QUERY_ANSWER_FIELDS)
        code = str(answer.get("vnp_ResponseCode", ""))
        if code == "91":
            return QueryResult(found=False, result=None)
        if code != "00":
            raise GatewayError(
                _BAD_ANSWER, retryable=code in {"99", "94"}, code=code, detail=str(answer.get("vnp_Message", ""))[:200]
            )
        if not answer.get("vnp_SecureHash"):
            raise GatewayError(_BAD_ANSWER, retryable=False, code="97", detail="unsigned answer")
        # the query's own ResponseCode says the query worked; the payment's outcome is its status
        result = parse_result(
            {**answer, "vnp_ResponseCode": "00" if answer.get("vnp_TransactionStatus") == "00" else "99"}
        )
        return QueryResult(found=True, result=result, transaction_type=str(answer.get("vnp_TransactionType", "")))

    def refund(
        self,
        *,
        ref: str,
        amount: int,
        txn_no: str,
        transaction_date: dt.datetime,
        request_id: str,
        by: str,
        now: dt.datetime,
        full: bool = True,
        ip: str = "127.0.0.1",
    ) -> RefundResult:
        """Ask the gateway to give back ``amount`` đồng of transaction ``ref``. ``request_id`` is
        ours and stable for one refund: a retry after a lost answer is refused as a duplicate (94)
        instead of refunding twice."""
        body = self._base("refund", now, ip)
        body.update(
            {
                "vnp_RequestId": request_id,
                "vnp_TransactionType": "02" if full else "03",
                "vnp_TxnRef": ref,
                "vnp_Amount": str(amount * 100),
                "vnp_TransactionNo": txn_no,
                "vnp_TransactionDate": gmt7(transaction_date),
                "vnp_CreateBy": by[:250],
                "vnp_OrderInfo": f"Hoan tien giao dich {ref}",
            }
        )
        body["vnp_SecureHash"] = sign_fields(body, REFUND_FIELDS, self.config.hash_secret)
        answer = self._post(body, REFUND_ANSWER_FIELDS)
        code = str(answer.get("vnp_ResponseCode", ""))
        return RefundResult(
            accepted=code in {"00", "94"}, response_code=code, message=str(answer.get("vnp_Message", ""))[:300]
        )

    def statement(self, *, day: dt.date) -> bytes:
        """The gateway's statement of ``day`` (GMT+7) as CSV bytes."""
        if not self.config.statement_url:
            raise GatewayError(
                Message("Chưa cấu hình địa chỉ lấy sao kê.", "No statement URL is configured."), retryable=False
            )
        url = self.config.statement_url.replace("{date}", f"{day:%Y%m%d}")
        try:
            with urllib.request.urlopen(url, timeout=self.config.timeout) as response:  # noqa: S310
                return bytes(response.read(64 * MAX_ANSWER))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise GatewayError(_UNREACHABLE, retryable=True, detail=str(exc)[:200]) from exc


def redirect_query(params: Mapping[str, str]) -> str:
    """``params`` as a query string (for tests and the return page's links)."""
    return urlencode(params)
