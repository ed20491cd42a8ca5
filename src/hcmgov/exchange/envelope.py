"""The shape of the platform's events and subscriptions: the CloudEvents 1.0 envelope (structured
JSON), outbox topic patterns, subscription filters and their matching, and the checks of what a
subscriber registers (callback URL, filters, signing secret), each refused with a stable code."""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from hcmgov.common import netguard
from hcmgov.common.errors import DomainError, FieldError, Message
from hcmgov.exchange.models import Channel

TYPE_PREFIX = "vn.gov.hochiminhcity."  # CloudEvents: a type SHOULD be prefixed with a reverse-DNS name
MAX_FILTERS = 20
MAX_FILTER_VALUES = 100
MAX_FILTER_TEXT = 200
SECRET_LENGTHS = (16, 128)
MAX_URL = 200  # Subscription.callback_url's max_length

_url_ok = URLValidator(schemes=["http", "https"])


def refuse(code: str, vi: str, en: str, status: int = 400, errors: list[FieldError] | None = None) -> DomainError:
    return DomainError(code=code, message=Message(vi, en), status=status, errors=errors or [])


def channel_source(*, channel: Channel) -> str:
    """The CloudEvents ``source`` of a channel's events: its service's path on the gateway."""
    service = channel.service
    return f"/x/{service.system.member.code}/{service.system.code}/{service.code}"


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def event_body(*, event: dict[str, Any]) -> bytes:
    """The bytes sent (and signed) for an envelope: compact UTF-8 JSON."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def topic_matches(*, topic: str, patterns: Iterable[str]) -> bool:
    """Whether an outbox ``topic`` is one of ``patterns`` (a trailing ``*`` matches a prefix)."""
    for pattern in patterns:
        if not isinstance(pattern, str):
            continue
        if pattern == topic or (pattern.endswith("*") and topic.startswith(pattern[:-1])):
            return True
    return False


def _same(value: Any, accepted: Any) -> bool:
    if isinstance(value, bool) or isinstance(accepted, bool):  # True is not 1 for a filter
        return value is accepted
    return bool(value == accepted)


def filters_match(*, filters: dict[str, Any], data: dict[str, Any]) -> bool:
    """Whether the event's ``data`` has, for every filter, its attribute with an accepted value
    (one value, or any of a list). No filters: every event."""
    for name, accepted in filters.items():
        if name not in data:
            return False
        choices = accepted if isinstance(accepted, list) else [accepted]
        if not any(_same(data[name], choice) for choice in choices):
            return False
    return True


def _scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_FILTER_TEXT
    if isinstance(value, float):
        return math.isfinite(value)  # NaN and infinities are no JSON (PostgreSQL refuses them)
    return value is None or isinstance(value, bool | int)


def filters_check(*, filters: Any) -> dict[str, Any]:
    """``filters`` as stored, or a refusal naming each bad entry: a flat object of at most
    :data:`MAX_FILTERS` attributes, each a scalar (text, number, true/false, null) or a non-empty
    list of scalars."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise refuse(
            "exchange_filters_invalid",
            "Bộ lọc phải là một đối tượng JSON {thuộc tính: giá trị hoặc danh sách giá trị}.",
            "Filters must be a JSON object {attribute: value or list of values}.",
        )
    errors: list[FieldError] = []
    if len(filters) > MAX_FILTERS:
        errors.append(
            FieldError(
                "filters",
                "too_many",
                Message(f"Tối đa {MAX_FILTERS} thuộc tính lọc.", f"At most {MAX_FILTERS} filter attributes."),
            )
        )
    for name, value in filters.items():
        where = f"filters.{name}"
        if not isinstance(name, str) or not 0 < len(name) <= 64:
            errors.append(
                FieldError(where, "bad_name", Message("Tên thuộc tính không hợp lệ.", "Not a valid attribute name."))
            )
        elif isinstance(value, list):
            if not value or len(value) > MAX_FILTER_VALUES:
                errors.append(
                    FieldError(
                        where,
                        "bad_list",
                        Message(
                            f"Danh sách giá trị phải có từ 1 đến {MAX_FILTER_VALUES} phần tử.",
                            f"A list of values must have 1 to {MAX_FILTER_VALUES} items.",
                        ),
                    )
                )
            elif not all(_scalar(v) for v in value):
                errors.append(
                    FieldError(
                        where,
                        "not_scalar",
                        Message(
                            "Mỗi giá trị trong danh sách phải là chữ, số, đúng/sai hoặc null.",
                            "Each value of the list must be text, a number, true/false or null.",
                        ),
                    )
                )
        elif not _scalar(value):
            errors.append(
                FieldError(
                    where,
                    "not_scalar",
                    Message(
                        f"Giá trị phải là chữ (tối đa {MAX_FILTER_TEXT} ký tự), số, đúng/sai, null hoặc danh sách.",
                        f"A value must be text (at most {MAX_FILTER_TEXT} characters), a number, true/false, "
                        "null or a list of those.",
                    ),
                )
            )
    if errors:
        raise refuse("exchange_filters_invalid", "Bộ lọc không hợp lệ.", "The filters are not valid.", errors=errors)
    return dict(filters)


def callback_check(url: Any) -> str:
    try:
        if not isinstance(url, str) or len(url) > MAX_URL:
            raise ValidationError("too long")
        _url_ok(url)
    except ValidationError:
        raise refuse(
            "exchange_callback_url_invalid",
            "Địa chỉ nhận sự kiện phải là một URL http:// hoặc https:// đầy đủ, tối đa 200 ký tự.",
            "The callback URL must be a full http:// or https:// URL of at most 200 characters.",
            errors=[FieldError("callback_url", "invalid", Message("URL không hợp lệ.", "Not a valid URL."))],
        ) from None
    why = netguard.url_refusal(url, allowed=settings.EXCHANGE_CALLBACK_ALLOWED)
    if why:
        vi, _, en = why.partition(" / ")
        raise refuse(
            "exchange_callback_url_refused",
            f"Không gửi sự kiện đến địa chỉ này: {vi}.",
            f"Events are not sent to this address: {en}.",
            errors=[FieldError("callback_url", "refused", Message(vi, en))],
        )
    return url


def secret_check(secret: Any) -> str:
    if secret is None:
        return secrets.token_urlsafe(32)
    low, high = SECRET_LENGTHS
    if (
        not isinstance(secret, str)
        or not low <= len(secret) <= high
        or not secret.isascii()
        or not secret.isprintable()
    ):
        raise refuse(
            "exchange_secret_invalid",
            f"Khóa ký phải gồm {low} đến {high} ký tự ASCII in được.",
            f"The signing secret must be {low} to {high} printable ASCII characters.",
            errors=[FieldError("secret", "invalid", Message("Khóa ký không hợp lệ.", "Not a valid secret."))],
        )
    return secret
