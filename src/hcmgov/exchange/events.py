"""Event channels of the data sharing platform (publish/subscribe).

Platform modules publish through their outbox (``core.services.event_publish``); ``handlers`` turns
each outbox event whose topic a :class:`Channel` lists into one :class:`Delivery` per matching
subscription (:func:`channel_publish`), in the transaction that marks the outbox event delivered.
The worker then sends what is due (:func:`deliveries_send`): a signed CloudEvents 1.0 envelope,
POSTed to the subscriber's callback, at least once. A failure is tried again after a wait that
doubles (30 s, 1 min, 2 min … at most 6 h, with jitter, so that a subscriber coming back is not
hit by every retry at once); after :data:`MAX_ATTEMPTS` the delivery is dead (the admin's
dead-letter list), the operators are told, and an admin may send it again
(:func:`delivery_redeliver`). The subscriber deduplicates by the CloudEvents ``id``.

Sending is done outside any row lock: a worker first *claims* due rows by moving their ``next_at``
to a lease (now + :data:`LEASE` and a random number of microseconds, which makes the lease its
claim's token), sends, then records each answer only where ``next_at`` still holds its lease. A
worker that dies leaves its rows due again when the lease runs out; at worst an event is sent twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import random
import secrets
import time as monotonic_clock
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from hcmgov.audit.services import audit_record, audited
from hcmgov.common.errors import FieldError, Message
from hcmgov.exchange import envelope as shape
from hcmgov.exchange.adapters import subscriber as callback
from hcmgov.exchange.models import (
    AccessRight,
    Channel,
    Delivery,
    DeliveryState,
    InformationSystem,
    ServiceKind,
    Subscription,
    SystemState,
)
from hcmgov.identity import selectors as identity
from hcmgov.notifications.services import notification_queue, notification_queue_address

log = logging.getLogger(__name__)

# the delivery policy (settings HCMGOV_EXCHANGE_DELIVERY_*; defaults: 12 attempts, about 14 to 20
# hours of a subscriber down before an event is dead)
MAX_ATTEMPTS = int(settings.EXCHANGE_DELIVERY_MAX_ATTEMPTS)
RETRY_BASE = dt.timedelta(seconds=int(settings.EXCHANGE_DELIVERY_RETRY_BASE_SECONDS))
RETRY_CAP = dt.timedelta(seconds=int(settings.EXCHANGE_DELIVERY_RETRY_CAP_SECONDS))
TIMEOUT_SECONDS = float(settings.EXCHANGE_DELIVERY_TIMEOUT_SECONDS)
LEASE = dt.timedelta(minutes=10)  # a claim's life; a batch stops sending well before it runs out
if not 0 < TIMEOUT_SECONDS * 3 < LEASE.total_seconds() or MAX_ATTEMPTS < 1 or RETRY_BASE > RETRY_CAP:
    raise ImproperlyConfigured(
        "HCMGOV_EXCHANGE_DELIVERY_*: the timeout must be above 0 and under a third of the 10-minute lease, "
        "at least one attempt, and the first wait no longer than the longest"
    )
SUBSCRIPTION_FIELDS = ("channel", "subscriber", "callback_url", "filters", "active")  # never the secret


# --- reads ---------------------------------------------------------------------------------------------


CHANNELS_KEPT_SECONDS = 10.0
_channels: tuple[float, list[Channel]] = (0.0, [])


def channels_for_topic(*, topic: str) -> list[Channel]:
    """The open channels that carry an outbox ``topic``: matched here (channels are few, and JSON
    lists are unsearchable on SQLite) against the list of open channels, read at most every
    :data:`CHANNELS_KEPT_SECONDS` per process — every outbox event of the platform passes here, the
    payment's reaction among them, and most go out on no channel. A channel or service saved in
    this process is seen at once (``channels_forget``); in another, within that many seconds."""
    global _channels
    now = monotonic_clock.monotonic()
    kept_until, channels = _channels
    if kept_until <= now:
        channels = list(
            Channel.objects.filter(service__active=True, service__kind=ServiceKind.EVENTS).select_related(
                "service__system__member"
            )
        )
        _channels = (now + CHANNELS_KEPT_SECONDS, channels)
    return [c for c in channels if shape.topic_matches(topic=topic, patterns=c.topics or [])]


def channels_forget(**_: Any) -> None:
    """Read the channels again at the next event (connected to the saves of channels and services)."""
    global _channels
    _channels = (0.0, [])


def channel_by_id(*, channel_id: int) -> Channel | None:
    """A channel of the registry, open or not (``subscription_register`` says why one is refused)."""
    return Channel.objects.select_related("service__system__member").filter(pk=channel_id).first()


def channels_subscribable(*, system: InformationSystem) -> QuerySet[Channel]:
    """The open channels ``system`` holds an unrevoked access right to."""
    rights = AccessRight.objects.filter(consumer=system, service_id=OuterRef("service_id"), revoked_at__isnull=True)
    return (
        Channel.objects.filter(service__active=True, service__kind=ServiceKind.EVENTS)
        .filter(Exists(rights))
        .select_related("service__system__member")
        .order_by("service__system__member__code", "service__system__code", "service__code")
    )


def subscriptions_of(*, system: InformationSystem) -> QuerySet[Subscription]:
    """``system``'s subscriptions in force, oldest first."""
    return (
        Subscription.objects.filter(subscriber=system, active=True)
        .select_related("channel__service__system__member")
        .order_by("id")
    )


