"""Writes of the postal app: quotes and delivery orders with the carrier, their cancellation, and
the carrier's tracking webhook.

**The carrier is called outside any transaction of ours.** Inputs are checked first (a refusal is a
``DomainError`` with field errors and writes nothing); then the carrier is asked; only its answer is
written, in one short transaction together with the audit event (``@audited``) and the outbox event.
A carrier failure writes nothing and is a :class:`PostalError` whose ``retryable`` says whether the
same call may succeed later. Callers must not wrap these services in a transaction of their own
(the network wait would hold its locks).

**Creating twice makes one shipment.** Our order code (``<dossier code>-BC<n>``, ``n`` counting the
dossier's orders) is the carrier's client order code, and the carrier answers a code it has seen
with the order it made then. A retry after a lost answer — nothing was stored, so the same ``n`` —
gets the first shipment back and stores it. A shipment that two concurrent requests both asked for
is stored once (the code is unique); one that lost the race against another order of the same kind
is cancelled at the carrier.

**Tracking.** The webhook's body is checked against its HMAC-SHA256 signature (constant-time), each
event is stored once (the carrier's event id is unique per order), every new event is published as
``postal.tracking``, and the order's status follows the newest event by the carrier's clock: an old
event that arrives late is kept for the timeline but does not move the status back, and a delivered,
returned or cancelled order stays so. Reaching ``delivered`` publishes ``postal.delivered`` and
reaching ``returned`` publishes ``postal.returned`` (with the order's kind: the dossiers app reacts
to a delivered result).

Outbox topics and payloads: ``postal.order_created`` and ``postal.order_cancelled``
``{"dossier_id", "order_id", "kind"}``; ``postal.tracking`` ``{"dossier_id", "order_id", "status",
"at", "note"}``; ``postal.delivered`` and ``postal.returned`` ``{"dossier_id", "order_id", "kind",
"at"}`` (``at``: ISO 8601, UTC).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.common import context
from hcmgov.common.errors import DomainError, FieldError, Message
from hcmgov.core import selectors as core
from hcmgov.core import services as core_services
from hcmgov.postal.adapters import vnpost
from hcmgov.postal.adapters.vnpost import Address, PostClient, PostError, PostNotConfigured, Shipment, TrackingUpdate
from hcmgov.postal.models import (
    CANCELLABLE_STATUSES,
    ENDED_STATUSES,
    FINAL_STATUSES,
    DeliveryOrder,
    Kind,
    Status,
    TrackingEvent,
)

log = logging.getLogger(__name__)

CITY_PROVINCE_CODE = "79"  # Hồ Chí Minh City in the statistics office's list of provinces
MAX_WEIGHT_GRAMS = 30_000
AUDIT_FIELDS = (  # no names, phones or addresses: the audit trail cannot forget personal data
    "dossier",
    "kind",
    "code",
    "tracking_number",
    "status",
    "status_at",
    "fee",
    "weight_grams",
    "expected_days",
    "sender_ward_code",
    "receiver_ward_code",
    "cancel_reason",
)
# at the same carrier time, the later step of the journey wins
_RANK = {
    Status.CREATED: 0,
    Status.ACCEPTED: 1,
    Status.PICKED_UP: 2,
    Status.IN_TRANSIT: 3,
    Status.FAILED_ATTEMPT: 3,
    Status.RETURNING: 4,
    Status.DELIVERED: 5,
    Status.RETURNED: 5,
    Status.CANCELLED: 5,
}
_PHONE = re.compile(r"^(?:\+84|0)\d{9,10}$", re.ASCII)
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Party:
    """One end of a carriage as the caller gives it; ``ward_code``: an administrative unit code."""

    name: str
    phone: str
    address: str
    ward_code: str


@dataclass(frozen=True)
class Quote:
    """The carrier's price (đồng) and expected days for one carriage."""

    fee: int
    days: int


