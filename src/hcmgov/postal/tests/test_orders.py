"""Quotes, delivery orders and their cancellation, against the carrier simulator over HTTP."""

from __future__ import annotations

import json
import urllib.request

import pytest

from hcmgov.audit.models import AuditEvent
from hcmgov.common.errors import DomainError
from hcmgov.core.models import OutboxEvent, UnitLevel, UnitType
from hcmgov.core.tests.factories import AdminUnitFactory
from hcmgov.postal import selectors, services
from hcmgov.postal.adapters.vnpost import Address, PostClient
from hcmgov.postal.models import DeliveryOrder, Status
from hcmgov.postal.services import Party, PostalError
from hcmgov.simulators.post import TOKEN

pytestmark = pytest.mark.django_db


def _create(dossier, parties, kind="pickup", **overrides):
    return services.delivery_order_create(dossier=dossier, kind=kind, **{"weight_grams": 300, **parties, **overrides})


def test_a_quote_within_the_city_and_to_another_province(carrier, wards):
    assert services.delivery_quote(from_unit_code=wards[0], to_unit_code=wards[1], weight_grams=300) == services.Quote(
        fee=20_000, days=1
    )
    province = AdminUnitFactory(code="01", type=UnitType.PROVINCE, level=UnitLevel.CITY)
    far = AdminUnitFactory(parent=province)
    quote = services.delivery_quote(from_unit_code=wards[0], to_unit_code=far.code, weight_grams=2_600)
    assert quote == services.Quote(fee=48_000 + 2 * 6_000, days=3)


def test_a_ward_no_longer_in_force_or_unknown_is_a_field_error(carrier, city, wards):
    with pytest.raises(DomainError) as info:
        services.delivery_quote(from_unit_code="26734", to_unit_code="00000", weight_grams=100)
    assert info.value.status == 422
    assert {(e.field, e.code) for e in info.value.errors} == {
        ("from_unit", "unknown_unit"),
        ("to_unit", "unknown_unit"),
    }
    # 26734 was a ward of the 2021 structure; 26737 is one of 2025
    assert services.delivery_quote(from_unit_code="26737", to_unit_code=wards[0], weight_grams=100).fee == 16_000


def test_an_order_is_made_once_with_the_carriers_number_fee_audit_and_event(carrier, dossier, parties):
    order = _create(dossier, parties, note="Gọi trước khi đến")
    assert order.code == f"{dossier.code}-BC1"
    assert order.status == Status.CREATED
    assert (order.fee, order.expected_days) == (20_000, 1)
    assert order.sender_phone == "0901234567"
    [shipment] = carrier.orders()
    assert shipment["order_code"] == order.tracking_number
    assert shipment["client_order_code"] == order.code
    assert shipment["to_ward_code"] == parties["receiver"].ward_code
    assert AuditEvent.objects.filter(action="postal.order_create", object_id=str(order.pk)).count() == 1
    [event] = OutboxEvent.objects.filter(topic="postal.order_created")
    assert event.payload == {"dossier_id": dossier.pk, "order_id": order.pk, "kind": "pickup"}
    assert selectors.delivery_order_live(dossier_id=dossier.pk, kind="pickup") == order


def test_a_second_live_order_of_a_kind_is_refused_before_asking_the_carrier(carrier, dossier, parties):
    _create(dossier, parties)
    with pytest.raises(DomainError) as info:
        _create(dossier, parties)
    assert (info.value.code, info.value.status) == ("delivery_exists", 409)
    assert carrier.call("/_sim/orders", method="GET")["requests"]["shipping-order/create"] == 1
    result = _create(dossier, parties, kind="result")  # the other kind is another carriage
    assert result.code == f"{dossier.code}-BC2"


def test_a_retry_after_a_lost_answer_makes_one_shipment(carrier, dossier, parties, monkeypatch):
    carrier.fault(delay=1.5)
    monkeypatch.setenv("HCMGOV_POST_TIMEOUT", "0.3")
    with pytest.raises(PostalError) as info:
        _create(dossier, parties)
    assert info.value.retryable
    assert info.value.status == 503
    assert not DeliveryOrder.objects.exists()
    monkeypatch.setenv("HCMGOV_POST_TIMEOUT", "5")
    order = _create(dossier, parties)
    [shipment] = carrier.orders()  # the carrier gave back the order made by the lost call
    assert shipment["order_code"] == order.tracking_number
    assert DeliveryOrder.objects.count() == 1


def test_a_carrier_503_is_retryable_and_writes_nothing(carrier, dossier, parties):
    carrier.fault(status=503, times=2)
    for _ in range(2):
        with pytest.raises(PostalError) as info:
            _create(dossier, parties)
        assert (info.value.code, info.value.status, info.value.retryable) == ("postal_unavailable", 503, True)
        assert "thử lại" in info.value.message.vi
    assert not DeliveryOrder.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="postal.").exists()
    assert not OutboxEvent.objects.filter(topic__startswith="postal.").exists()
    assert carrier.orders() == []
    assert _create(dossier, parties).status == Status.CREATED


def test_invalid_parties_are_field_errors_and_the_carrier_is_not_asked(carrier, dossier, parties):
    sender = Party("", "12345", "12 Lê Lợi", "00000")
    with pytest.raises(DomainError) as info:
        _create(dossier, parties, sender=sender, weight_grams=0, kind="parcel")
    assert info.value.status == 422
    assert {e.field for e in info.value.errors} == {
        "kind",
        "sender.name",
        "sender.phone",
        "sender.ward_code",
        "weight_grams",
    }
    assert "shipping-order/create" not in carrier.call("/_sim/orders", method="GET")["requests"]