def subscription_of(*, system: InformationSystem, subscription_id: int) -> Subscription | None:
    """One of ``system``'s own subscriptions (cancelled ones too), or None: another system's is not
    told apart from one that does not exist."""
    return Subscription.objects.filter(subscriber=system, pk=subscription_id).first()


def system_for_account(*, account: Any) -> InformationSystem | None:
    """The information system a machine client's service account calls as: the system whose
    ``client_id`` is that of the account's client-credentials OAuth2 application."""
    from hcmgov.identity.provider.services import machine_client_ids

    return (
        InformationSystem.objects.filter(client_id__in=machine_client_ids(account_id=account.pk))
        .exclude(client_id="")
        .select_related("member")
        .order_by("id")
        .first()
    )


# --- the channel's schema --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` cannot be a channel's data schema (not a JSON Schema 2020-12 object), or None."""
    if schema in (None, {}):
        return None
    if not isinstance(schema, dict):
        return "a JSON Schema must be an object"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return exc.message
    return None


def data_schema_errors(*, schema: Any, data: dict[str, Any], most: int = 5) -> list[FieldError]:
    """Where ``data`` breaks ``schema`` (a channel's published JSON Schema; none: nothing to
    check), at most ``most`` places, each with its path under ``data``. Subscribers rely on the
    schema the channel publishes: an event that breaks it is refused rather than sent."""
    if not isinstance(schema, dict) or not schema:
        return []
    problem = schema_problem(schema)
    if problem is not None:
        why = Message(f"Lược đồ của kênh không hợp lệ: {problem}", f"The channel's schema is not valid: {problem}")
        return [FieldError("schema", "schema_invalid", why)]
    validator = _validator(json.dumps(schema, sort_keys=True))
    found = sorted(validator.iter_errors(data), key=lambda e: [str(part) for part in e.path])
    return [
        FieldError(
            ".".join(["data", *(str(part) for part in error.absolute_path)]),
            str(error.validator),
            Message(f"Không đúng lược đồ: {error.message}", f"Does not match the schema: {error.message}"),
        )
        for error in found[:most]
    ]


# --- publishing and subscribing -----------------------------------------------------------------------


def channel_publish(
    *,
    channel: Channel,
    event_id: str,
    type: str,  # the CloudEvents attribute's name
    data: dict[str, Any],
    subject: str = "",
    time: dt.datetime | None = None,
) -> int:
    """Put an event on ``channel``: one pending delivery per subscription in force (its subscriber
    still holds a right and is not suspended) whose filters the event's ``data`` matches. Publishing
    the same ``event_id`` again adds nothing (a redelivered outbox event). Returns how many
    subscriptions the event goes to."""
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 64 or not type or not isinstance(data, dict):
        raise shape.refuse(
            "exchange_event_invalid",
            "Sự kiện cần mã (tối đa 64 ký tự), loại và dữ liệu dạng đối tượng JSON.",
            "An event needs an id (at most 64 characters), a type and data that is a JSON object.",
        )
    problems = data_schema_errors(schema=channel.schema, data=data)
    if problems:
        raise shape.refuse(
            "exchange_event_schema",
            "Dữ liệu sự kiện không đúng lược đồ đã công bố của kênh.",
            "The event's data does not match the channel's published schema.",
            errors=problems,
        )
    now = timezone.now()
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": shape.channel_source(channel=channel),
        "type": type,
        "time": shape.rfc3339(time or now),
        "datacontenttype": "application/json",
        "data": data,
    }
    if subject:
        envelope["subject"] = subject
    rights = AccessRight.objects.filter(
        consumer_id=OuterRef("subscriber_id"), service_id=channel.service_id, revoked_at__isnull=True
    )
    subscriptions = (
        Subscription.objects.filter(channel=channel, active=True)
        .exclude(subscriber__state=SystemState.SUSPENDED)
        .filter(Exists(rights))
        .only("id", "filters")
    )
    rows = [
        Delivery(subscription=s, event_id=event_id, event=envelope, next_at=now, created_at=now)
        for s in subscriptions
        if shape.filters_match(filters=s.filters or {}, data=data)
    ]
    if rows:
        with transaction.atomic():
            Delivery.objects.bulk_create(rows, ignore_conflicts=True)  # (subscription, event_id) is unique
    return len(rows)


