"""The dossier and its fee: status 6 while a fee is awaited (before processing or at the result),
released when paid; refunds when a paid dossier is refused; the flags the national reporting reads."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from hcmgov.catalog.models import ProcedureVersion
from hcmgov.common.errors import DomainError
from hcmgov.core.services import outbox_deliver
from hcmgov.dossiers import services as dossier_services
from hcmgov.dossiers.models import Dossier, DossierEvent, DossierStep, Status, StepState
from hcmgov.identity.tests.factories import RoleAssignmentFactory
from hcmgov.payments import services
from hcmgov.payments.models import OrderState, PaymentOrder, Refund
from hcmgov.payments.tests.conftest import result_params

pytestmark = pytest.mark.django_db
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, 0, tzinfo=VN)


def deliver(now: dt.datetime) -> None:
    with time_machine.travel(now, tick=False):
        while outbox_deliver():
            pass


@pytest.fixture
def staff(agency):
    return {
        r: RoleAssignmentFactory(agency=agency, role=r).user
        for r in ("receiver", "specialist", "head", "leader", "clerk")
    }


def act(dossier, official, action, now, note=""):
    step = DossierStep.objects.get(dossier=dossier, state=StepState.OPEN)
    return dossier_services.dossier_act(
        dossier=dossier, official=official, step_id=step.pk, action=action, note=note, now=now
    )


def pay_online(order, citizen, now):
    txn = services.transaction_start(
        order=order, user=citizen, ip="127.0.0.1", return_url="http://x/r", now=now
    ).transaction
    with time_machine.travel(now, tick=False):
        assert services.callback_handle(kind="ipn", params=result_params(txn)).code == "00"


def test_a_fee_due_before_processing_holds_the_dossier_until_paid(submit, staff, citizen, gateway_account):
    with time_machine.travel(at(2, 8), tick=False):
        dossier, _ = submit()
    deliver(at(2, 8))
    dossier.refresh_from_db()
    assert (dossier.status, dossier.fee_required) == (Status.PAYMENT_REQUESTED, True)
    assert DossierStep.objects.get(dossier=dossier, state=StepState.OPEN).waiting
    with pytest.raises(DomainError) as info:
        act(dossier, staff["receiver"], "receive", at(2, 9))
    assert info.value.code == "awaiting_payment"
    order = PaymentOrder.objects.get(dossier=dossier)
    assert (order.amount, order.stage) == (8000, "submission")

    pay_online(order, citizen, at(4, 10))  # two working days later
    deliver(at(4, 10))
    dossier.refresh_from_db()
    assert dossier.status == Status.NEW
    assert (dossier.fee_paid_online, dossier.fee_paid_at is not None) == (True, True)
    step = DossierStep.objects.get(dossier=dossier, state=StepState.OPEN)
    assert not step.waiting
    dossier = act(dossier, staff["receiver"], "receive", at(4, 11))
    assert dossier.status == Status.RECEIVED
    notes = list(DossierEvent.objects.filter(dossier=dossier).values_list("status_to", flat=True))
    assert notes == [1, 6, 1, 2]


def test_a_fee_due_at_the_result_holds_the_result_until_paid(submit, staff, citizen, receiver, gateway_account):
    with time_machine.travel(at(2, 8), tick=False):
        dossier, _ = submit()
    ProcedureVersion.objects.filter(pk=dossier.procedure_version_id).update(fee_stage="result")
    deliver(at(2, 8))
    dossier.refresh_from_db()
    assert dossier.status == Status.NEW  # nothing to wait for yet
    order = PaymentOrder.objects.get(dossier=dossier)
    assert order.stage == "result"
    for official, action, day in [
        ("receiver", "receive", at(2, 9)),
        ("specialist", "forward", at(2, 10)),
        ("head", "approve", at(2, 11)),
        ("leader", "sign", at(2, 14)),
    ]:
        dossier = act(dossier, staff[official], action, day)
    assert dossier.status == Status.FINISHED
    deliver(at(2, 15))
    dossier.refresh_from_db()
    assert dossier.status == Status.PAYMENT_REQUESTED
    with pytest.raises(DomainError) as info:
        act(dossier, staff["clerk"], "return", at(3, 9))
    assert info.value.code == "awaiting_payment"
    services.order_pay_cash(order=order, official=receiver, now=at(3, 9))
    deliver(at(3, 9))
    dossier.refresh_from_db()
    assert (dossier.status, dossier.fee_paid_online) == (Status.FINISHED, False)
    dossier = act(dossier, staff["clerk"], "return", at(3, 10))
    assert dossier.status == Status.RETURNED


def test_a_paid_dossier_refused_at_the_desk_is_refunded(submit, staff, citizen, gateway_account):
    with time_machine.travel(at(2, 8), tick=False):
        dossier, _ = submit()
    order = services.order_ensure(dossier_id=dossier.pk)
    pay_online(order, citizen, at(2, 8))
    deliver(at(2, 8))
    dossier.refresh_from_db()
    assert dossier.status == Status.NEW  # paid before the request was handled: never held
    dossier_services.dossier_refuse(dossier=dossier, official=staff["receiver"], reason="Sai thủ tục", now=at(2, 9))
    deliver(at(2, 9))
    (refund,) = Refund.objects.filter(transaction__order=order)
    assert (refund.amount, refund.state) == (8000, "requested")  # the worker sends it to the gateway


def test_an_unpaid_dossier_withdrawn_cancels_its_order(submit, citizen, gateway_account):
    with time_machine.travel(at(2, 8), tick=False):
        dossier, _ = submit()
    deliver(at(2, 8))
    dossier_services.dossier_withdraw(
        dossier=Dossier.objects.get(pk=dossier.pk), by=citizen, reason="Nộp nhầm", now=at(2, 9)
    )
    deliver(at(2, 9))
    assert PaymentOrder.objects.get(dossier=dossier).state == OrderState.CANCELLED
    assert not Refund.objects.exists()


def test_a_procedure_without_fees_makes_no_order(submit, gateway_account):
    with time_machine.travel(at(2, 8), tick=False):
        dossier, _ = submit()
    ProcedureVersion.objects.filter(pk=dossier.procedure_version_id).update(fees=[])
    deliver(at(2, 8))
    dossier.refresh_from_db()
    assert dossier.status == Status.NEW
    assert not PaymentOrder.objects.exists()


def test_receipts_are_numbered_per_series_without_gaps(submit, citizen, receiver, gateway_account):
    numbers = []
    for _ in range(3):
        dossier, _ = submit()
        order = services.order_ensure(dossier_id=dossier.pk)
        services.order_pay_cash(order=order, official=receiver)
        order.refresh_from_db()
        numbers.append((order.receipt.series, order.receipt.number))
    assert [n for _, n in numbers] == [1, 2, 3]
    assert len({s for s, _ in numbers}) == 1


def test_a_gateway_that_cannot_be_reached_leaves_the_refund_to_retry(submit, citizen, gateway_account, monkeypatch):
    from hcmgov.payments.adapters.vnpay import GatewayError

    dossier, _ = submit()
    order = services.order_ensure(dossier_id=dossier.pk)
    pay_online(order, citizen, at(2, 8))
    order.refresh_from_db()
    services.order_refund(order=order, reason="Hồ sơ bị từ chối")
    monkeypatch.setenv("HCMGOV_VNPAY_API_URL", "http://127.0.0.1:9/merchant_webapi/api/transaction")  # nothing listens
    monkeypatch.setenv("HCMGOV_VNPAY_TIMEOUT", "1")
    (refund,) = Refund.objects.all()
    with pytest.raises(GatewayError) as info:
        services.refund_run(refund_id=refund.pk)
    assert info.value.retryable
    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.state, refund.attempts, order.state) == ("requested", 1, OrderState.PAID)  # books unchanged


def test_the_ipn_route_answers_in_vnpays_shape_and_never_fails(client, fee_dossier, citizen, gateway_account):
    _, order = fee_dossier
    txn = services.transaction_start(order=order, user=citizen, ip="127.0.0.1", return_url="http://x/r").transaction
    good = result_params(txn)
    assert client.get("/api/v1/payments/vnpay/ipn", good).json() == {"RspCode": "00", "Message": "Confirm Success"}
    assert client.get("/api/v1/payments/vnpay/ipn", good).json()["RspCode"] == "02"
    assert client.get("/api/v1/payments/vnpay/ipn", {**good, "vnp_Amount": "1"}).json()["RspCode"] == "97"
    assert client.get("/api/v1/payments/vnpay/ipn", {**good, "vnp_TxnRef": "NOPE"}).json()["RspCode"] == "97"
    assert client.get("/api/v1/payments/vnpay/ipn", {}).json()["RspCode"] == "97"
    other = result_params(txn)
    other["vnp_TxnRef"] = "UNKNOWN"
    from hcmgov.payments.tests.conftest import gateway_sign

    other["vnp_SecureHash"] = gateway_sign(other)
    assert client.get("/api/v1/payments/vnpay/ipn", other).json()["RspCode"] == "01"


def test_the_national_payment_platforms_bill(client, fee_dossier, citizen, agency):
    from hcmgov.payments.models import Beneficiary

    dossier, order = fee_dossier
    client.force_login(citizen)
    url = f"/api/v1/payments/orders/{order.pk}/national-bill"
    refused = client.get(url)
    assert (refused.status_code, refused.json()["code"]) == (409, "no_beneficiary")
    Beneficiary.objects.create(
        agency=agency,
        account_number="3511.0.1234567",
        account_name="UBND phường thử",
        bank_code="KBNN",
        bank_name="Kho bạc Nhà nước",
        treasury_code="0111",
        treasury_name="Kho bạc Nhà nước khu vực thử",
    )
    bill = client.get(url).json()
    assert (bill["dossier_code"], bill["lookup_code"], bill["total"]) == (dossier.code, dossier.tracking_secret, 8000)
    assert bill["fee_items"] == [
        {"type_code": "1", "type_name": "Lệ phí", "code": "LEPHI", "name": "Lệ phí", "amount": 8000}
    ]
    assert bill["beneficiary"]["account_number"] == "3511.0.1234567"
    assert bill["payer"]["name"] == order.payer_name


def test_no_order_for_a_closed_dossier_or_one_paid_before_the_platform(submit, staff):
    refused, _ = submit()
    dossier_services.dossier_refuse(dossier=refused, official=staff["receiver"], reason="Sai thủ tục")
    assert services.order_ensure(dossier_id=refused.pk) is None
    carried, _ = submit()
    Dossier.objects.filter(pk=carried.pk).update(fee_paid_at=at(2, 8), fee_required=True)
    assert services.order_ensure(dossier_id=carried.pk) is None
    with pytest.raises(DomainError) as info:
        services.order_due(dossier_id=carried.pk)
    assert info.value.code == "no_fee"


def test_the_receipt_pdf_states_the_amount_in_figures_and_words(submit, receiver, gateway_account):
    from pypdf import PdfReader

    from hcmgov.payments.receipts import receipt_pdf

    dossier, _ = submit()
    order = services.order_ensure(dossier_id=dossier.pk)
    services.order_pay_cash(order=order, official=receiver)
    order.refresh_from_db()
    import io

    text = PdfReader(io.BytesIO(receipt_pdf(order.receipt))).pages[0].extract_text()
    assert "BIÊN LAI THU PHÍ, LỆ PHÍ" in text
    assert f"Số: {order.receipt.number:07d}" in text
    assert "8.000" in text
    assert "Tám nghìn đồng" in text
    assert "Tiền mặt tại bộ phận một cửa" in text
