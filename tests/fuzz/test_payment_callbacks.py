"""Fuzzing the gateway's callbacks over HTTP: the IPN (``/api/v1/payments/vnpay/ipn``, answered in
VNPay's ``{"RspCode", "Message"}``) and the browser's return (``/thanh-toan/vnpay/ket-qua/``, a
page). Whatever the query string — fields missing, of the wrong type, huge, Unicode, repeated, a
signature that is wrong or right (made with the simulator's test secret) — the answer is below 500
with one of the gateway's documented codes (DOMAIN.md: 00, 01, 02, 04, 97, 99), and the payment's
state changes only for a valid signature over the right reference and amount; a replay answers 02
and changes nothing.

The order and repetition of well-formed callbacks, cash and queries at the service level is
``hcmgov/payments/tests/test_exactly_once.py``; this is the HTTP surface and malformed input."""

# the fixtures are imported by name from the payments tests and received as arguments (F811)
# ruff: noqa: F811

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fuzz._strategies import wire_text

from hcmgov.payments import services
from hcmgov.payments.models import GatewayTransaction, PaymentOrder, Receipt
from hcmgov.payments.tests.conftest import (  # noqa: F401 - fixtures, used by name
    fee_dossier,
    gateway_account,
    gateway_sign,
    result_params,
)
from hcmgov.simulators.pay import HASH_SECRET, TMN_CODE

pytestmark = pytest.mark.django_db

IPN = "/api/v1/payments/vnpay/ipn"
RETURN = "/thanh-toan/vnpay/ket-qua/"
CODES = {"00", "01", "02", "04", "97", "99"}
FUZZ = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FIELDS = ["vnp_Amount", "vnp_BankCode", "vnp_BankTranNo", "vnp_CardType", "vnp_OrderInfo", "vnp_PayDate",
          "vnp_ResponseCode", "vnp_TmnCode", "vnp_TransactionNo", "vnp_TransactionStatus", "vnp_TxnRef"]  # fmt: skip
AMOUNTS = st.one_of(
    st.integers(-(10**25), 10**25).map(str),
    st.sampled_from(["", "0", "00", "800000", "800001", "８００", "8e5", " 800000", "800000.00", "-800000", "1" * 400]),
    wire_text,
)


@pytest.fixture
def txn(gateway_account, fee_dossier, citizen) -> GatewayTransaction:
    """An open gateway transaction for a dossier's 8,000 đồng fee."""
    import datetime as dt

    _, order = fee_dossier
    return services.transaction_start(
        order=order, user=citizen, ip="127.0.0.1", return_url="http://x/r", now=dt.datetime.now(dt.UTC)
    ).transaction


@pytest.fixture
def client(client: Any) -> Any:
    client.raise_request_exception = False  # a 500 is an answer to check, not a crash
    return client


def state(txn: GatewayTransaction) -> tuple[Any, ...]:
    t = GatewayTransaction.objects.get(pk=txn.pk)
    order = PaymentOrder.objects.get(pk=txn.order_id)
    return t.state, t.overpaid, order.state, order.paid_transaction_id, Receipt.objects.filter(order=order).count()


def mutate(params: dict[str, str], data: st.DataObject) -> list[tuple[str, str]]:
    """Fields dropped, changed, added or repeated; the pairs as a query string carries them."""
    params = dict(params)
    for name in data.draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True), label="dropped"):
        params.pop(name, None)
    for name, value in data.draw(st.dictionaries(st.sampled_from(FIELDS) | wire_text, wire_text, max_size=3)).items():
        params[name] = value
    if data.draw(st.booleans(), label="amount changed"):
        params["vnp_Amount"] = data.draw(AMOUNTS, label="amount")
    pairs = list(params.items())
    repeated = data.draw(st.lists(st.sampled_from([*FIELDS, "vnp_SecureHash"]), max_size=2), label="repeated")
    pairs += [(name, data.draw(wire_text, label="repeat")) for name in repeated]
    return pairs


def _ipn(client: Any, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    response = client.get(IPN + "?" + urlencode(pairs))
    assert response.status_code == 200, (response.status_code, response.content[:300])
    answer = json.loads(response.content)
    assert set(answer) == {"RspCode", "Message"}, answer
    assert answer["RspCode"] in CODES, answer
    return answer


def _expect(txn: GatewayTransaction, sent: dict[str, str]) -> set[str]:
    """The codes the gateway's rules allow for what was last sent (repeated keys: the last wins)."""
    from hcmgov.payments.adapters import vnpay

    signed = sent.get("vnp_SecureHash", "").lower() == vnpay.sign(sent, HASH_SECRET)
    if not signed:
        return {"97"}
    result = vnpay.parse_result(sent)
    if result.ref != txn.ref or result.tmn_code != TMN_CODE:
        return {"01"}
    return {"00", "02"} if result.amount == txn.amount else {"04"}


@FUZZ
@given(data=st.data(), resign=st.booleans(), endpoint=st.sampled_from(["ipn", "return"]))
def test_any_callback_is_answered_with_a_gateway_code_and_pays_only_when_valid(client, txn, data, resign, endpoint):
    pairs = mutate(result_params(txn, code=data.draw(st.sampled_from(["00", "24", "51"]))), data)
    if resign:  # a valid signature over whatever was sent: only the reference and amount protect
        last = dict(pairs)
        last.pop("vnp_SecureHash", None)
        last["vnp_SecureHash"] = gateway_sign({k: v for k, v in last.items() if k.startswith("vnp_")})
        pairs = list(last.items())
    sent = {k: v for k, v in dict(pairs).items() if k.startswith("vnp_")}
    before = state(txn)
    if endpoint == "ipn":
        code = _ipn(client, pairs)["RspCode"]
        if any("\x00" in k or "\x00" in v for k, v in pairs):  # refused before any view (common.middleware)
            assert code == "99", (code, sent)
        else:
            assert code in _expect(txn, sent), (code, sent)
    else:
        response = client.get(RETURN + "?" + urlencode(pairs))
        assert response.status_code in (200, 400), (response.status_code, response.content[:300])
        assert response["Content-Type"].startswith("text/html")
        code = "00" if state(txn) != before else "?"
    after = state(txn)
    if after != before:  # settled now: only by a valid signature over this reference and amount
        assert _expect(txn, sent) == {"00", "02"}, sent
        assert before[0] == "pending"


@FUZZ
@given(response_code=st.sampled_from(["00", "24", "51"]), repeats=st.integers(2, 4))
def test_a_replayed_callback_answers_02_and_changes_nothing(client, txn, response_code, repeats):
    params = result_params(txn, code=response_code)
    first = _ipn(client, list(params.items()))["RspCode"]
    settled = state(txn)
    for _ in range(repeats):
        assert _ipn(client, list(params.items()))["RspCode"] == "02"
        assert client.get(RETURN + "?" + urlencode(params)).status_code == 200
        assert state(txn) == settled
    if first == "00":
        assert settled[0] == ("succeeded" if response_code == "00" else "failed")
        assert settled[2] == ("paid" if response_code == "00" else "due")
    else:  # settled by an earlier example of this test (same transaction): still settled
        assert first == "02"


@FUZZ
@given(
    query=st.lists(st.tuples(wire_text, wire_text), max_size=8)
    | st.lists(st.tuples(st.sampled_from(FIELDS), AMOUNTS), max_size=12)
)
def test_any_query_string_is_answered(client, txn, query):
    before = state(txn)
    _ipn(client, query)
    assert client.get(RETURN + "?" + urlencode(query)).status_code in (200, 400)
    assert state(txn) == before