@dataclass
class PostalError(DomainError):
    """A carrier failure as the platform reports it; ``retryable``: the same call may succeed later."""

    retryable: bool = False


@dataclass(frozen=True)
class TrackingResult:
    order: DeliveryOrder
    event: TrackingEvent
    created: bool  # False: the event had been recorded before (the webhook came again)


# --- quotes and orders -------------------------------------------------------------------------


def delivery_quote(*, from_unit_code: str, to_unit_code: str, weight_grams: int) -> Quote:
    """What the carrier charges (đồng) and how many days it takes for ``weight_grams`` between two wards."""
    errors: list[FieldError] = []
    origin = _ward(from_unit_code, "from_unit", errors)
    destination = _ward(to_unit_code, "to_unit", errors)
    weight = _weight(weight_grams, "weight", errors)
    if errors or origin is None or destination is None:
        raise _invalid(errors)
    client = _client()
    try:
        quoted = client.quote(
            sender=Address("", "", "", *origin), receiver=Address("", "", "", *destination), weight_grams=weight
        )
    except PostError as exc:
        raise _carrier_error(exc) from exc
    return Quote(fee=quoted.fee, days=quoted.days)


def delivery_order_create(
    *, dossier: Any, kind: str, sender: Party, receiver: Party, weight_grams: int, note: str = ""
) -> DeliveryOrder:
    """Order a carriage of ``dossier``'s papers (``kind`` pickup or result) from the carrier.

    Refused (409) while the dossier has a live order of that kind. Safe to call again after a
    retryable error: the carrier gives back the shipment it may already have made."""
    errors: list[FieldError] = []
    if kind not in Kind.values:
        errors.append(FieldError("kind", "invalid", Message("Loại chuyển phát không hợp lệ.", "Unknown kind.")))
    origin = _party(sender, "sender", errors)
    destination = _party(receiver, "receiver", errors)
    weight = _weight(weight_grams, "weight_grams", errors)
    note_text = _text(note, "note", 500, ("ghi chú", "the note"), errors, required=False)
    if errors or origin is None or destination is None:
        raise _invalid(errors)
    client = _client()
    content = ("Hồ sơ thủ tục hành chính " if kind == Kind.PICKUP else "Kết quả giải quyết hồ sơ ") + dossier.code
    for _attempt in range(3):
        if DeliveryOrder.objects.filter(dossier_id=dossier.pk, kind=kind).exclude(status__in=ENDED_STATUSES).exists():
            raise _exists()
        code = f"{dossier.code}-BC{DeliveryOrder.objects.filter(dossier_id=dossier.pk).count() + 1}"
        try:
            shipment = client.create(
                client_order_code=code,
                sender=origin,
                receiver=destination,
                weight_grams=weight,
                content=content,
                note=note_text,
            )
        except PostError as exc:
            raise _carrier_error(exc) from exc
        values = {
            "dossier": dossier,
            "kind": kind,
            "code": code,
            "shipment": shipment,
            "sender": origin,
            "receiver": destination,
            "weight": weight,
            "note": note_text,
        }
        if shipment.carrier_status != "cancel":
            return _store_or_withdraw(client, values)
        # this code's shipment was made and cancelled before it was stored (a lost race): record
        # it as the cancelled order it is, and number the next one
        _order_store(**values, cancelled=True)
    raise _exists()


def delivery_order_cancel(*, order: DeliveryOrder, reason: str = "") -> DeliveryOrder:
    """Cancel a carriage before the carrier picks it up (created or accepted); again: no change."""
    if order.status == Status.CANCELLED:
        return order
    if order.status not in CANCELLABLE_STATUSES:
        raise DomainError(
            "not_cancellable",
            Message(
                "Bưu gửi đã được bưu tá nhận, không thể hủy đơn.",
                "The post has already picked it up: the order cannot be cancelled.",
            ),
            409,
        )
    errors: list[FieldError] = []
    reason_text = _text(reason, "reason", 500, ("lý do", "the reason"), errors, required=False)
    if errors:
        raise _invalid(errors)
    client = _client()
    try:
        client.cancel(tracking_number=order.tracking_number)
    except PostError as exc:
        raise _carrier_error(exc) from exc
    return _order_cancelled(order=order, reason=reason_text)


