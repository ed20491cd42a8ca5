"""Client of the SMS-brandname gateway: eSMS.vn's JSON API ``SendMultipleMessage_V4_post_json``.

The protocol, its sources and its error codes are described in :mod:`hcmgov.simulators.sms`, the
simulator the tests run this client against (``hcmgov sim sms`` serves it for development).

Every failure is an :class:`SmsError` whose ``retryable`` says whether sending the same request
again later can help (a timeout, a 5xx, a low balance) or not (wrong credentials, an unknown
brandname, a malformed number): the caller retries the first kind and keeps the second for the
operator. The request carries a ``RequestId`` that is stable for one notification, so a resend after
a lost answer is refused by the gateway as a duplicate (code 124) instead of reaching the citizen
twice — the client reports it as sent.

Plain brandname SMS is sent unaccented (``IsUnicode=0``): an accented message costs 70 instead of 160
characters a segment and carriers garble it on some handsets. :func:`unaccent` strips the marks but
keeps the case — ``hcmgov.common.text.fold`` would also lower-case dossier codes and lookup secrets.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from hcmgov.common.config import config
from hcmgov.common.errors import Message, OutsideSystemError

log = logging.getLogger(__name__)

SEND_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
SMS_TYPE_CUSTOMER_CARE = "2"  # brandname message, customer care (the platform sends no advertising)
REQUEST_ID_MAX = 50
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class GatewayConfig:
    url: str
    api_key: str
    secret_key: str
    brandname: str
    timeout: float

    @property
    def enabled(self) -> bool:
        return bool(self.url)


def gateway_config() -> GatewayConfig:
    """The gateway's settings, read from the environment now (a changed setting needs no restart of tests)."""
    return GatewayConfig(
        url=config(
            "HCMGOV_SMS_URL",
            "",
            help="Base URL of the eSMS.vn-compatible SMS-brandname gateway, e.g. https://rest.esms.vn "
            "(`hcmgov sim sms` serves a simulator). Empty: SMS off, SMS notifications stay queued with a note.",
            group="sms",
        ).rstrip("/"),
        api_key=config("HCMGOV_SMS_API_KEY", "", help="ApiKey of the SMS gateway account.", group="sms", secret=True),
        secret_key=config(
            "HCMGOV_SMS_SECRET", "", help="SecretKey of the SMS gateway account.", group="sms", secret=True
        ),
        brandname=config(
            "HCMGOV_SMS_BRANDNAME",
            "",
            help="Registered brandname the SMS show as sender (customer-care messages, SmsType 2).",
            group="sms",
        ),
        timeout=config("HCMGOV_SMS_TIMEOUT", 10.0, help="Seconds to wait for the SMS gateway's answer.", group="sms"),
    )


gateway_config()  # declare the settings when the module is imported (`hcmgov configdoc` lists them)


# --- errors ------------------------------------------------------------------------------------


class SmsError(OutsideSystemError):
    """A message the gateway did not take. ``retryable``: the same request may succeed later."""


class SmsRetryableError(SmsError):
    """Timeout, connection refused, 5xx, unreadable answer, low balance: try again later."""

    retryable = True


class SmsRejectedError(SmsError):
    """The gateway refused this request for good (credentials, brandname, number, template)."""


class SmsNotConfigured(SmsRejectedError):
    """No gateway URL (SMS disabled) or an unusable one."""


_CODES: dict[str, tuple[bool, Message]] = {
    "99": (False, Message("Số điện thoại bị chặn trên cổng SMS.", "The phone number is blocked by the gateway.")),
    "101": (False, Message("Sai ApiKey hoặc SecretKey của cổng SMS.", "Wrong ApiKey or SecretKey for the gateway.")),
    "102": (False, Message("Tài khoản cổng SMS chưa có bảng giá.", "The gateway account has no price list.")),
    "103": (True, Message("Tài khoản cổng SMS không đủ số dư.", "The gateway account balance is too low.")),
    "104": (
        False,
        Message("Brandname chưa đăng ký hoặc chưa kích hoạt.", "The brandname is not registered or not active."),
    ),
    "108": (False, Message("Số điện thoại không đúng định dạng.", "The phone number is malformed.")),
    "140": (
        False,
        Message("Địa chỉ IP của máy chủ chưa được cổng SMS cho phép.", "The server's IP is not whitelisted."),
    ),
    "146": (
        False,
        Message("Nội dung không khớp mẫu tin CSKH đã đăng ký.", "The text matches no registered template."),
    ),
    "177": (
        False,
        Message("Nhà mạng của thuê bao chưa được đăng ký.", "The subscriber's carrier is not registered."),
    ),
}
_UNKNOWN_CODE = Message("Cổng SMS trả mã lỗi không xác định.", "The gateway answered an unknown error code.")
_UNREACHABLE = Message("Không kết nối được cổng SMS.", "The SMS gateway could not be reached.")
_UNAVAILABLE = Message("Cổng SMS tạm thời không phục vụ.", "The SMS gateway is temporarily unavailable.")
_REFUSED = Message("Cổng SMS từ chối yêu cầu.", "The SMS gateway refused the request.")
_UNREADABLE = Message("Không đọc được trả lời của cổng SMS.", "The SMS gateway's answer could not be read.")