@audited("exchange.subscription_register", fields=SUBSCRIPTION_FIELDS)
def subscription_register(
    *,
    subscriber: InformationSystem,
    channel: Channel,
    callback_url: str,
    filters: dict[str, Any] | None,
    secret: str | None = None,
) -> Subscription:
    """Subscribe ``subscriber`` to ``channel``'s events matching ``filters``, POSTed to
    ``callback_url`` and signed with ``secret`` (one is made when None; it is on the returned row).

    The subscriber must hold an unrevoked access right to the channel's service (the provider's
    grant governs events as it governs REST calls). Registering the same URL and filters again
    returns the subscription in force: a retried request makes no second one."""
    url = shape.callback_check(callback_url)
    wanted = shape.filters_check(filters=filters)
    key = shape.secret_check(secret)
    if subscriber.state == SystemState.SUSPENDED:
        raise shape.refuse(
            "exchange_system_suspended",
            "Hệ thống đang bị tạm ngừng kết nối với Nền tảng.",
            "The system's connection to the platform is suspended.",
            403,
        )
    service = channel.service
    if not service.active or service.kind != ServiceKind.EVENTS:
        raise shape.refuse(
            "exchange_channel_closed", "Kênh sự kiện không còn hoạt động.", "The event channel is closed.", 409
        )
    if not AccessRight.objects.filter(consumer=subscriber, service=service, revoked_at__isnull=True).exists():
        raise shape.refuse(
            "exchange_no_access_right",
            "Hệ thống chưa được cấp quyền sử dụng kênh sự kiện này.",
            "The system holds no access right to this event channel.",
            403,
        )
    # One registration at a time per channel (PostgreSQL: a row lock), so two identical requests
    # racing make one subscription; SQLite writes one transaction at a time anyway.
    Channel.objects.select_for_update().filter(pk=channel.pk).first()
    for existing in Subscription.objects.filter(channel=channel, subscriber=subscriber, callback_url=url, active=True):
        if existing.filters == wanted:
            if secret is not None and secret != existing.secret:
                raise shape.refuse(
                    "exchange_subscription_exists",
                    "Đã có đăng ký với cùng địa chỉ nhận và bộ lọc, nhưng khóa ký khác.",
                    "A subscription with the same callback URL and filters exists, with another secret.",
                    409,
                )
            existing._audit_skip = True  # type: ignore[attr-defined]  # nothing changed: no audit event
            return existing
    return Subscription.objects.create(
        channel=channel, subscriber=subscriber, callback_url=url, filters=wanted, secret=key
    )


@audited("exchange.subscription_cancel", target="subscription", fields=SUBSCRIPTION_FIELDS)
def subscription_cancel(*, subscription: Subscription) -> Subscription:
    """End a subscription (kept for the record); its deliveries not yet made are given up, marked
    dead with the reason and without an alert. Cancelling it again changes nothing."""
    locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if not locked.active:
        locked._audit_skip = True  # type: ignore[attr-defined]
        return locked
    locked.active = False
    locked.save(update_fields=["active"])
    locked.deliveries.filter(state=DeliveryState.PENDING).update(
        state=DeliveryState.DEAD,
        last_error="Đăng ký đã bị hủy, không gửi nữa / The subscription was cancelled: not sent",
    )
    return locked


# --- sending -------------------------------------------------------------------------------------------


