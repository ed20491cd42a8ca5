"""Whatever the number and order of IPNs, returns, queries and cash, a dossier is paid once."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hcmgov.common.errors import DomainError
from hcmgov.payments import services
from hcmgov.payments.adapters import vnpay
from hcmgov.payments.models import GatewayTransaction, OrderState, PaymentOrder, Receipt, Refund
from hcmgov.payments.tests.conftest import result_params

pytestmark = pytest.mark.django_db

# one step of a sequence: (what arrives, which transaction of the order, its result)
EVENT = st.tuples(
    st.sampled_from(["ipn", "return", "query", "cash", "bad_signature", "wrong_amount"]),
    st.integers(min_value=0, max_value=2),
    st.sampled_from(["00", "00", "24", "51"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(EVENT, min_size=1, max_size=12))
def test_any_order_and_repetition_of_callbacks_never_double_pays(events, submit, citizen, receiver, gateway_account):
    dossier, _ = submit()
    order = services.order_ensure(dossier_id=dossier.pk)
    now = dt.datetime.now(dt.UTC)
    txns = [
        services.transaction_start(
            order=order, user=citizen, ip="127.0.0.1", return_url="http://x/r", now=now
        ).transaction
        for _ in range(3)
    ]
    for kind, which, code in events:
        txn = txns[which]
        if kind == "cash":
            order.refresh_from_db()
            if order.state == OrderState.DUE:
                services.order_pay_cash(order=order, official=receiver)
            else:  # already paid: refused, nothing written
                with pytest.raises(DomainError, match="already_paid"):
                    services.order_pay_cash(order=order, official=receiver)
            continue
        if kind == "query":  # the expiry sweep learning the result from the gateway
            result = vnpay.parse_result(result_params(txn, code=code, txn_no=f"Q{txn.pk}"))
            services._expire_one(txn_id=txn.pk, known=vnpay.QueryResult(found=True, result=result), now=now)
            continue
        params = result_params(txn, code=code, txn_no=f"N{txn.pk}")
        if kind == "bad_signature":
            params = result_params(txn, code=code, secret="not-the-secret")
        elif kind == "wrong_amount":
            params = result_params(txn, code=code, amount=txn.amount + 1000)
        outcome = services.callback_handle(kind="ipn" if kind != "return" else "return", params=params)
        assert outcome.code in {"00", "02", "04", "97"}
    order.refresh_from_db()
    settled = GatewayTransaction.objects.filter(order=order, state="succeeded")
    paying = settled.filter(overpaid=False)
    receipts = Receipt.objects.filter(order=order).count()
    if order.state == OrderState.PAID:
        assert receipts == 1
        assert paying.count() == (0 if order.method == "cash" else 1)
        if order.paid_transaction_id:
            assert paying.get().pk == order.paid_transaction_id
    else:
        assert order.state == OrderState.DUE
        assert receipts == 0
        assert not settled.exists()
    # every confirmed payment beyond the one that paid is given back, once
    for txn in settled.filter(overpaid=True):
        assert Refund.objects.filter(transaction=txn).count() == 1
    assert Refund.objects.filter(transaction__order=order).count() == settled.filter(overpaid=True).count()
    assert PaymentOrder.objects.filter(dossier=dossier).count() == 1