def _store_or_withdraw(client: PostClient, values: dict[str, Any]) -> DeliveryOrder:
    try:
        return _order_store(**values)
    except IntegrityError:
        shipment: Shipment = values["shipment"]
        mine = Q(code=values["code"]) | Q(tracking_number=shipment.tracking_number)
        if not DeliveryOrder.objects.filter(mine).exists():
            # another order of this kind was stored meanwhile: this shipment is nobody's (when a
            # concurrent twin stored it under the same code, it is that order's and stays)
            try:
                client.cancel(tracking_number=shipment.tracking_number)
            except PostError:
                log.warning(
                    "postal: could not withdraw a surplus shipment", extra={"tracking": shipment.tracking_number}
                )
        raise _exists() from None


@audited("postal.order_create", fields=AUDIT_FIELDS)
def _order_store(
    *,
    dossier: Any,
    kind: str,
    code: str,
    shipment: Shipment,
    sender: Address,
    receiver: Address,
    weight: int,
    note: str,
    cancelled: bool = False,
) -> DeliveryOrder:
    now = timezone.now()
    expected_days = 0
    if shipment.expected_at is not None:
        expected_days = max(1, (timezone.localdate(shipment.expected_at) - timezone.localdate(now)).days)
    order = DeliveryOrder.objects.create(
        dossier=dossier,
        kind=kind,
        code=code,
        tracking_number=shipment.tracking_number,
        sender_name=sender.name,
        sender_phone=sender.phone,
        sender_address=sender.address,
        sender_ward_code=sender.ward_code,
        receiver_name=receiver.name,
        receiver_phone=receiver.phone,
        receiver_address=receiver.address,
        receiver_ward_code=receiver.ward_code,
        weight_grams=weight,
        fee=shipment.fee,
        expected_days=expected_days,
        expected_at=shipment.expected_at,
        note=note,
        status=Status.CANCELLED if cancelled else Status.CREATED,
        status_at=now if cancelled else None,
        cancelled_at=now if cancelled else None,
    )
    if not cancelled:
        payload = {"dossier_id": dossier.pk, "order_id": order.pk, "kind": kind}
        core_services.event_publish(topic="postal.order_created", key=code, payload=payload)
    return order


@audited("postal.order_cancel", target="order", fields=AUDIT_FIELDS)
def _order_cancelled(*, order: DeliveryOrder, reason: str) -> DeliveryOrder:
    locked = DeliveryOrder.objects.select_for_update().get(pk=order.pk)
    if locked.status == Status.CANCELLED:
        locked._audit_skip = True  # type: ignore[attr-defined]  # cancelled meanwhile: nothing to record
        return locked
    now = timezone.now()
    locked.status, locked.status_at, locked.cancelled_at, locked.cancel_reason = Status.CANCELLED, now, now, reason
    locked.save(update_fields=["status", "status_at", "cancelled_at", "cancel_reason", "updated_at"])
    payload = {"dossier_id": locked.dossier_id, "order_id": locked.pk, "kind": locked.kind}
    core_services.event_publish(topic="postal.order_cancelled", key=locked.code, payload=payload)
    return locked


# --- tracking ----------------------------------------------------------------------------------