def retry_delay(*, attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failure: 30 s × 2^(attempts − 1), at most 6 h, of which
    a random half is taken off (equal jitter), so that retries of many events spread out."""
    full = min(RETRY_CAP, RETRY_BASE * 2 ** max(attempts - 1, 0))
    return full / 2 + full / 2 * random.random()  # noqa: S311 - jitter, not a secret


def delivery_attempt(*, delivery: Delivery, now: dt.datetime | None = None) -> Delivery:
    """Send one pending delivery now and record the answer: 2xx → delivered; anything else → tried
    again after :func:`retry_delay`, or dead (and the alert) after :data:`MAX_ATTEMPTS`.

    The answer is recorded only if the row still is as read (state, attempts, ``next_at``): another
    worker that took it over after a lease ran out records its own. Returns the delivery as it is."""
    if delivery.state == DeliveryState.PENDING:
        answer = _post(delivery)
        _record(delivery, answer, now=now or timezone.now())
    return delivery


def _post(delivery: Delivery) -> callback.Answer:
    subscription = delivery.subscription
    return callback.post_event(
        url=subscription.callback_url,
        body=shape.event_body(event=delivery.event),
        event_id=delivery.event_id,
        secret=subscription.secret,
        timeout=TIMEOUT_SECONDS,
        allowed=settings.EXCHANGE_CALLBACK_ALLOWED,
    )


def _record(delivery: Delivery, answer: callback.Answer, *, now: dt.datetime) -> bool:
    read = Delivery.objects.filter(
        pk=delivery.pk, state=DeliveryState.PENDING, attempts=delivery.attempts, next_at=delivery.next_at
    )
    attempts = delivery.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_status": answer.status, "last_error": answer.error[:4000]}
    if answer.ok:
        values.update(state=DeliveryState.DELIVERED, delivered_at=now, last_error="")
    elif attempts >= MAX_ATTEMPTS:
        values.update(state=DeliveryState.DEAD, next_at=now)
    else:
        values.update(next_at=now + retry_delay(attempts=attempts))
    with transaction.atomic():
        if not read.update(**values):
            return False
        for name, value in values.items():
            setattr(delivery, name, value)
        if delivery.state == DeliveryState.DEAD:
            _alert_dead(delivery, now=now)
    return True


def _alert_dead(delivery: Delivery, *, now: dt.datetime) -> None:
    """Tell that ``delivery`` failed for good: an audit event and an ERROR log line for each; an
    e-mail to every active administrator and to the subscriber's ``contact_email``, at most one a
    day per subscription and address (the dead-letter list has the rest)."""
    subscription = Subscription.objects.select_related("subscriber__member", "channel__service__system__member").get(
        pk=delivery.subscription_id
    )
    system = subscription.subscriber
    facts = {
        "event_id": delivery.event_id,
        "type": str(delivery.event.get("type", "")),
        "subscription": subscription.pk,
        "subscriber": str(system),
        "channel": str(subscription.channel),
        "callback_url": subscription.callback_url,
        "attempts": delivery.attempts,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error[:500],
        "contact_email": system.contact_email,
    }
    audit_record(action="exchange.delivery_dead", obj=delivery, after=facts)
    log.error("exchange: event delivery failed for good", extra={"delivery_id": delivery.pk, **facts})
    day = timezone.localdate(now).isoformat()
    subject = f"[LGSP] Gửi sự kiện không thành công đến {system} / Event delivery to {system} failed for good"
    body = (
        f"Sự kiện {delivery.event_id} ({facts['type']}) trên kênh {subscription.channel} không gửi được đến "
        f"hệ thống {system.name} ({system}) sau {delivery.attempts} lần thử.\n"
        f"Địa chỉ nhận: {subscription.callback_url}\nLỗi cuối: {delivery.last_error[:500]}\n"
        f"Liên hệ của hệ thống: {system.contact_email or '(chưa có)'}\n"
        "Các sự kiện không gửi được khác trong ngày của đăng ký này có trong danh sách «Gửi không thành công» "
        "của trang quản trị (không báo thêm thư); gửi lại từ đó khi bên nhận đã sẵn sàng.\n\n"
        f"Event {delivery.event_id} ({facts['type']}) on channel {subscription.channel} could not be delivered to "
        f"{system} after {delivery.attempts} attempts.\n"
        f"Callback URL: {subscription.callback_url}\nLast error: {delivery.last_error[:500]}\n"
        f"The system's contact: {system.contact_email or '(none)'}\n"
        "Other dead deliveries of this subscription today are in the admin's dead-letter list (no further "
        "mail today); send them again from there once the subscriber is ready.\n"
    )
    for user in identity.users_of_kind(kind="admin"):
        if user.is_active and user.email:
            notification_queue(
                recipient=user,
                subject=subject,
                body=body,
                dedupe_key=f"exchange.dead:{subscription.pk}:{day}:{user.pk}",
            )
    notification_queue_address(
        address=system.contact_email,
        subject=subject,
        body=body,
        dedupe_key=f"exchange.dead:{subscription.pk}:{day}:contact",
    )


def _claim(*, batch: int, now: dt.datetime) -> list[Delivery]:
    """Take up to ``batch`` due deliveries for this worker (see the module's note on leases)."""
    lease = now + LEASE + dt.timedelta(microseconds=secrets.randbelow(1_000_000))
    with transaction.atomic():
        due = Delivery.objects.filter(
            state=DeliveryState.PENDING, next_at__lte=now, subscription__active=True
        ).order_by("next_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        ids = list(due.values_list("pk", flat=True)[:batch])
        if not ids:
            return []
        Delivery.objects.filter(pk__in=ids, state=DeliveryState.PENDING, next_at__lte=now).update(next_at=lease)
    mine = Delivery.objects.filter(pk__in=ids, next_at=lease).select_related("subscription").in_bulk()
    return [mine[pk] for pk in ids if pk in mine]


def deliveries_send(*, batch: int = 100, now: dt.datetime | None = None) -> int:
    """Send the deliveries due at ``now`` (default: now), at most ``batch``; returns how many were
    delivered. Several workers may run it at once.

    Once a subscriber has failed as a whole in this run (no answer, 5xx, 408, 429), its other
    deliveries of the run are not tried but counted as failed with the same answer: a subscriber
    that is down must not hold the worker for a timeout per event."""
    fixed = now
    now = now or timezone.now()
    claimed = _claim(batch=batch, now=now)
    deadline = monotonic_clock.monotonic() + (LEASE.total_seconds() - 3 * TIMEOUT_SECONDS)
    down: dict[int, callback.Answer] = {}
    delivered = 0
    for index, delivery in enumerate(claimed):
        if monotonic_clock.monotonic() > deadline:  # release the rest before the lease runs out
            rest = [d.pk for d in claimed[index:]]
            Delivery.objects.filter(pk__in=rest, state=DeliveryState.PENDING, next_at=claimed[index].next_at).update(
                next_at=now
            )
            break
        failed = down.get(delivery.subscription_id)
        if failed is not None:
            note = "Chưa thử vì bên nhận vừa lỗi / Not tried: the subscriber just failed — "
            _record(delivery, callback.Answer(failed.status, note + failed.error), now=fixed or timezone.now())
            continue
        answer = _post(delivery)
        if _record(delivery, answer, now=fixed or timezone.now()) and answer.ok:
            delivered += 1
        if answer.subscriber_down:
            down[delivery.subscription_id] = answer
    return delivered


@audited("exchange.delivery_redeliver", target="delivery", fields=("state", "attempts", "next_at", "last_error"))
def delivery_redeliver(*, delivery: Delivery, actor: Any) -> Delivery:
    """An administrator sends a dead delivery again: pending, due now, its attempts counted from 0
    (and a further :data:`MAX_ATTEMPTS` before it is dead again). One already pending is left as
    it is (a repeated request); a delivered one, or one of a cancelled subscription, is refused."""
    locked = Delivery.objects.select_for_update().select_related("subscription").get(pk=delivery.pk)
    if locked.state == DeliveryState.PENDING:
        locked._audit_skip = True  # type: ignore[attr-defined]
        return locked
    if locked.state == DeliveryState.DELIVERED:
        raise shape.refuse(
            "exchange_delivery_delivered",
            "Sự kiện đã được gửi thành công, không gửi lại.",
            "The event was delivered: it is not sent again.",
            409,
        )
    if not locked.subscription.active:
        raise shape.refuse(
            "exchange_subscription_inactive",
            "Đăng ký đã bị hủy, không gửi lại được.",
            "The subscription was cancelled: the event cannot be sent again.",
            409,
        )
    who = getattr(actor, "get_username", lambda: str(actor))()
    locked.state = DeliveryState.PENDING
    locked.attempts = 0
    locked.next_at = timezone.now()
    locked.last_error = f"Gửi lại theo yêu cầu của {who} / Sent again at the request of {who}. {locked.last_error}"[
        :4000
    ]
    locked.save(update_fields=["state", "attempts", "next_at", "last_error"])
    return locked