# --- the client --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsSent:
    """The gateway took the message: ``sms_id`` is its id; ``duplicate`` when it had taken it before."""

    sms_id: str
    duplicate: bool = False


class SmsClient:
    def __init__(self, cfg: GatewayConfig) -> None:
        if not cfg.enabled:
            raise SmsNotConfigured(
                Message("Chưa cấu hình cổng SMS (HCMGOV_SMS_URL).", "No SMS gateway configured (HCMGOV_SMS_URL).")
            )
        if urlsplit(cfg.url).scheme not in {"http", "https"}:
            raise SmsNotConfigured(
                Message("HCMGOV_SMS_URL phải là địa chỉ http(s).", "HCMGOV_SMS_URL must be an http(s) URL."),
                detail=cfg.url,
            )
        self.config = cfg
        self.endpoint = cfg.url + SEND_PATH

    @classmethod
    def from_settings(cls) -> SmsClient:
        return cls(gateway_config())

    def send(self, *, phone: str, text: str, request_id: str) -> SmsSent:
        """Send ``text`` (unaccented here) to ``phone`` as a customer-care brandname SMS."""
        if len(request_id) > REQUEST_ID_MAX:
            raise ValueError(f"RequestId longer than {REQUEST_ID_MAX} characters: {request_id!r}")
        payload = {
            "ApiKey": self.config.api_key,
            "SecretKey": self.config.secret_key,
            "Phone": national_number(phone),
            "Content": unaccent(text),
            "Brandname": self.config.brandname,
            "SmsType": SMS_TYPE_CUSTOMER_CARE,
            "IsUnicode": "0",
            "Sandbox": "0",
            "RequestId": request_id,
        }
        answer = self._post(payload)
        code = str(answer.get("CodeResult", ""))
        if code == "100":
            return SmsSent(sms_id=str(answer.get("SMSID", "")))
        if code == "124":  # this RequestId was taken before: the earlier attempt's answer was lost
            log.info("sms: duplicate RequestId, already sent", extra={"sms_request_id": request_id})
            return SmsSent(sms_id="", duplicate=True)
        gateway_text = str(answer.get("ErrorMessage") or answer.get("error") or "")[:300]
        if not code:
            raise SmsRejectedError(_REFUSED, detail=gateway_text or json.dumps(answer)[:300])
        retryable, message = _CODES.get(code, (False, _UNKNOWN_CODE))
        kind = SmsRetryableError if retryable else SmsRejectedError
        raise kind(message, code=code, detail=gateway_text)

    def _post(self, payload: dict[str, str]) -> dict[str, object]:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s) above
            self.endpoint,
            data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:  # noqa: S310
                raw = response.read(MAX_ANSWER)
        except urllib.error.HTTPError as exc:
            body = _snippet(exc)
            if exc.code >= 500 or exc.code in (408, 429):
                raise SmsRetryableError(_UNAVAILABLE, code=f"HTTP {exc.code}", detail=body) from exc
            raise SmsRejectedError(_REFUSED, code=f"HTTP {exc.code}", detail=body) from exc
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, DNS, timeout (TimeoutError is an OSError)
            reason = getattr(exc, "reason", exc)
            raise SmsRetryableError(_UNREACHABLE, detail=str(reason)[:300]) from exc
        try:
            answer = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            # maybe a proxy's page; the gateway may have taken it, and a resend with the same RequestId is safe
            raise SmsRetryableError(_UNREADABLE, detail=raw[:200].decode("utf-8", "replace")) from exc
        if not isinstance(answer, dict):
            raise SmsRetryableError(_UNREADABLE, detail=str(answer)[:200])
        return answer


def _snippet(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(300).decode("utf-8", "replace").strip()
    except OSError:
        return ""


# --- text and numbers --------------------------------------------------------------------------

_PUNCTUATION = str.maketrans(
    {
        "Đ": "D",
        "đ": "d",
        "–": "-",
        "—": "-",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "…": "...",
        "→": "->",
        "•": "-",
        "\u00a0": " ",
    }
)


def unaccent(text: str) -> str:
    """Vietnamese text as plain ASCII for a non-Unicode SMS, case kept ("Hồ sơ ĐK" → "Ho so DK")."""
    decomposed = unicodedata.normalize("NFD", text.translate(_PUNCTUATION))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return stripped.encode("ascii", "replace").decode("ascii")


_SEPARATORS = re.compile(r"[\s.\-()]")


def national_number(phone: str) -> str:
    """A Vietnamese number as the gateway's samples write it: ``0901888484`` (from ``+84 90 188 8484``…)."""
    digits = _SEPARATORS.sub("", phone).removeprefix("+")
    if digits.startswith("84") and len(digits) == 11:
        return "0" + digits[2:]
    return digits
