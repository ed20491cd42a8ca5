"""HTTP batch ingestion: a device (or its gateway) POSTs its readings when MQTT is not an option.

``POST /iot/v1/readings`` with HTTP Basic authentication — the device's MQTT username and password —
and a body in the MQTT message format (:mod:`hcmgov.iot.validation`), up to
``IOT_MESSAGE_MAX_OBSERVATIONS`` observations. The same checks as over MQTT; the answer lists each
reading's fate::

    200 {"accepted": 2, "duplicates": 1, "rejected": 1,
         "results": [{"index": 0, "attribute": "pm25", "status": "accepted"},
                     {"index": 0, "attribute": "pm10", "status": "rejected", "reason": "out_of_range",
                      "message": "Giá trị nằm ngoài ngưỡng hợp lệ của thiết bị.", "detail": "…"}, …]}

A body that cannot be read at all answers 400 (``malformed``, ``invalid_payload``,
``device_mismatch``), a device out of service 403, a body too large 413, wrong credentials 401 —
always JSON with ``code`` and ``message``, Vietnamese unless the caller asks for English
(``Accept-Language: en``)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from hcmgov.common.access import public
from hcmgov.common.errors import Message
from hcmgov.iot import metrics, services, storage
from hcmgov.iot.validation import MESSAGES, RateLimiter, SharedRateLimiter, check_message, device_info

WHOLE = {"malformed": 400, "invalid_payload": 400, "device_mismatch": 400, "too_large": 413, "device_inactive": 403}
UNAUTHORIZED = Message(
    "Cần xác thực bằng tài khoản của thiết bị (HTTP Basic).", "Authenticate with the device's account (HTTP Basic)."
)
_limiter: RateLimiter | SharedRateLimiter | None = None


def _language(request: HttpRequest) -> str:
    return "en" if request.headers.get("Accept-Language", "").lower().startswith("en") else "vi"


def _error(request: HttpRequest, status: int, code: str, message: Message, **extra: Any) -> JsonResponse:
    body = {"code": code, "message": message.in_language(_language(request)), **extra}
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def _credentials(request: HttpRequest) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        username, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (username, password) if sep and username else None


@csrf_exempt  # machines with credentials of their own, no browser session
@public  # the device authenticates itself (HTTP Basic), checked here
def readings_batch(request: HttpRequest) -> JsonResponse:
    global _limiter
    if request.method != "POST":
        response = _error(request, 405, "method_not_allowed", Message("Chỉ nhận POST.", "POST only."))
        response["Allow"] = "POST"
        return response
    credentials = _credentials(request)
    device = services.device_authenticate(username=credentials[0], password=credentials[1]) if credentials else None
    if device is None:
        response = _error(request, 401, "unauthorized", UNAUTHORIZED)
        response["WWW-Authenticate"] = 'Basic realm="hcmgov-iot", charset="UTF-8"'
        return response
    if _limiter is None:  # shared by every web node when there is a Redis, else this process's own
        rate, burst = settings.IOT_DEVICE_RATE_PER_SECOND, settings.IOT_DEVICE_BURST
        _limiter = (
            SharedRateLimiter(settings.REDIS_URL, rate, burst, prefix="hcmgov:iot:rate:")
            if settings.REDIS_URL
            else RateLimiter(rate, burst)
        )
    now = dt.datetime.now(dt.UTC)
    payload = request.body
    checked = check_message(
        payload,
        device=device_info(device),
        device_code=device.code,
        received_at=now,
        oldest=storage.raw_cutoff(now),
        max_future=dt.timedelta(seconds=settings.IOT_MAX_FUTURE_SECONDS),
        max_bytes=settings.IOT_MESSAGE_MAX_BYTES,
        max_observations=settings.IOT_MESSAGE_MAX_OBSERVATIONS,
        limiter=_limiter,
    )
    metrics.MESSAGES.labels("http").inc()
    received = services.Received(checked, payload, request.path, device.code)
    stored = services.readings_store(received=[received], channel="http", now=now, keys=True)
    language = _language(request)
    whole = [r for r in checked.rejections if r.reason in WHOLE]
    if whole:
        first = whole[0]
        return _error(request, WHOLE[first.reason], first.reason, MESSAGES[first.reason], detail=first.detail)
    results: list[dict[str, Any]] = []
    claimed: set[tuple[Any, ...]] = set()  # the same reading twice in one body: the second is a duplicate
    for (index, attribute), row in zip(checked.places, checked.rows, strict=True):
        key = (row[0], row[1], row[2])
        new = key in stored.keys and key not in claimed
        claimed.add(key)
        results.append({"index": index, "attribute": attribute, "status": "accepted" if new else "duplicate"})
    for rejection in checked.rejections:
        item: dict[str, Any] = {"index": rejection.index, "attribute": rejection.attribute, "status": "rejected"}
        item.update(
            reason=rejection.reason,
            message=MESSAGES[rejection.reason].in_language(language),
            detail=rejection.detail,
        )
        results.append(item)
    results.sort(key=lambda r: (r["index"] if r["index"] is not None else -1, r["attribute"] or ""))
    body = {
        "accepted": stored.stored,
        "duplicates": stored.duplicates,
        "rejected": stored.rejected,
        "results": results,
    }
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})
