"""A dossier and the post, end to end over HTTP: the applicant chooses the post for the result on
the portal (the postage is shown before confirming), the desk's return hands it to the carrier,
the carrier's tracking reaches the dossier's timeline; a paper dossier collected by a postman."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hcmgov.catalog.models import ProcedureVersion
from hcmgov.core.services import outbox_deliver
from hcmgov.dossiers import services
from hcmgov.dossiers.models import Channel, DossierEvent, DossierStep, Status, StepState
from hcmgov.identity.tests.factories import RoleAssignmentFactory
from hcmgov.postal.models import DeliveryOrder

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def desk_phone(monkeypatch):
    monkeypatch.setenv("HCMGOV_POST_DESK_PHONE", "0283 829 0000".replace(" ", ""))


@pytest.fixture
def staff(agency):
    return {
        r: RoleAssignmentFactory(agency=agency, role=r).user
        for r in ("receiver", "specialist", "head", "leader", "clerk")
    }


def _free(version_id: int) -> None:
    ProcedureVersion.objects.filter(pk=version_id).update(fees=[])  # no fee to wait for here


def _step(dossier: Any) -> int:
    return DossierStep.objects.get(dossier=dossier, state=StepState.OPEN).pk


def _ward(client: Any, code: str) -> str:
    page = client.get(f"/ho-so/{code}/buu-chinh/ket-qua/").content.decode()
    return re.findall(r'<option value="(\d+)"', page)[0]


def test_the_result_by_post_from_the_choice_to_delivery(
    city, tracked_carrier, desk_phone, submit, staff, citizen, client
):
    dossier, _ = submit()
    _free(dossier.procedure_version_id)
    client.force_login(citizen)
    ward = _ward(client, dossier.code)
    address = {"name": "Nguyễn Văn An", "phone": "0901234567", "address": "12 Lê Lợi", "ward_code": ward}
    quoted = client.post(f"/ho-so/{dossier.code}/buu-chinh/ket-qua/", {**address, "step": "quote"})
    assert quoted.status_code == 200
    fee = re.search(r'name="quoted_fee" value="(\d+)"', quoted.content.decode())
    assert fee, "the postage is shown before confirming"
    done = client.post(
        f"/ho-so/{dossier.code}/buu-chinh/ket-qua/", {**address, "step": "confirm", "quoted_fee": fee[1]}
    )
    assert done.status_code == 302
    dossier.refresh_from_db()
    assert (dossier.result_by_post, dossier.delivery_fee) == (True, int(fee[1]))

    for role, action in [("receiver", "receive"), ("specialist", "forward"), ("head", "approve"), ("leader", "sign")]:
        dossier = services.dossier_decide(dossier=dossier, official=staff[role], step_id=_step(dossier), action=action)
    dossier = services.dossier_decide(dossier=dossier, official=staff["clerk"], step_id=_step(dossier), action="return")
    assert dossier.status == Status.RETURNED
    order = DeliveryOrder.objects.get(dossier=dossier, kind="result")
    assert order.receiver_ward_code == ward
    assert order.tracking_number in DossierEvent.objects.filter(dossier=dossier).last().note

    tracked_carrier.advance(order.tracking_number, "delivered")
    while outbox_deliver():
        pass
    order.refresh_from_db()
    assert order.status == "delivered"
    lines = list(DossierEvent.objects.filter(dossier=dossier, actor_label="Bưu chính").values_list("note", flat=True))
    assert any("Đã phát thành công" in line for line in lines), lines
    page = client.get(f"/ho-so/{dossier.code}/").content.decode()
    assert order.tracking_number in page
    # tracking redelivered: no second line
    count = len(lines)
    from hcmgov.core.models import OutboxEvent

    OutboxEvent.objects.filter(topic="postal.tracking").update(delivered_at=None)
    while outbox_deliver():
        pass
    assert DossierEvent.objects.filter(dossier=dossier, actor_label="Bưu chính").count() == count


def test_a_changed_address_shows_the_new_postage_before_confirming(city, carrier, desk_phone, submit, citizen, client):
    dossier, _ = submit()
    client.force_login(citizen)
    ward = _ward(client, dossier.code)
    address = {"name": "An", "phone": "0901234567", "address": "12 Lê Lợi", "ward_code": ward, "step": "confirm"}
    page = client.post(f"/ho-so/{dossier.code}/buu-chinh/ket-qua/", {**address, "quoted_fee": "1"})
    assert page.status_code == 200  # shown again with the real postage, not confirmed
    dossier.refresh_from_db()
    assert not dossier.result_by_post


def test_a_failed_delivery_returned_to_the_sender_shows_on_the_timeline(
    city, tracked_carrier, desk_phone, submit, staff, citizen
):
    dossier, _ = submit()
    _free(dossier.procedure_version_id)
    from hcmgov.core import selectors as core

    ward = core.unit_list(level="commune").exclude(valid_to__isnull=False).first().code
    services.dossier_choose_post(
        dossier=dossier,
        applicant=citizen,
        to={"name": "An", "phone": "0901234567", "address": "1 Đường A", "ward_code": ward},
    )
    dossier.refresh_from_db()
    for role, action in [
        ("receiver", "receive"),
        ("specialist", "forward"),
        ("head", "approve"),
        ("leader", "sign"),
        ("clerk", "return"),
    ]:
        dossier = services.dossier_decide(dossier=dossier, official=staff[role], step_id=_step(dossier), action=action)
    order = DeliveryOrder.objects.get(dossier=dossier, kind="result")
    tracked_carrier.advance(order.tracking_number, "returned")
    while outbox_deliver():
        pass
    notes = " ".join(
        DossierEvent.objects.filter(dossier=dossier, actor_label="Bưu chính").values_list("note", flat=True)
    )
    assert "Phát không thành công" in notes
    assert "Đã chuyển hoàn" in notes


def test_a_paper_dossier_collected_by_a_postman(city, carrier, desk_phone, submit, citizen):
    dossier, _ = submit()
    from hcmgov.core import selectors as core

    ward = core.unit_list(level="commune").exclude(valid_to__isnull=False).first().code
    order = services.dossier_send_by_post(
        dossier=dossier,
        applicant=citizen,
        sender={"name": "An", "phone": "0901234567", "address": "1 Đường A", "ward_code": ward},
    )
    dossier.refresh_from_db()
    assert (order.kind, dossier.channel) == ("pickup", Channel.POST)
    assert order.receiver_ward_code == dossier.agency.unit.code
    # asked again (a retry): the same carriage
    again = services.dossier_send_by_post(
        dossier=dossier,
        applicant=citizen,
        sender={"name": "An", "phone": "0901234567", "address": "1 Đường A", "ward_code": ward},
    )
    assert again.pk == order.pk
    assert len(carrier.orders()) == 1


def test_the_post_needs_the_desk_phone(city, carrier, submit, citizen, monkeypatch):
    monkeypatch.setenv("HCMGOV_POST_DESK_PHONE", "")
    dossier, _ = submit()
    with pytest.raises(Exception, match="post_not_configured"):
        services.dossier_choose_post(
            dossier=dossier,
            applicant=citizen,
            to={"name": "An", "phone": "0901234567", "address": "1", "ward_code": "26734"},
        )