def tracking_record(*, body: bytes, signature: str) -> TrackingResult:
    """Record one tracking event of the carrier's webhook: ``body`` as received, ``signature`` the
    ``X-Post-Signature`` header. Refused: a bad signature, or no webhook secret set (401); a body
    that is no tracking event (400); an unknown tracking number (404: the carrier retries, as it
    should for an order whose creation is still being stored)."""
    if not vnpost.post_config().webhook_secret:  # no secret: no signature can be right
        log.warning("postal: webhook refused, HCMGOV_POST_WEBHOOK_SECRET is not set")
    if not vnpost.webhook_verify(body=body, signature=signature):
        raise DomainError(
            "bad_signature",
            Message("Chữ ký của bưu điện không hợp lệ.", "The carrier's signature is not valid."),
            401,
        )
    try:
        update = vnpost.webhook_parse(body)
    except vnpost.WebhookUnreadable as exc:
        message = Message("Không đọc được sự kiện bưu gửi.", f"The tracking event could not be read: {exc}.")
        raise DomainError("unreadable_tracking", message, 400) from exc
    order = DeliveryOrder.objects.filter(tracking_number=update.tracking_number).first()
    if order is None:
        message = Message("Không có đơn bưu chính mang số hiệu này.", "No delivery order has this tracking number.")
        raise DomainError("unknown_delivery", message, 404)
    with context.acting_as(context.Actor.system("postal-carrier")):
        locked = _event_store(order=order, update=update)
    event = TrackingEvent.objects.get(order=locked, event_id=update.event_id)
    return TrackingResult(order=locked, event=event, created=not getattr(locked, "_audit_skip", False))


@audited("postal.tracking", target="order", fields=AUDIT_FIELDS)
def _event_store(*, order: DeliveryOrder, update: TrackingUpdate) -> DeliveryOrder:
    """Store the event once, publish it, and move the order's status if it is the newest."""
    locked = DeliveryOrder.objects.select_for_update().get(pk=order.pk)
    if TrackingEvent.objects.filter(order=locked, event_id=update.event_id).exists():
        locked._audit_skip = True  # type: ignore[attr-defined]  # the webhook came again: nothing to record
        return locked
    TrackingEvent.objects.create(
        order=locked,
        event_id=update.event_id,
        status=update.status,
        carrier_status=update.carrier_status,
        at=update.at,
        location=update.location,
        note=update.note,
    )
    at = update.at.isoformat()
    ids = {"dossier_id": locked.dossier_id, "order_id": locked.pk}
    core_services.event_publish(
        topic="postal.tracking",
        key=locked.code,
        payload={**ids, "status": update.status, "at": at, "note": update.note},
    )
    if not _is_newest(locked, update):
        return locked
    locked.status, locked.status_at = update.status, update.at
    fields = ["status", "status_at", "updated_at"]
    if update.status == Status.DELIVERED:
        locked.delivered_at = update.at
        fields.append("delivered_at")
    locked.save(update_fields=fields)
    if update.status in (Status.DELIVERED, Status.RETURNED):
        topic = "postal.delivered" if update.status == Status.DELIVERED else "postal.returned"
        core_services.event_publish(topic=topic, key=locked.code, payload={**ids, "kind": locked.kind, "at": at})
    return locked


def _is_newest(order: DeliveryOrder, update: TrackingUpdate) -> bool:
    """Whether ``update`` sets the order's status: it has one, the order is not finished, and it is
    newer by the carrier's clock than the event that set the status (at the same time: a later step)."""
    if not update.status or order.status in FINAL_STATUSES:
        return False
    if order.status_at is None or update.at != order.status_at:
        return order.status_at is None or update.at > order.status_at
    return _RANK[Status(update.status)] >= _RANK[Status(order.status)]


# --- checks and errors -------------------------------------------------------------------------


def _client() -> PostClient:
    try:
        return PostClient.from_settings()
    except PostError as exc:
        raise _carrier_error(exc) from exc


def _not_configured() -> PostalError:
    message = Message("Dịch vụ bưu chính chưa được cấu hình.", "The postal service is not configured.")
    return PostalError("postal_not_configured", message, 503)


