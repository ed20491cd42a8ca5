"""Paying over HTTP against the gateway simulator (``hcmgov sim pay``): the platform runs as a live
server receiving the simulator's IPNs; the test plays the applicant's browser."""

from __future__ import annotations

import json
import time
import urllib.request
from urllib.parse import urlsplit

import pytest
from django.db import connection

from hcmgov.payments import reconciliation, services
from hcmgov.payments.models import GatewayCallback, GatewayTransaction, OrderState, PaymentOrder, Receipt, Refund
from hcmgov.payments.tests.conftest import browser_pay
from hcmgov.simulators import running
from hcmgov.simulators.pay import HASH_SECRET, TMN_CODE

pytestmark = pytest.mark.django_db(transaction=True)


def _sim(base: str, path: str, body: dict | None = None, method: str = "POST") -> dict:
    data = json.dumps(body or {}).encode()
    request = urllib.request.Request(base + path, data=data if method != "GET" else None, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        raw = response.read()
    return json.loads(raw) if raw and raw[:1] in b"{[" else {}


@pytest.fixture
def gateway(live_server, monkeypatch, city):
    """The simulator, sending its IPNs to the live platform; the platform's settings pointing at it."""
    with running("pay", ipn_url=f"{live_server.url}/api/v1/payments/vnpay/ipn") as base:
        monkeypatch.setenv("HCMGOV_VNPAY_PAY_URL", f"{base}/paymentv2/vpcpay.html")
        monkeypatch.setenv("HCMGOV_VNPAY_API_URL", f"{base}/merchant_webapi/api/transaction")
        monkeypatch.setenv("HCMGOV_VNPAY_STATEMENT_URL", f"{base}/_sim/statement?date={{date}}")
        monkeypatch.setenv("HCMGOV_VNPAY_TMN_CODE", TMN_CODE)
        monkeypatch.setenv("HCMGOV_VNPAY_HASH_SECRET", HASH_SECRET)
        yield base


@pytest.fixture
def start(fee_dossier, citizen):
    dossier, order = fee_dossier

    def _start():
        return services.transaction_start(
            order=order, user=citizen, ip="127.0.0.1", return_url="http://testserver/thanh-toan/vnpay/ket-qua/"
        )

    return dossier, order, _start


def _return(client, location: str):
    """The applicant's browser arriving back on the platform's return page."""
    parts = urlsplit(location)
    return client.get(f"{parts.path}?{parts.query}")


def test_success_ipn_before_return(gateway, start, client):
    _, order, begin = start
    started = begin()
    location = browser_pay(started.redirect_url, "pay")
    order.refresh_from_db()
    assert order.state == OrderState.PAID  # the IPN came first and confirmed it
    txn = GatewayTransaction.objects.get(pk=started.transaction.pk)
    assert (txn.state, txn.settled_via) == ("succeeded", "ipn")
    sent = _sim(gateway, "/_sim/ipn", method="GET")["sent"]
    assert [ipn["answer"]["RspCode"] for ipn in sent] == ["00"]
    page = _return(client, location)
    assert page.status_code == 200
    assert 'data-state="paid"' in page.content.decode()
    assert GatewayCallback.objects.filter(kind="return", answer="02").count() == 1  # already confirmed
    assert Receipt.objects.filter(order=order).count() == 1


@pytest.mark.parametrize(("action", "code"), [("fail", "51"), ("cancel", "24")])
def test_failure_and_cancel_leave_the_order_due(gateway, start, client, action, code):
    _, order, begin = start
    location = browser_pay(begin().redirect_url, action)
    page = _return(client, location)
    assert 'data-state="failed"' in page.content.decode()
    order.refresh_from_db()
    assert order.state == OrderState.DUE
    assert GatewayTransaction.objects.get(order=order).response_code == code
    # the applicant can try again with a new transaction and pay
    browser_pay(begin().redirect_url, "pay")
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    assert GatewayTransaction.objects.filter(order=order).count() == 2


@pytest.mark.parametrize(
    "concurrent", [False, pytest.param(True, marks=pytest.mark.postgres)]
)  # SQLite's in-memory test database refuses a concurrent writer instead of waiting for it
def test_duplicate_ipn_pays_once(gateway, start, concurrent):
    if concurrent and connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    _, order, begin = start
    _sim(gateway, "/_sim/faults", {"ipn": "twice", "concurrent": concurrent})
    browser_pay(begin().redirect_url, "pay")
    sent = _sim(gateway, "/_sim/ipn", method="GET")["sent"]
    assert sorted(ipn["answer"]["RspCode"] for ipn in sent) == ["00", "02"]
    assert Receipt.objects.filter(order=order).count() == 1
    assert not Refund.objects.exists()


def test_ipn_late_the_return_confirms_and_the_ipn_finds_it_confirmed(gateway, start, client):
    _, order, begin = start
    _sim(gateway, "/_sim/faults", {"ipn": "late"})
    location = browser_pay(begin().redirect_url, "pay")
    page = _return(client, location)
    assert 'data-state="paid"' in page.content.decode()
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    assert order.paid_transaction.settled_via == "return"
    _sim(gateway, "/_sim/release")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _sim(gateway, "/_sim/ipn", method="GET")["sent"]:
        time.sleep(0.05)
    assert [ipn["answer"]["RspCode"] for ipn in _sim(gateway, "/_sim/ipn", method="GET")["sent"]] == ["02"]


def test_ipn_after_the_transaction_expired_still_pays_the_order(gateway, start, client):
    _, order, begin = start
    _sim(gateway, "/_sim/faults", {"ipn": "late"})
    started = begin()
    browser_pay(started.redirect_url, "pay")  # the browser never comes back
    # our side has given up waiting (as the expiry sweep does when the gateway cannot be asked)
    GatewayTransaction.objects.filter(pk=started.transaction.pk).update(state="expired")
    _sim(gateway, "/_sim/release")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _sim(gateway, "/_sim/ipn", method="GET")["sent"]:
        time.sleep(0.05)
    assert [ipn["answer"]["RspCode"] for ipn in _sim(gateway, "/_sim/ipn", method="GET")["sent"]] == ["00"]
    order.refresh_from_db()
    assert order.state == OrderState.PAID  # the money was taken: the order is paid
    assert GatewayTransaction.objects.get(pk=started.transaction.pk).state == "succeeded"


def test_the_expiry_sweep_queries_the_gateway_when_no_ipn_came(gateway, start):
    import datetime as dt

    _, order, begin = start
    _sim(gateway, "/_sim/faults", {"ipn": "none"})
    started = begin()
    browser_pay(started.redirect_url, "pay")
    order.refresh_from_db()
    assert order.state == OrderState.DUE
    closed = services.transactions_expire(now=started.transaction.expires_at + dt.timedelta(minutes=6))
    assert closed == 1
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    assert order.paid_transaction.settled_via == "query"


def test_an_abandoned_payment_expires(gateway, start):
    import datetime as dt

    _, order, begin = start
    started = begin()  # the applicant never pays
    assert services.transactions_expire(now=started.transaction.expires_at + dt.timedelta(minutes=6)) == 1
    assert GatewayTransaction.objects.get(pk=started.transaction.pk).state == "expired"
    assert PaymentOrder.objects.get(pk=order.pk).state == OrderState.DUE


def test_wrong_amount_and_bad_signature_ipns_change_nothing(gateway, start, client):
    _, order, begin = start
    _sim(gateway, "/_sim/faults", {"ipn": "wrong_amount", "times": 1})
    browser_pay(begin().redirect_url, "pay")
    _sim(gateway, "/_sim/faults", {"ipn": "bad_signature", "times": 1})
    browser_pay(begin().redirect_url, "pay")
    answers = [ipn["answer"]["RspCode"] for ipn in _sim(gateway, "/_sim/ipn", method="GET")["sent"]]
    assert answers == ["04", "97"]
    order.refresh_from_db()
    assert order.state == OrderState.DUE  # neither IPN was believed (the returns were not followed)


def test_a_refused_dossier_is_refunded_through_the_gateway(gateway, start):
    _, order, begin = start
    browser_pay(begin().redirect_url, "pay")
    order.refresh_from_db()
    services.order_refund(order=order, reason="Hồ sơ không được tiếp nhận")
    (refund,) = Refund.objects.all()
    services.refund_run(refund_id=refund.pk)
    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.state, order.state) == ("done", OrderState.REFUNDED)
    assert Receipt.objects.get(order=order).cancelled_at is not None
    # a second run (a retry) does nothing more; the gateway has one refund
    services.refund_run(refund_id=refund.pk)
    refunded = [t for t in _sim(gateway, "/_sim/transactions", method="GET")["transactions"] if t.get("Refunds")]
    assert len(refunded) == 1
    assert [r["Amount"] for r in refunded[0]["Refunds"]] == [8000]


def test_reconciliation_finds_a_planted_mismatch(gateway, start):
    import datetime as dt

    _, _, begin = start
    started = begin()
    browser_pay(started.redirect_url, "pay")
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date()
    clean = reconciliation.reconcile_fetch(day=today)
    assert (clean.matched, clean.mismatched) == (1, 0)
    _sim(gateway, f"/_sim/transactions/{started.transaction.ref}", {"amount": 9000}, method="PATCH")
    _sim(gateway, "/_sim/transactions", {"txn_ref": "GHOST1", "amount": 75000})
    run = reconciliation.reconcile_fetch(day=today)
    kinds = sorted((m.kind, m.ref) for m in run.mismatches.all())
    assert kinds == [("amount", started.transaction.ref), ("missing_here", "GHOST1")]
