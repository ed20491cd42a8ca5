"""Dossiers and the public postal service (Decision 45/2016/QĐ-TTg: an applicant may send the
dossier, receive the result, or both, by post). The postal app talks to the carrier; here the
dossier records the applicant's choice, sends its paper dossier by post (a pickup order: the
submission channel becomes 3) and hands its result to the post when it is returned, and its
timeline shows the carriage's tracking.

The carrier is called outside the dossier's transaction (``postal.services`` insists): the order is
made first, then the dossier's change is written; a retry after a failure finds the order made.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.common.config import config
from hcmgov.common.errors import DomainError, Message
from hcmgov.dossiers.models import Channel, Dossier, DossierEvent, Status
from hcmgov.dossiers.services.processing import TERMINAL, _event, _label, _lock, dossier_act
from hcmgov.identity import selectors as identity
from hcmgov.postal import selectors as postal_read
from hcmgov.postal import services as postal

RESULT_WEIGHT_GRAMS = 300  # a result in an A4 envelope
DOSSIER_WEIGHT_GRAMS = 500  # a paper dossier


def _refuse(code: str, vi: str, en: str, status: int = 409) -> DomainError:
    return DomainError(code, Message(vi, en), status)


def desk_phone() -> str:
    return config(
        "HCMGOV_POST_DESK_PHONE",
        "",
        help="Phone number the postal carrier calls at the one-stop-shop desks (collecting results, "
        "delivering paper dossiers). Empty: dossiers and results cannot go by post.",
        group="post",
    )


desk_phone()


def agency_party(agency: Any) -> postal.Party:
    """The agency's one-stop-shop desk as a postal address: its commune-level unit. City-level
    agencies have no ward on record yet (the agencies' data holds no street addresses), nor do
    agencies have their own phone numbers (one desk number is configured)."""
    phone = desk_phone()
    if not phone:
        raise _refuse(
            "post_not_configured",
            "Chưa cấu hình số điện thoại bộ phận một cửa cho dịch vụ bưu chính.",
            "No desk phone number is configured for the postal service (HCMGOV_POST_DESK_PHONE).",
            503,
        )
    unit = agency.unit
    if unit is None or unit.level != "commune":
        raise _refuse(
            "agency_no_postal_address",
            f"{agency.name} chưa khai báo địa chỉ nhận, gửi bưu gửi; vui lòng nhận, nộp trực tiếp.",
            f"{agency.name_en} has no postal address on record yet; please use the desk.",
        )
    return postal.Party(
        name=f"Bộ phận một cửa — {agency.name}"[:150],
        phone=phone,
        address=f"Trụ sở {agency.name}"[:300],
        ward_code=unit.code,
    )


def party_from(data: dict[str, Any]) -> postal.Party:
    return postal.Party(
        name=str(data.get("name", ""))[:150],
        phone=str(data.get("phone", ""))[:20],
        address=str(data.get("address", ""))[:300],
        ward_code=str(data.get("ward_code", ""))[:8],
    )


def delivery_quote_for(*, dossier: Dossier, to: dict[str, Any], kind: str) -> postal.Quote:
    """What the carriage of ``kind`` would cost (nothing written): shown before the applicant confirms."""
    home = agency_party(dossier.agency)
    other = party_from(to)
    if kind == "pickup":
        return postal.delivery_quote(
            from_unit_code=other.ward_code, to_unit_code=home.ward_code, weight_grams=DOSSIER_WEIGHT_GRAMS
        )
    return postal.delivery_quote(
        from_unit_code=home.ward_code, to_unit_code=other.ward_code, weight_grams=RESULT_WEIGHT_GRAMS
    )


def _own(dossier: Dossier, applicant: Any) -> None:
    if not identity.user_acts_for(user=applicant, applicant_id=dossier.applicant_id):
        raise _refuse("forbidden", "Đây không phải hồ sơ của bạn.", "This is not your dossier.", 403)


def dossier_choose_post(
    *, dossier: Dossier, applicant: Any, to: dict[str, Any], now: dt.datetime | None = None
) -> Dossier:
    """The applicant chooses to receive the result by post at ``to``: the address is checked and
    the fee quoted by the carrier now (the figure the applicant confirmed), then recorded."""
    _own(dossier, applicant)
    if dossier.status in TERMINAL:
        raise _refuse("wrong_status", "Hồ sơ đã kết thúc.", "The dossier is closed.")
    quote = delivery_quote_for(dossier=dossier, to=to, kind="result")
    party = party_from(to)
    return _choose(dossier=dossier, applicant=applicant, party=party, fee=quote.fee, now=now or timezone.now())


@audited("dossier.choose_post", target="dossier", fields=("result_by_post", "delivery_fee"))
def _choose(*, dossier: Dossier, applicant: Any, party: postal.Party, fee: int, now: dt.datetime) -> Dossier:
    locked = _lock(dossier)
    if locked.status in TERMINAL:
        raise _refuse("wrong_status", "Hồ sơ đã kết thúc.", "The dossier is closed.")
    locked.result_by_post = True
    locked.delivery_to = {
        "name": party.name,
        "phone": party.phone,
        "address": party.address,
        "ward_code": party.ward_code,
    }
    locked.delivery_fee = fee
    locked.save(update_fields=["result_by_post", "delivery_to", "delivery_fee", "updated_at"])
    _note(
        locked,
        now=now,
        actor=_label(applicant),
        note=f"Người nộp chọn nhận kết quả qua bưu chính (cước {fee:,} đồng).".replace(",", "."),
    )
    return locked


def dossier_send_by_post(
    *, dossier: Dossier, applicant: Any, sender: dict[str, Any], now: dt.datetime | None = None
) -> Any:
    """The applicant sends the paper dossier by post: a pickup order (the postman collects it at
    ``sender``) and the submission channel becomes the postal service (3). Only before receipt."""
    _own(dossier, applicant)
    if dossier.status not in {Status.NEW, Status.PAYMENT_REQUESTED} or dossier.received_at is not None:
        raise _refuse(
            "wrong_status",
            "Chỉ gửi hồ sơ giấy qua bưu chính trước khi hồ sơ được tiếp nhận.",
            "The paper dossier can be sent by post only before it is received.",
        )
    order = postal_read.delivery_order_live(dossier_id=dossier.pk, kind="pickup")
    if order is None:
        order = postal.delivery_order_create(
            dossier=dossier,
            kind="pickup",
            sender=party_from(sender),
            receiver=agency_party(dossier.agency),
            weight_grams=DOSSIER_WEIGHT_GRAMS,
        )
    _by_post(dossier=dossier, applicant=applicant, tracking=order.tracking_number, now=now or timezone.now())
    return order


@audited("dossier.send_by_post", target="dossier", fields=("channel",))
def _by_post(*, dossier: Dossier, applicant: Any, tracking: str, now: dt.datetime) -> Dossier:
    locked = _lock(dossier)
    locked.channel = Channel.POST
    locked.save(update_fields=["channel", "updated_at"])
    _note(
        locked, now=now, actor=_label(applicant), note=f"Hồ sơ giấy được gửi qua bưu chính, số hiệu bưu gửi {tracking}."
    )
    return locked


def dossier_return_by_post(
    *, dossier: Dossier, official: Any, step_id: int, note: str = "", now: dt.datetime | None = None
) -> Dossier:
    """Return the result by handing it to the post: the carriage to the address the applicant
    chose is ordered, then the return step is taken (status 10) naming the tracking number."""
    if not dossier.result_by_post or not dossier.delivery_to:
        return dossier_act(dossier=dossier, official=official, step_id=step_id, action="return", note=note, now=now)
    if dossier.status != Status.FINISHED:
        raise _refuse("wrong_status", "Hồ sơ chưa có kết quả để trả.", "The dossier has no result to return yet.")
    order = postal_read.delivery_order_live(dossier_id=dossier.pk, kind="result")
    if order is None:
        order = postal.delivery_order_create(
            dossier=dossier,
            kind="result",
            sender=agency_party(dossier.agency),
            receiver=party_from(dossier.delivery_to),
            weight_grams=RESULT_WEIGHT_GRAMS,
        )
    text = f"Kết quả được chuyển qua bưu chính, số hiệu bưu gửi {order.tracking_number}." + (f" {note}" if note else "")
    return dossier_act(dossier=dossier, official=official, step_id=step_id, action="return", note=text[:4000], now=now)


def dossier_decide(
    *, dossier: Dossier, official: Any, step_id: int, action: str, note: str = "", now: dt.datetime | None = None
) -> Dossier:
    """An official's decision on a step, as the pages and the API take it: returning the result
    of a dossier whose applicant chose the post goes through the post."""
    if action == "return" and dossier.result_by_post:
        return dossier_return_by_post(dossier=dossier, official=official, step_id=step_id, note=note, now=now)
    return dossier_act(dossier=dossier, official=official, step_id=step_id, action=action, note=note, now=now)


def _note(locked: Dossier, *, now: dt.datetime, actor: str, note: str) -> None:
    """A line on the timeline that does not change the status."""
    _event(locked, to=locked.status, now=now, actor=actor, note=note)


def dossier_post_tracking(*, dossier_id: int, at: dt.datetime, note: str) -> bool:
    """Show a carriage's tracking event on the dossier's timeline (once: a redelivered event
    finds its line). Returns whether a line was written."""
    note = note[:2000]
    if DossierEvent.objects.filter(dossier_id=dossier_id, at=at, actor_label="Bưu chính", note=note).exists():
        return False
    status = Dossier.objects.values_list("status", flat=True).get(pk=dossier_id)
    DossierEvent.objects.create(
        dossier_id=dossier_id,
        at=at,
        status_from=status,
        status_to=status,
        actor_label="Bưu chính",
        note=note,
    )
    return True
