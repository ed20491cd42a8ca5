"""Client of the national postal carrier's (VNPost) delivery-order API, and the reader of its
tracking webhook.

VNPost's own partner API (MyVNPost) is not published, so the protocol this client speaks is
modelled on GHN's public API (https://api.ghn.vn/home/docs: create order, calculate fee, order
detail, cancel, webhook) with the platform's own additions — national ward codes, an event id and
an HMAC signature on the webhook. The whole protocol, its sources and every difference from GHN are
described in :mod:`hcmgov.simulators.post`, the simulator the tests run this client against
(``hcmgov sim post`` serves it for development).

Every failure is a :class:`PostError` whose ``retryable`` says whether the same request may succeed
later (a timeout, a 5xx, an unreadable answer) or not (a wrong token, a refused order): callers retry
the first kind. The create request carries our order code as GHN's ``client_order_code``; the
carrier answers a repeated code with the order it made the first time, so a create sent again after
a lost answer does not make a second shipment.

Carrier statuses (GHN's vocabulary) are mapped to the platform's in :data:`STATUS_MAP`; statuses
with no meaning for a dossier's delivery (``exception``, ``damage``, ``lost``…) map to "" — the
event is kept, the order's status does not move.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hcmgov.common.config import config
from hcmgov.common.errors import Message, OutsideSystemError

log = logging.getLogger(__name__)

API = "/shiip/public-api/v2"
SIGNATURE_HEADER = "X-Post-Signature"
MAX_ANSWER = 256 * 1024


@dataclass(frozen=True)
class PostConfig:
    url: str
    token: str
    webhook_secret: str
    timeout: float

    @property
    def enabled(self) -> bool:
        return bool(self.url)


def post_config() -> PostConfig:
    """The carrier's settings, read from the environment now (a changed setting needs no restart of tests)."""
    return PostConfig(
        url=config(
            "HCMGOV_POST_URL",
            "",
            help="Base URL of the postal carrier's delivery-order API (GHN-style protocol, see "
            "hcmgov.simulators.post; `hcmgov sim post` serves a simulator). Empty: postal delivery off.",
            group="post",
        ).rstrip("/"),
        token=config(
            "HCMGOV_POST_TOKEN", "", help="API token of the carrier account (header Token).", group="post", secret=True
        ),
        webhook_secret=config(
            "HCMGOV_POST_WEBHOOK_SECRET",
            "",
            help="Shared secret the carrier signs tracking webhooks with (HMAC-SHA256, header X-Post-Signature). "
            "Empty: every webhook is refused.",
            group="post",
            secret=True,
        ),
        timeout=config("HCMGOV_POST_TIMEOUT", 10.0, help="Seconds to wait for the carrier's answer.", group="post"),
    )


post_config()  # declare the settings when the module is imported (`hcmgov configdoc` lists them)


# --- errors ------------------------------------------------------------------------------------


class PostError(OutsideSystemError):
    """A request the carrier did not fulfil. ``retryable``: the same request may succeed later."""


class PostRetryableError(PostError):
    """Timeout, connection refused, 5xx, unreadable answer: try again later (with the same order code)."""

    retryable = True


class PostRejectedError(PostError):
    """The carrier refused this request for good (token, an invalid order, an order past cancelling)."""


class PostNotConfigured(PostRejectedError):
    """No carrier URL (postal delivery off) or an unusable one."""


_UNREACHABLE = Message("Không kết nối được dịch vụ bưu chính.", "The postal carrier could not be reached.")
_UNAVAILABLE = Message("Dịch vụ bưu chính tạm thời không phục vụ.", "The postal carrier is temporarily unavailable.")
_REFUSED = Message("Bưu điện từ chối yêu cầu.", "The postal carrier refused the request.")
_UNREADABLE = Message("Không đọc được trả lời của bưu điện.", "The postal carrier's answer could not be read.")
_TOKEN = Message("Sai token của tài khoản bưu chính.", "Wrong token for the postal carrier account.")
_NOT_CANCELLED = Message("Bưu điện không hủy được đơn này.", "The postal carrier could not cancel this order.")


# --- what the carrier answers -----------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """One end of a shipment as the carrier takes it (ward and province: national statistics codes)."""

    name: str
    phone: str
    address: str
    ward_code: str
    province_code: str


@dataclass(frozen=True)
class FeeQuote:
    fee: int  # đồng
    days: int


@dataclass(frozen=True)
class Shipment:
    """An order the carrier holds: its tracking number, our code, the fee, its status (carrier's word)."""

    tracking_number: str
    client_order_code: str
    fee: int
    expected_at: dt.datetime | None
    carrier_status: str


