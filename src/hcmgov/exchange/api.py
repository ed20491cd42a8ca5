"""/api/v1/exchange: an information system registers its subscriptions to the platform's event
channels. Schemas and routes only: the rules are in ``events``.

The caller is a machine client (OAuth2 client credentials, scope ``hcmgov.api``): its token acts
as the client's service account, an official, hence ``x-access: official``; the routes then take
the information system whose ``client_id`` is the client's, and refuse anyone else with 403
``exchange_not_a_system`` — a person's token (an official's included), a session, or a client no
system is registered as. A system sees and cancels only its own subscriptions: another's id is 404.

No `from __future__ import annotations` in API modules: ninja reads the annotations at import.
"""

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Path, Router, Schema
from ninja import Status as Answer

from hcmgov.common.apiauth import AUTH
from hcmgov.common.errors import DomainError, Message, NotFound
from hcmgov.common.problem import problems
from hcmgov.exchange import envelope, events
from hcmgov.exchange.models import Channel, InformationSystem, Subscription  # for the schemas' types

router = Router(tags=["exchange"], auth=AUTH)
SYSTEM = {"x-access": "official"}  # machine clients' service accounts only, checked in _calling_system
LIST_CAP = 500
MAX_ID = 2**63 - 1


class ChannelOut(Schema):
    id: int
    source: str = Field(description="The CloudEvents source of its events: /x/{member}/{system}/{service}")
    name: str
    name_en: str
    types: list[str] = Field(description="CloudEvents types of its events (a trailing * for a prefix)")
    data_schema: dict[str, Any] | None = Field(None, description="JSON Schema of an event's data")

    @staticmethod
    def resolve_source(obj: Channel) -> str:
        return envelope.channel_source(channel=obj)

    @staticmethod
    def resolve_name(obj: Channel) -> str:
        return obj.service.name

    @staticmethod
    def resolve_name_en(obj: Channel) -> str:
        return obj.service.name_en

    @staticmethod
    def resolve_types(obj: Channel) -> list[str]:
        return [envelope.TYPE_PREFIX + t for t in obj.topics or [] if isinstance(t, str)]

    @staticmethod
    def resolve_data_schema(obj: Channel) -> Any:
        return obj.schema if isinstance(obj.schema, dict) else None


class SubscriptionIn(Schema):
    channel: int = Field(ge=1, le=MAX_ID, description="The channel's id (GET /exchange/channels)")
    callback_url: str = Field(description="Where events are POSTed (http or https)", max_length=2000)
    filters: dict[str, Any] = Field(
        default_factory=dict,
        description="Event data attribute → accepted value, or list of accepted values; all must match",
    )
    secret: str | None = Field(
        None, description="HMAC-SHA256 key of X-Hcmgov-Signature (16–128 characters); one is made if absent"
    )


class SubscriptionOut(Schema):
    id: int
    channel: int
    source: str
    callback_url: str
    filters: dict[str, Any]
    active: bool
    created_at: dt.datetime

    @staticmethod
    def resolve_channel(obj: Subscription) -> int:
        return obj.channel_id

    @staticmethod
    def resolve_source(obj: Subscription) -> str:
        return envelope.channel_source(channel=obj.channel)


class SubscriptionCreatedOut(SubscriptionOut):
    secret: str = Field(description="The signing key: keep it to check X-Hcmgov-Signature")


def _calling_system(request: HttpRequest) -> InformationSystem:
    user = request.user
    system = events.system_for_account(account=user) if getattr(user, "oauth_client_credentials", False) else None
    if system is None:
        raise DomainError(
            "exchange_not_a_system",
            Message(
                "Chỉ hệ thống thông tin đã đăng ký với Nền tảng (ứng dụng OAuth2, client credentials) được gọi.",
                "Only an information system registered with the platform (an OAuth2 client, client credentials) "
                "may call this.",
            ),
            403,
        )
    return system


@router.get(
    "/channels",
    response={200: list[ChannelOut], **problems(401, 403)},
    openapi_extra=SYSTEM,
    summary="Event channels the calling system may subscribe to",
)
def list_channels(request: HttpRequest) -> Any:
    """Kênh sự kiện hệ thống được phép đăng ký — the channels whose service the calling system
    holds an access right to."""
    return list(events.channels_subscribable(system=_calling_system(request))[:LIST_CAP])


@router.post(
    "/subscriptions",
    response={201: SubscriptionCreatedOut, **problems(400, 401, 403, 404, 409, 422)},
    openapi_extra=SYSTEM,
    summary="Subscribe to a channel's events",
)
def create_subscription(request: HttpRequest, payload: SubscriptionIn, response: HttpResponse) -> Any:
    """Đăng ký nhận sự kiện — events matching `filters` are POSTed to `callback_url` as CloudEvents
    1.0 (structured JSON), signed `X-Hcmgov-Signature: sha256=<hex HMAC-SHA256 of the body>`, at
    least once (deduplicate by `ce-id`). The same URL and filters again return the subscription
    in force (same id): a retried request makes no second one."""
    system = _calling_system(request)
    channel = events.channel_by_id(channel_id=payload.channel)
    if channel is None:
        raise NotFound("kênh sự kiện", "Event channel")
    subscription = events.subscription_register(
        subscriber=system,
        channel=channel,
        callback_url=payload.callback_url,
        filters=payload.filters,
        secret=payload.secret,
    )
    response["Location"] = f"/api/v1/exchange/subscriptions/{subscription.pk}"
    return Answer(201, subscription)


@router.get(
    "/subscriptions",
    response={200: list[SubscriptionOut], **problems(401, 403)},
    openapi_extra=SYSTEM,
    summary="The calling system's subscriptions in force",
)
def list_subscriptions(request: HttpRequest) -> Any:
    """Các đăng ký nhận sự kiện của hệ thống — the calling system's own subscriptions."""
    return list(events.subscriptions_of(system=_calling_system(request))[:LIST_CAP])


@router.delete(
    "/subscriptions/{subscription_id}",
    response={204: None, **problems(401, 403, 404)},
    openapi_extra=SYSTEM,
    summary="Cancel one of the calling system's subscriptions",
)
def cancel_subscription(request: HttpRequest, subscription_id: int = Path(..., ge=1, le=MAX_ID)) -> Any:
    """Hủy đăng ký — no further events; those not yet delivered are given up. Cancelling again
    answers 204 too; another system's subscription is 404."""
    subscription = events.subscription_of(system=_calling_system(request), subscription_id=subscription_id)
    if subscription is None:
        raise NotFound("đăng ký nhận sự kiện", "Subscription")
    events.subscription_cancel(subscription=subscription)
    return Answer(204, None)