def test_without_a_carrier_url_the_service_is_off(dossier, parties, monkeypatch):
    monkeypatch.setenv("HCMGOV_POST_URL", "")
    with pytest.raises(PostalError) as info:
        _create(dossier, parties)
    assert (info.value.code, info.value.status, info.value.retryable) == ("postal_not_configured", 503, False)
    assert info.value.message.vi == "Dịch vụ bưu chính chưa được cấu hình."


def test_cancel_before_pickup_and_again(carrier, dossier, parties):
    order = _create(dossier, parties)
    cancelled = services.delivery_order_cancel(order=order, reason="Tự nộp tại bộ phận một cửa")
    assert cancelled.status == Status.CANCELLED
    assert carrier.orders()[0]["status"] == "cancel"
    assert services.delivery_order_cancel(order=cancelled).status == Status.CANCELLED
    assert OutboxEvent.objects.filter(topic="postal.order_cancelled").count() == 1
    assert _create(dossier, parties).code == f"{dossier.code}-BC2"  # a new order may follow a cancelled one


def test_the_carrier_refuses_to_cancel_what_it_picked_up(carrier, dossier, parties):
    order = _create(dossier, parties)
    carrier.advance(order.tracking_number)  # its webhooks reach nobody: our order still says "created"
    with pytest.raises(PostalError) as info:
        services.delivery_order_cancel(order=order)
    assert (info.value.code, info.value.status, info.value.retryable) == ("postal_refused", 502, False)
    order.refresh_from_db()
    assert order.status == Status.CREATED


def test_a_code_whose_shipment_was_cancelled_before_being_stored_is_kept_and_skipped(carrier, dossier, parties):
    """A shipment made under our next code and cancelled at the carrier (a lost race) is recorded
    as the cancelled order it is; the new order takes the following number."""
    body = {
        "client_order_code": f"{dossier.code}-BC1",
        "from_name": "A",
        "from_phone": "0901234567",
        "from_address": "1",
        "from_ward_code": parties["sender"].ward_code,
        "from_province_code": "79",
        "to_name": "B",
        "to_phone": "0901234568",
        "to_address": "2",
        "to_ward_code": parties["receiver"].ward_code,
        "to_province_code": "79",
        "weight": 100,
    }
    made = _api(carrier.url, "shipping-order/create", body)["data"]
    _api(carrier.url, "switch-status/cancel", {"order_codes": [made["order_code"]]})
    order = _create(dossier, parties)
    assert order.code == f"{dossier.code}-BC2"
    first = selectors.delivery_order_get(code=f"{dossier.code}-BC1")
    assert (first.status, first.tracking_number) == (Status.CANCELLED, made["order_code"])


def _api(base: str, name: str, body: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 - loopback simulator
        f"{base}/shiip/public-api/v2/{name}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Token": TOKEN},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def test_the_quote_route_answers_json_or_problems(client, carrier, wards, monkeypatch):
    url = "/api/v1/postal/quote"
    answer = client.get(url, {"from_unit": wards[0], "to_unit": wards[1], "weight": 300})
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"fee": 20_000, "days": 1, "currency": "VND"}
    unknown = client.get(url, {"from_unit": "00000", "to_unit": wards[1], "weight": 300})
    assert unknown.status_code == 422
    assert unknown["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in unknown.json()["errors"]] == ["from_unit"]
    monkeypatch.setenv("HCMGOV_POST_URL", "")
    off = client.get(url, {"from_unit": wards[0], "to_unit": wards[1], "weight": 300}, HTTP_ACCEPT_LANGUAGE="en")
    assert off.status_code == 503
    assert off.json()["code"] == "postal_not_configured"


def test_a_shipment_that_lost_a_race_is_withdrawn_and_a_twins_is_kept(carrier, dossier, parties):
    """The store step of a create that raced another: a shipment under a new code that another live
    order of the kind beat is cancelled at the carrier; one a concurrent twin stored is left alone."""
    first = _create(dossier, parties)
    client = PostClient.from_settings()
    ends = [Address("A", "0901234567", "1", p.ward_code, "79") for p in (parties["sender"], parties["receiver"])]
    code = f"{dossier.code}-BC2"
    shipment = client.create(
        client_order_code=code, sender=ends[0], receiver=ends[1], weight_grams=300, content="", note=""
    )
    values = {"dossier": dossier, "kind": "pickup", "code": code, "shipment": shipment, "sender": ends[0]}
    values.update(receiver=ends[1], weight=300, note="")
    with pytest.raises(DomainError) as info:
        services._store_or_withdraw(client, values)
    assert info.value.code == "delivery_exists"
    assert client.detail(tracking_number=shipment.tracking_number).carrier_status == "cancel"
    twin = client.detail(tracking_number=first.tracking_number)
    values.update(code=first.code, shipment=twin)
    with pytest.raises(DomainError):
        services._store_or_withdraw(client, values)
    assert client.detail(tracking_number=first.tracking_number).carrier_status == "ready_to_pick"
    assert list(DeliveryOrder.objects.values_list("code", flat=True)) == [first.code]
