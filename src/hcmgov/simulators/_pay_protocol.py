"""VNPay 2.1.0 as the payment simulator (:mod:`hcmgov.simulators.pay`) needs it: signatures, dates,
the documented field orders and codes. Sources are listed in that module's docstring."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote_plus

VERSION = "2.1.0"
GMT7 = timezone(timedelta(hours=7), "GMT+7")  # Asia/Ho_Chi_Minh: no daylight saving time
DATE_FORMAT = "%Y%m%d%H%M%S"  # VNPay's yyyyMMddHHmmss
DATE = re.compile(r"^\d{14}$")
UNSIGNED = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})

# --- the redirect, the return and the IPN: sorted, form-encoded key=value pairs -----------------

# the parameters VNPay sends back (return URL and IPN), "Thanh toán PAY" → "Code IPN URL"
RESULT_FIELDS = (
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_BankTranNo",
    "vnp_CardType",
    "vnp_OrderInfo",
    "vnp_PayDate",
    "vnp_ResponseCode",
    "vnp_TmnCode",
    "vnp_TransactionNo",
    "vnp_TransactionStatus",
    "vnp_TxnRef",
)


def hash_data(params: Mapping[str, Any]) -> str:
    """The signed string: every parameter but ``vnp_SecureHash``/``vnp_SecureHashType``, sorted by
    key, ``quote_plus(key)=quote_plus(value)`` (form encoding, space as ``+``), joined with ``&``."""
    pairs = sorted((str(k), str(v)) for k, v in params.items() if k not in UNSIGNED)
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)


def hmac_sha512(secret: str, data: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def secure_hash(secret: str, params: Mapping[str, Any]) -> str:
    return hmac_sha512(secret, hash_data(params))


def signed(secret: str, params: Mapping[str, Any]) -> dict[str, str]:
    """``params`` (as strings) with their ``vnp_SecureHash``."""
    out = {str(k): str(v) for k, v in params.items() if k not in UNSIGNED}
    out["vnp_SecureHash"] = secure_hash(secret, out)
    return out


def verify(secret: str, params: Mapping[str, Any]) -> bool:
    given = str(params.get("vnp_SecureHash", "")).lower()
    return bool(given) and hmac.compare_digest(given, secure_hash(secret, params))


# --- the transaction API: values joined with "|" in a fixed order ---------------------------------

QUERYDR_FIELDS = (
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
QUERYDR_ANSWER_FIELDS = (
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
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
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
REFUND_ANSWER_FIELDS = QUERYDR_ANSWER_FIELDS[:13]  # the same, without the promotion fields


def pipe_hash(secret: str, values: Mapping[str, Any], fields: Iterable[str]) -> str:
    """HMAC-SHA512 of ``values[f1]|values[f2]|…``; a missing field counts as an empty string."""
    return hmac_sha512(secret, "|".join(str(values.get(name, "")) for name in fields))


# --- codes -----------------------------------------------------------------------------------------

# vnp_ResponseCode of a payment (return URL and IPN) — the ones the simulator produces
PAY_CODES = {
    "00": "Giao dịch thành công / Approved",
    "11": "Đã hết hạn chờ thanh toán / The time allowed for the payment ran out",
    "24": "Khách hàng hủy giao dịch / The customer cancelled the payment",
    "51": "Tài khoản không đủ số dư / The account balance is too low",
}
# the pay page's own refusals (shown on an error page, never redirected)
PAGE_ERRORS = {
    "01": ("Giao dịch đã tồn tại", "This transaction already exists (vnp_TxnRef already paid)"),
    "02": ("Merchant không hợp lệ (kiểm tra lại vnp_TmnCode)", "Unknown merchant (check vnp_TmnCode)"),
    "03": ("Dữ liệu gửi sang không đúng định dạng", "The request's data is not in the right format"),
    "97": ("Sai chữ ký", "Invalid signature"),
}
# vnp_ResponseCode of the transaction API (querydr and refund)
API_CODES = {
    "00": "Yêu cầu thành công / Request succeeded",
    "02": "Mã định danh kết nối không hợp lệ (kiểm tra lại vnp_TmnCode) / Unknown merchant",
    "03": "Dữ liệu gửi sang không đúng định dạng / Wrong format",
    "91": "Không tìm thấy giao dịch yêu cầu / Transaction not found",
    "94": "Yêu cầu bị trùng lặp trong thời gian giới hạn của API / Duplicate request",
    "95": "Giao dịch này không thành công bên VNPAY, VNPAY từ chối xử lý yêu cầu / Refused by VNPAY",
    "97": "Checksum không hợp lệ / Invalid checksum",
    "99": "Các lỗi khác / Other error",
}
# vnp_TransactionStatus
STATUSES = {
    "00": "Giao dịch thanh toán thành công / Paid",
    "01": "Giao dịch chưa hoàn tất / Not completed",
    "02": "Giao dịch bị lỗi / Failed",
    "05": "VNPAY đang xử lý giao dịch hoàn tiền / Refund being processed",
    "06": "VNPAY đã gửi yêu cầu hoàn tiền sang ngân hàng / Refund sent to the bank",
    "09": "Giao dịch hoàn trả bị từ chối / Refund refused",
}


# --- dates -----------------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(GMT7)


def gmt7(moment: datetime) -> str:
    return moment.astimezone(GMT7).strftime(DATE_FORMAT)


def parse_gmt7(text: str) -> datetime | None:
    if not DATE.match(text or ""):
        return None
    try:
        return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=GMT7)
    except ValueError:
        return None