def _carrier_error(exc: PostError) -> PostalError:
    if isinstance(exc, PostNotConfigured):
        return _not_configured()
    if exc.retryable:
        message = Message(f"{exc.message.vi} Vui lòng thử lại sau.", f"{exc.message.en} Please try again later.")
        return PostalError("postal_unavailable", message, 503, retryable=True)
    detail = f" ({exc.detail})" if exc.detail else ""
    message = Message(f"{exc.message.vi}{detail}", f"{exc.message.en}{detail}")
    return PostalError("postal_refused", message, 502)


def _exists() -> DomainError:
    message = Message(
        "Hồ sơ đã có đơn bưu chính loại này đang thực hiện.",
        "The dossier already has a live delivery order of this kind.",
    )
    return DomainError("delivery_exists", message, 409)


def _invalid(errors: list[FieldError]) -> DomainError:
    message = Message(
        "Thông tin gửi lên chưa hợp lệ, vui lòng kiểm tra các mục được đánh dấu.",
        "What you sent is not valid yet: please check the marked items.",
    )
    return DomainError("invalid_input", message, 422, errors)


def _text(
    value: Any, field: str, limit: int, name: tuple[str, str], errors: list[FieldError], *, required: bool = True
) -> str:
    text = value.strip() if isinstance(value, str) else ""
    vi, en = name
    if not text:
        if required:
            errors.append(FieldError(field, "required", Message(f"Vui lòng nhập {vi}.", f"Please enter {en}.")))
        return ""
    if _CONTROL.search(text) or len(text) > limit:
        message = Message(
            f"{vi.capitalize()} không hợp lệ (tối đa {limit} ký tự).", f"{en} is not valid (at most {limit})."
        )
        errors.append(FieldError(field, "invalid", message))
        return ""
    return text


def _weight(value: Any, field: str, errors: list[FieldError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_WEIGHT_GRAMS:
        message = Message(
            f"Khối lượng phải từ 1 đến {MAX_WEIGHT_GRAMS} gam.", f"The weight must be 1 to {MAX_WEIGHT_GRAMS} grams."
        )
        errors.append(FieldError(field, "invalid", message))
        return 0
    return value


def _ward(value: Any, field: str, errors: list[FieldError]) -> tuple[str, str] | None:
    """``(ward code, province code)`` of a commune-level unit in force today, or None with a field error."""
    code = value.strip() if isinstance(value, str) else ""
    unit = None
    if code.isascii() and code.isdigit() and len(code) <= 8:
        today = timezone.localdate()
        in_force = [
            u for u in core.unit_list(level="commune").filter(code=code) if not u.valid_to or u.valid_to >= today
        ]
        unit = in_force[-1] if in_force else None
    if unit is None:
        message = Message(
            f"Không có phường, xã, đặc khu nào mang mã «{code[:12]}».",
            f"No ward or commune has the code “{code[:12]}”.",
        )
        errors.append(FieldError(field, "unknown_unit", message))
        return None
    top = unit
    for _ in range(3):  # ward → (district →) province
        if top.parent is None:
            break
        top = top.parent
    return code, top.code if top.type == "province" else CITY_PROVINCE_CODE


def _party(party: Party, prefix: str, errors: list[FieldError]) -> Address | None:
    before = len(errors)
    name = _text(party.name, f"{prefix}.name", 150, ("họ tên", "the name"), errors)
    address = _text(party.address, f"{prefix}.address", 300, ("địa chỉ", "the address"), errors)
    phone = _PHONE_SEPARATORS.sub("", party.phone) if isinstance(party.phone, str) else ""
    if not _PHONE.match(phone):
        message = Message("Số điện thoại không hợp lệ.", "The phone number is not valid.")
        errors.append(FieldError(f"{prefix}.phone", "invalid", message))
    ward = _ward(party.ward_code, f"{prefix}.ward_code", errors)
    if len(errors) > before or ward is None:
        return None
    return Address(name=name, phone=phone, address=address, ward_code=ward[0], province_code=ward[1])
