"""Sending queued notifications (``Delivery``) to subscribers' endpoints, from the worker only:
POST with the notification JSON (a Link header naming the subscriber's @context for
application/json), each due delivery once per run; a failure doubles the wait (2 s, 4 s, … up to an
hour) until ``NGSI_LD_NOTIFY_MAX_ATTEMPTS``; a subscription's ``throttling`` holds the next
notification until that many seconds after its last one. The subscription's counters are kept."""

from __future__ import annotations

import datetime as dt
import json
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hcmgov.common.netguard import url_refusal
from hcmgov.common.outbound import OutboundError, request
from hcmgov.ngsi import jsonld
from hcmgov.ngsi.models import Delivery, Subscription

log = logging.getLogger(__name__)

BACKOFF_START, BACKOFF_MAX = 2, 3600  # seconds


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(BACKOFF_MAX, BACKOFF_START * 2 ** max(0, attempts - 1)))


def _post(delivery: Delivery, sub: Subscription) -> str:
    """POST one notification; "" on success (2xx), else why not."""
    endpoint = sub.notification.get("endpoint", {})
    uri = endpoint.get("uri", "")
    refusal = url_refusal(uri, allowed=settings.NGSI_LD_NOTIFY_ALLOWED)
    if refusal:
        return refusal
    accept = endpoint.get("accept", "application/json")
    headers = {"Content-Type": accept}
    if accept == "application/json":
        headers["Link"] = jsonld.link_header(jsonld.context_for(sub.context))
    try:
        status, _ = request(
            uri,
            method="POST",
            data=json.dumps(delivery.body, ensure_ascii=False).encode(),
            headers=headers,
            timeout=settings.NGSI_LD_NOTIFY_TIMEOUT,
        )
    except OutboundError as exc:
        return str(exc)[:500]
    except Exception as exc:  # a broken context or URL must not stop the other deliveries
        return f"{type(exc).__name__}: {exc}"[:500]
    return "" if 200 <= status < 300 else f"HTTP {status}"


def deliveries_send(*, batch: int = 100) -> int:
    """Send the due notifications; returns how many were sent."""
    now = timezone.now()
    with transaction.atomic():
        due = Delivery.objects.filter(sent_at__isnull=True, failed=False, next_attempt_at__lte=now).order_by(
            "next_attempt_at", "pk"
        )
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        deliveries = list(due.select_related("subscription")[:batch])
        sent = 0
        for delivery in deliveries:
            sub = delivery.subscription
            if sub.throttling and sub.last_notification:
                allowed_at = sub.last_notification + dt.timedelta(seconds=sub.throttling)
                if allowed_at > now:
                    delivery.next_attempt_at = allowed_at
                    delivery.save(update_fields=["next_attempt_at"])
                    continue
            error = _post(delivery, sub)
            moment = timezone.now()
            delivery.attempts += 1
            counters = {"last_notification": moment}
            if not error:
                delivery.sent_at = moment
                sent += 1
                Subscription.objects.filter(pk=sub.pk).update(
                    last_success=moment, times_sent=F("times_sent") + 1, **counters
                )
                sub.last_notification = moment
            else:
                delivery.last_error = error
                delivery.failed = delivery.attempts >= settings.NGSI_LD_NOTIFY_MAX_ATTEMPTS
                delivery.next_attempt_at = moment + _backoff(delivery.attempts)
                Subscription.objects.filter(pk=sub.pk).update(
                    last_failure=moment, times_failed=F("times_failed") + 1, **counters
                )
                sub.last_notification = moment
                log.warning("NGSI-LD notification %s to %s failed: %s", delivery.pk, sub.subscription_id, error)
            delivery.save(update_fields=["attempts", "sent_at", "last_error", "failed", "next_attempt_at"])
    return sent
