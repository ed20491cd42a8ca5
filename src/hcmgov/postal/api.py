"""/api/v1/postal: the postal carrier's tracking webhook and the public delivery quote. Schemas and
routes only: the rules are in ``services``.

The webhook is open to anyone on the network and authenticated by its body's HMAC signature
(``X-Post-Signature``, see ``hcmgov.simulators.post``), not by a user: its ``x-access`` is
``public``. It answers 200 ``{"ok": true}`` for an event recorded now or before (the carrier
retries on anything else), 401 for a bad signature (or no webhook secret set), 400 for a body that
is no tracking event, 404 for an unknown tracking number, 413 for a body over 64 KiB — RFC 9457
problem details, like the rest of the API. The quote checks its inputs before it looks at the
carrier: only a valid question can get 503 (postal service off or carrier unreachable) or 502
(the carrier refused).

No `from __future__ import annotations` in API modules: ninja reads the annotations at import.
"""

from typing import Any

from django.http import HttpRequest
from ninja import Field, Header, Query, Router, Schema

from hcmgov.common.errors import DomainError, Message
from hcmgov.common.problem import problems
from hcmgov.postal import services
from hcmgov.postal.adapters.vnpost import SIGNATURE_HEADER

router = Router(tags=["postal"])
PUBLIC = {"x-access": "public"}
MAX_WEBHOOK_BYTES = 64 * 1024

# The carrier's event as the webhook sends it (documented, not parsed by ninja: the signature is
# over the raw bytes, which the route reads itself).
TRACKING_EVENT_SCHEMA = {
    "type": "object",
    "required": ["EventID", "OrderCode", "Status", "Time"],
    "properties": {
        "EventID": {"type": "string", "description": "The carrier's id of this event (unique per order)"},
        "Type": {"type": "string", "description": "create | switch_status"},
        "OrderCode": {"type": "string", "description": "The carrier's tracking number"},
        "ClientOrderCode": {"type": "string", "description": "Our order code"},
        "Status": {"type": "string", "description": "The carrier's status (GHN's vocabulary)"},
        "Time": {"type": "string", "format": "date-time"},
        "Warehouse": {"type": "string"},
        "Description": {"type": "string"},
        "Reason": {"type": "string"},
    },
}


class Ack(Schema):
    ok: bool


class QuoteOut(Schema):
    fee: int = Field(description="Price of the carriage in đồng")
    days: int = Field(description="Expected days to deliver")
    currency: str = "VND"


@router.post(
    "/postal/tracking",
    response={200: Ack, **problems(400, 401, 404, 413)},
    openapi_extra={
        **PUBLIC,
        "requestBody": {"required": True, "content": {"application/json": {"schema": TRACKING_EVENT_SCHEMA}}},
    },
    summary="Tracking webhook of the postal carrier (signed)",
)
def tracking(
    request: HttpRequest,
    signature: str = Header("", alias=SIGNATURE_HEADER, description="sha256=<hex HMAC-SHA256 of the raw body>"),
) -> Any:
    """Nhận trạng thái bưu gửi từ bưu điện — the carrier posts each tracking event here, signed with
    the shared webhook secret. A repeated event is answered 200 and recorded once."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_WEBHOOK_BYTES:
        raise DomainError("too_large", Message("Dữ liệu gửi lên quá lớn.", "What you sent is too large."), 413)
    services.tracking_record(body=request.body, signature=signature)
    return {"ok": True}


@router.get(
    "/postal/quote",
    response={200: QuoteOut, **problems(400, 422, 502, 503)},
    openapi_extra=PUBLIC,
    summary="Price and days of a delivery by post",
)
def quote(
    request: HttpRequest,
    from_unit: str = Query(..., max_length=8, description="Code of the ward or commune it leaves from"),
    to_unit: str = Query(..., max_length=8, description="Code of the ward or commune it goes to"),
    weight: int = Query(..., ge=1, le=services.MAX_WEIGHT_GRAMS, description="Weight in grams"),
) -> Any:
    """Cước chuyển phát — what the post charges (đồng) and how many days it takes, as the carrier
    quotes it now; anyone may ask."""
    quoted = services.delivery_quote(from_unit_code=from_unit, to_unit_code=to_unit, weight_grams=weight)
    return {"fee": quoted.fee, "days": quoted.days, "currency": "VND"}