@dataclass(frozen=True)
class TrackingUpdate:
    """One tracking event of the webhook; ``status`` is the platform's ("" when it has no meaning here)."""

    event_id: str
    tracking_number: str
    client_order_code: str
    carrier_status: str
    status: str
    at: dt.datetime
    location: str
    note: str


STATUS_MAP = {
    "ready_to_pick": "accepted",
    "picking": "accepted",
    "money_collect_picking": "accepted",
    "picked": "picked_up",
    "storing": "in_transit",
    "transporting": "in_transit",
    "sorting": "in_transit",
    "delivering": "in_transit",
    "money_collect_delivering": "in_transit",
    "delivered": "delivered",
    "delivery_fail": "failed_attempt",
    "waiting_to_return": "failed_attempt",  # GHN may still deliver it again from here
    "return": "returning",
    "return_transporting": "returning",
    "return_sorting": "returning",
    "returning": "returning",
    "return_fail": "returning",
    "returned": "returned",
    "cancel": "cancelled",
}


# --- the client --------------------------------------------------------------------------------


class PostClient:
    def __init__(self, cfg: PostConfig) -> None:
        if not cfg.enabled:
            raise PostNotConfigured(
                Message("Dịch vụ bưu chính chưa được cấu hình.", "The postal service is not configured."),
                detail="HCMGOV_POST_URL",
            )
        if urlsplit(cfg.url).scheme not in {"http", "https"}:
            raise PostNotConfigured(
                Message("HCMGOV_POST_URL phải là địa chỉ http(s).", "HCMGOV_POST_URL must be an http(s) URL."),
                detail=cfg.url,
            )
        self.config = cfg

    @classmethod
    def from_settings(cls) -> PostClient:
        return cls(post_config())

    def quote(self, *, sender: Address, receiver: Address, weight_grams: int) -> FeeQuote:
        """The fee and days for ``weight_grams`` from ``sender``'s ward to ``receiver``'s (names unused)."""
        data = self._call(
            "shipping-order/fee",
            {
                "from_ward_code": sender.ward_code,
                "from_province_code": sender.province_code,
                "to_ward_code": receiver.ward_code,
                "to_province_code": receiver.province_code,
                "weight": weight_grams,
                "service_type_id": 2,
            },
        )
        if not isinstance(data, dict):
            raise PostRetryableError(_UNREADABLE, detail=json.dumps(data)[:200])
        return FeeQuote(fee=_int(data.get("total")), days=max(1, _int(data.get("expected_days"), default=1)))

    def create(
        self, *, client_order_code: str, sender: Address, receiver: Address, weight_grams: int, content: str, note: str
    ) -> Shipment:
        """Create the shipment, or get the one made earlier under the same ``client_order_code``."""
        payload: dict[str, Any] = {
            "client_order_code": client_order_code,
            "payment_type_id": 1,  # the platform's (sender's) account pays: the applicant paid the platform
            "required_note": "KHONGCHOXEMHANG",  # official papers: the receiver may not open them before signing
            "service_type_id": 2,
            "weight": weight_grams,
            "content": content,
            "note": note,
            "cod_amount": 0,
        }
        for end, party in (("from", sender), ("to", receiver)):
            payload.update(
                {
                    f"{end}_name": party.name,
                    f"{end}_phone": party.phone,
                    f"{end}_address": party.address,
                    f"{end}_ward_code": party.ward_code,
                    f"{end}_province_code": party.province_code,
                }
            )
        return _shipment(self._call("shipping-order/create", payload))

    def detail(self, *, tracking_number: str) -> Shipment:
        return _shipment(self._call("shipping-order/detail", {"order_code": tracking_number}))

    def detail_by_client_code(self, *, client_order_code: str) -> Shipment:
        return _shipment(self._call("shipping-order/detail-by-client-code", {"client_order_code": client_order_code}))

    def cancel(self, *, tracking_number: str) -> None:
        """Cancel the shipment (possible until it is picked up); cancelling it again succeeds."""
        data = self._call("switch-status/cancel", {"order_codes": [tracking_number]})
        results = data if isinstance(data, list) else []
        mine = next((r for r in results if isinstance(r, dict) and r.get("order_code") == tracking_number), None)
        if mine is None or mine.get("result") is not True:
            detail = str(mine.get("message", "")) if isinstance(mine, dict) else json.dumps(data)[:300]
            raise PostRejectedError(_NOT_CANCELLED, detail=detail[:300])

    def _call(self, name: str, payload: dict[str, Any]) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s) above
            f"{self.config.url}{API}/{name}",
            data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
                "Token": self.config.token,
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:  # noqa: S310
                raw = response.read(MAX_ANSWER)
        except urllib.error.HTTPError as exc:
            body = _snippet(exc)
            code = f"HTTP {exc.code}"
            if exc.code >= 500 or exc.code in (408, 429):
                raise PostRetryableError(_UNAVAILABLE, code=code, detail=body) from exc
            if exc.code == 401:
                raise PostRejectedError(_TOKEN, code=code, detail=body) from exc
            raise PostRejectedError(_REFUSED, code=code, detail=_carrier_message(body)) from exc
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, DNS, timeout (TimeoutError is an OSError)
            reason = getattr(exc, "reason", exc)
            raise PostRetryableError(_UNREACHABLE, detail=str(reason)[:300]) from exc
        try:
            answer = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            # maybe a proxy's page: the carrier may have acted, and the same request again is safe
            raise PostRetryableError(_UNREADABLE, detail=raw[:200].decode("utf-8", "replace")) from exc
        if not isinstance(answer, dict):
            raise PostRetryableError(_UNREADABLE, detail=str(answer)[:200])
        if answer.get("code") != 200:
            raise PostRejectedError(
                _REFUSED, code=str(answer.get("code", "")), detail=str(answer.get("message", ""))[:300]
            )
        return answer.get("data")


def _snippet(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(600).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _carrier_message(body: str) -> str:
    """The ``message`` of the carrier's error body, else the body itself (shortened)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body[:300]
    return str(answer.get("message", body))[:300] if isinstance(answer, dict) else body[:300]


def _int(value: Any, *, default: int | None = None) -> int:
    """A whole number the carrier sent as a number or a numeric string (GHN sends ``"total_fee": "33000"``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if default is not None:
        return default
    raise PostRetryableError(_UNREADABLE, detail=f"not a number: {value!r}"[:200])


def _shipment(data: Any) -> Shipment:
    if not isinstance(data, dict) or not isinstance(data.get("order_code"), str) or not data["order_code"]:
        raise PostRetryableError(_UNREADABLE, detail=json.dumps(data)[:200])
    expected = data.get("expected_delivery_time")
    return Shipment(
        tracking_number=data["order_code"],
        client_order_code=str(data.get("client_order_code") or ""),
        fee=_int(data.get("total_fee"), default=0),
        expected_at=_moment(expected) if isinstance(expected, str) and expected else None,
        carrier_status=str(data.get("status") or ""),
    )


def _moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:  # no zone given: the carrier's local time
        moment = moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=7)))
    return moment.astimezone(dt.UTC)


# --- the webhook -------------------------------------------------------------------------------


class WebhookUnreadable(ValueError):
    """A webhook body that is not a tracking event of this protocol."""


def webhook_signature(body: bytes, secret: str) -> str:
    """``sha256=<hex HMAC-SHA256 of the raw body>``: what the carrier sends in ``X-Post-Signature``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def webhook_verify(*, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is the carrier's for ``body`` (constant-time); no secret set: never."""
    secret = post_config().webhook_secret
    if not secret or not signature:
        return False
    return hmac.compare_digest(webhook_signature(body, secret).encode(), signature.strip().encode("utf-8", "replace"))


def webhook_parse(body: bytes) -> TrackingUpdate:
    """The tracking event in a (verified) webhook body; :class:`WebhookUnreadable` if it is none."""
    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookUnreadable("not JSON") from exc
    if not isinstance(event, dict):
        raise WebhookUnreadable("not an object")
    fields = {}
    for name, limit in (("EventID", 64), ("OrderCode", 32), ("Status", 32), ("Time", 40)):
        value = event.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise WebhookUnreadable(f"{name} missing or invalid")
        fields[name] = value.strip()
    try:
        at = _moment(fields["Time"])
    except ValueError as exc:
        raise WebhookUnreadable("Time is not ISO 8601") from exc
    carrier_status = fields["Status"].lower()
    note = " — ".join(str(event.get(k) or "").strip() for k in ("Description", "Reason") if event.get(k))
    return TrackingUpdate(
        event_id=fields["EventID"],
        tracking_number=fields["OrderCode"],
        client_order_code=str(event.get("ClientOrderCode") or "")[:64],
        carrier_status=carrier_status,
        status=STATUS_MAP.get(carrier_status, ""),
        at=at,
        location=str(event.get("Warehouse") or "")[:200],
        note=note[:500],
    )
