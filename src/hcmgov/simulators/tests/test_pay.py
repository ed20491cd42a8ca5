"""The VNPay simulator speaks VNPay 2.1.0 over real HTTP: pay page, IPN, return, querydr, refund, statement.

Signatures are checked with this module's own HMAC code (``vnp_hash``, ``pipe_hash``), not the simulator's.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit
from urllib.request import HTTPRedirectHandler, ProxyHandler, Request, build_opener

import pytest

from hcmgov import simulators
from hcmgov.simulators import running
from hcmgov.simulators._pay_protocol import hash_data, secure_hash
from hcmgov.simulators.pay import API_PATH, CHOOSE_PATH, HASH_SECRET, PAY_PATH, TMN_CODE

GMT7 = timezone(timedelta(hours=7))
RETURN_URL = "https://portal.example.vn/thanh-toan/ket-qua?lang=vi"
IPN_KEYS = {
    *("vnp_Amount", "vnp_BankCode", "vnp_BankTranNo", "vnp_CardType", "vnp_OrderInfo", "vnp_PayDate"),
    *("vnp_ResponseCode", "vnp_TmnCode", "vnp_TransactionNo", "vnp_TransactionStatus", "vnp_TxnRef", "vnp_SecureHash"),
}
QUERY = ("RequestId", "Version", "Command", "TmnCode", "TxnRef", "TransactionDate", "CreateDate", "IpAddr", "OrderInfo")
REFUND = (
    *("RequestId", "Version", "Command", "TmnCode", "TransactionType", "TxnRef", "Amount", "TransactionNo"),
    *("TransactionDate", "CreateBy", "CreateDate", "IpAddr", "OrderInfo"),
)
ANSWER = (
    *("ResponseId", "Command", "ResponseCode", "Message", "TmnCode", "TxnRef", "Amount", "BankCode", "PayDate"),
    *("TransactionNo", "TransactionType", "TransactionStatus", "OrderInfo"),
)
QUERY_ANSWER = (*ANSWER, "PromotionCode", "PromotionAmount")


# --- the test's own VNPay signing ----------------------------------------------------------------


def vnp_hash(secret: str, params: dict[str, str]) -> str:
    pairs = sorted((k, v) for k, v in params.items() if k not in ("vnp_SecureHash", "vnp_SecureHashType"))
    data = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)
    return hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()


def pipe_hash(secret: str, values: dict[str, Any], fields: tuple[str, ...]) -> str:
    data = "|".join(str(values.get("vnp_" + name, "")) for name in fields)
    return hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()


def stamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(GMT7)).astimezone(GMT7).strftime("%Y%m%d%H%M%S")


# --- HTTP without following redirects --------------------------------------------------------------


class _Stay(HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


OPENER = build_opener(_Stay, ProxyHandler({}))


def http(
    url: str, *, method: str = "GET", body: Any = None, form: dict[str, str] | None = None
) -> tuple[int, Any, str]:
    data, headers = None, {}
    if body is not None:
        data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    if form is not None:
        data, headers = urlencode(form).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        with OPENER.open(Request(url, data=data, method=method, headers=headers), timeout=10) as response:  # noqa: S310
            return response.status, response.headers, response.read().decode()
    except HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def sim(base: str, path: str, method: str = "GET", body: Any = None) -> Any:
    status, _, text = http(base + path, method=method, body=body)
    assert status < 300, (status, text)
    return json.loads(text)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- a merchant that records its IPNs and answers a chosen RspCode -----------------------------------


class Merchant:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.rsp_code = "00"
        self.url = ""

    @property
    def received(self) -> list[dict[str, str]]:
        return [params for _, params in list(self.calls)]


@pytest.fixture
def merchant() -> Iterator[Merchant]:
    shop = Merchant()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            shop.calls.append((url.path, dict(parse_qsl(url.query, keep_blank_values=True))))
            data = json.dumps({"RspCode": shop.rsp_code, "Message": "Confirm Success"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    shop.url = f"http://127.0.0.1:{server.server_port}/api/v1/payments/vnpay/ipn"
    try:
        yield shop
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def gateway(merchant: Merchant) -> Iterator[str]:
    with running("pay", ipn_url=merchant.url) as base:
        yield base


# --- acting as the merchant's redirect and as the user's browser ------------------------------------


def pay_request(**overrides: str) -> dict[str, str]:
    created = datetime.now(GMT7)
    params = {
        "vnp_Version": "2.1.0",
        "vnp_Command": "pay",
        "vnp_TmnCode": TMN_CODE,
        "vnp_Amount": "15000000",  # 150.000 đ
        "vnp_CreateDate": stamp(created),
        "vnp_CurrCode": "VND",
        "vnp_IpAddr": "203.0.113.7",
        "vnp_Locale": "vn",
        "vnp_OrderInfo": "Le phi ho so HCM-2024-000123",
        "vnp_OrderType": "other",
        "vnp_ReturnUrl": RETURN_URL,
        "vnp_TxnRef": "HCM" + uuid.uuid4().hex[:10],
        "vnp_ExpireDate": stamp(created + timedelta(minutes=15)),
    }
    params.update(overrides)
    return params


def open_page(base: str, params: dict[str, str], secret: str = HASH_SECRET) -> tuple[int, Any, str, str]:
    query = urlencode({**params, "vnp_SecureHash": vnp_hash(secret, params)})
    status, headers, body = http(f"{base}{PAY_PATH}?{query}")
    token = re.search(r'name="token" value="([^"]+)"', body)
    return status, headers, body, token[1] if token else ""


def choose(base: str, token: str, action: str) -> tuple[int, str]:
    status, headers, _ = http(base + CHOOSE_PATH, method="POST", form={"token": token, "action": action})
    return status, headers.get("Location", "")


def returned(location: str) -> dict[str, str]:
    return {k: v for k, v in parse_qsl(urlsplit(location).query) if k.startswith("vnp_")}


def pay(base: str, action: str = "pay", **overrides: str) -> tuple[dict[str, str], dict[str, str]]:
    """The user pays (or not): the request sent and the signed result the browser was redirected with."""
    params = pay_request(**overrides)
    status, _, body, token = open_page(base, params)
    assert status == 200, body
    status, location = choose(base, token, action)
    assert status == 302
    assert location.startswith(RETURN_URL + "&")
    return params, returned(location)


def api(base: str, fields: tuple[str, ...], body: dict[str, Any], answer_fields: tuple[str, ...]) -> dict[str, Any]:
    body.setdefault("vnp_SecureHash", pipe_hash(HASH_SECRET, body, fields))
    status, _, text = http(base + API_PATH, method="POST", body=body)
    assert status == 200
    answer = json.loads(text)
    if answer.get("vnp_SecureHash"):
        assert answer["vnp_SecureHash"] == pipe_hash(HASH_SECRET, answer, answer_fields)
    return answer


def querydr(base: str, txn_ref: str, transaction_date: str, **overrides: Any) -> dict[str, Any]:
    body = {
        **{"vnp_RequestId": uuid.uuid4().hex, "vnp_Version": "2.1.0", "vnp_Command": "querydr"},
        **{"vnp_TmnCode": TMN_CODE, "vnp_TxnRef": txn_ref, "vnp_TransactionDate": transaction_date},
        **{"vnp_CreateDate": stamp(), "vnp_IpAddr": "10.0.0.1", "vnp_OrderInfo": f"Truy van {txn_ref}"},
        **overrides,
    }
    return api(base, QUERY, body, QUERY_ANSWER)


def refund(base: str, paid: dict[str, str], kind: str, amount: int, **overrides: Any) -> dict[str, Any]:
    body = {
        **{"vnp_RequestId": uuid.uuid4().hex, "vnp_Version": "2.1.0", "vnp_Command": "refund"},
        **{"vnp_TmnCode": TMN_CODE, "vnp_TransactionType": kind, "vnp_TxnRef": paid["vnp_TxnRef"]},
        **{"vnp_Amount": str(amount * 100), "vnp_TransactionNo": paid["vnp_TransactionNo"]},
        **{"vnp_TransactionDate": paid["vnp_CreateDate"], "vnp_CreateBy": "ketoan01", "vnp_CreateDate": stamp()},
        **{"vnp_IpAddr": "10.0.0.1", "vnp_OrderInfo": f"Hoan tien {paid['vnp_TxnRef']}"},
        **overrides,
    }
    return api(base, REFUND, body, ANSWER)


def paid_one(base: str) -> dict[str, str]:
    """A successful payment: its TxnRef, CreateDate (the querydr/refund TransactionDate) and TransactionNo."""
    params, result = pay(base)
    return {**params, "vnp_TransactionNo": result["vnp_TransactionNo"]}


# --- the signature rule ----------------------------------------------------------------------------


def test_the_signature_rule_worked_by_hand():
    params = {
        "vnp_TxnRef": "HCM-1",
        "vnp_Amount": "1806000",
        "vnp_OrderInfo": "Thanh toan don hang :5",
        "vnp_ReturnUrl": "https://domainmerchant.vn/ReturnUrl",
        "vnp_SecureHashType": "HmacSHA512",
        "vnp_SecureHash": "not part of the signed data",
    }
    # 1. drop vnp_SecureHash and vnp_SecureHashType; 2. sort the rest by key;
    # 3. form-encode each key and value (space "+", ":" "%3A", "/" "%2F") and join key=value with "&"
    data = (
        "vnp_Amount=1806000"
        "&vnp_OrderInfo=Thanh+toan+don+hang+%3A5"
        "&vnp_ReturnUrl=https%3A%2F%2Fdomainmerchant.vn%2FReturnUrl"
        "&vnp_TxnRef=HCM-1"
    )
    assert hash_data(params) == data
    # 4. HMAC-SHA512 keyed with the hash secret, as lowercase hex
    expected = hmac.new(b"HCMGOVSIMHASHSECRET0123456789ABC", data.encode("ascii"), hashlib.sha512).hexdigest()
    assert len(expected) == 128
    assert secure_hash(HASH_SECRET, params) == expected == vnp_hash(HASH_SECRET, params)


def test_the_registry_serves_pay_and_the_root_describes_the_account(gateway, merchant):
    assert "pay" in simulators.names()
    root = sim(gateway, "/")
    assert root["account"] == {"vnp_TmnCode": TMN_CODE, "vnp_HashSecret": HASH_SECRET}
    assert root["ipn_url"] == merchant.url
    assert TMN_CODE == "HCMGOV01"


# --- pay page, IPN, return ---------------------------------------------------------------------------


def test_a_paid_order_sends_a_signed_ipn_then_redirects_with_the_same_signed_result(gateway, merchant):
    params = pay_request()
    status, _, page, token = open_page(gateway, params)
    assert status == 200
    assert page.index('lang="vi"') < page.index('lang="en"')  # Vietnamese first, then English
    assert params["vnp_TxnRef"] in page
    assert "150.000" in page
    assert "Le phi ho so HCM-2024-000123" in page

    status, location = choose(gateway, token, "pay")
    assert status == 302
    [ipn] = merchant.received  # sent and answered before the browser is redirected
    assert set(ipn) == IPN_KEYS
    assert ipn["vnp_SecureHash"] == vnp_hash(HASH_SECRET, ipn)
    assert location.startswith(RETURN_URL + "&")
    result = returned(location)
    assert result == ipn
    assert (result["vnp_ResponseCode"], result["vnp_TransactionStatus"]) == ("00", "00")
    assert (result["vnp_Amount"], result["vnp_TxnRef"], result["vnp_TmnCode"]) == (
        "15000000",
        params["vnp_TxnRef"],
        TMN_CODE,
    )
    assert re.fullmatch(r"\d{8}", result["vnp_TransactionNo"])
    assert (result["vnp_BankCode"], result["vnp_CardType"]) == ("NCB", "ATM")
    assert result["vnp_BankTranNo"]
    paid_at = datetime.strptime(result["vnp_PayDate"], "%Y%m%d%H%M%S").replace(tzinfo=GMT7)
    assert abs((paid_at - datetime.now(GMT7)).total_seconds()) < 60

    log = sim(gateway, "/_sim/ipn")
    [sent] = log["sent"]
    assert (sent["RspCode"], sent["answer"]["RspCode"], sent["attempt"], sent["status"]) == ("00", "00", 1, 200)
    [kept] = sim(gateway, "/_sim/transactions")["transactions"]
    assert (kept["TxnRef"], kept["Amount"], kept["TransactionStatus"]) == (params["vnp_TxnRef"], 150000, "00")

    assert choose(gateway, token, "pay")[0] == 400  # a session is used once


@pytest.mark.parametrize(
    ("overrides", "secret", "code"),
    [
        ({}, "not-the-hash-secret", "97"),
        ({"vnp_TmnCode": "UNKNOWN1"}, HASH_SECRET, "02"),
        ({"vnp_Amount": "150000.5"}, HASH_SECRET, "03"),
        ({"vnp_Amount": "15000050"}, HASH_SECRET, "03"),  # not a whole number of đồng
        ({"vnp_Amount": "0"}, HASH_SECRET, "03"),
        ({"vnp_Version": "2.0.1"}, HASH_SECRET, "03"),
        ({"vnp_CurrCode": "USD"}, HASH_SECRET, "03"),
        ({"vnp_ExpireDate": "20200101000000"}, HASH_SECRET, "03"),  # before vnp_CreateDate
        ({"vnp_ReturnUrl": ""}, HASH_SECRET, "03"),
    ],
)
def test_a_bad_request_gets_an_error_page_and_no_redirect(gateway, merchant, overrides, secret, code):
    status, headers, page, token = open_page(gateway, pay_request(**overrides), secret)
    assert status == 400
    assert headers.get("Location") is None
    assert not token
    assert f'data-code="{code}"' in page
    if code == "97":
        assert "Sai chữ ký" in page


def test_a_request_changed_after_signing_is_refused(gateway):
    params = pay_request()
    signature = vnp_hash(HASH_SECRET, params)
    tampered = urlencode({**params, "vnp_Amount": "100", "vnp_SecureHash": signature})
    status, _, page = http(f"{gateway}{PAY_PATH}?{tampered}")
    assert status == 400
    assert "Sai chữ ký" in page


def test_a_txnref_already_paid_is_refused_but_a_failed_one_may_be_retried(gateway):
    first, _ = pay(gateway, "fail")
    _, result = pay(gateway, "pay", vnp_TxnRef=first["vnp_TxnRef"])
    assert result["vnp_ResponseCode"] == "00"
    status, _, page, _ = open_page(gateway, pay_request(vnp_TxnRef=first["vnp_TxnRef"]))
    assert status == 400
    assert 'data-code="01"' in page


@pytest.mark.parametrize(("action", "code"), [("fail", "51"), ("cancel", "24")])
def test_failed_and_cancelled_payments_have_their_codes(gateway, merchant, action, code):
    _, result = pay(gateway, action)
    assert (result["vnp_ResponseCode"], result["vnp_TransactionStatus"]) == (code, "02")
    [ipn] = merchant.received
    assert ipn == result


def test_a_choice_after_the_expiry_date_times_out_with_11(gateway):
    created = datetime.now(GMT7) - timedelta(minutes=30)
    _, result = pay(
        gateway, "pay", vnp_CreateDate=stamp(created), vnp_ExpireDate=stamp(created + timedelta(minutes=15))
    )
    assert (result["vnp_ResponseCode"], result["vnp_TransactionStatus"]) == ("11", "02")


# --- IPN answers, retries and faults --------------------------------------------------------------------


def test_an_ipn_not_answered_00_or_02_is_retried_a_bounded_number_of_times(merchant):
    with running("pay", ipn_url=merchant.url, ipn_retries=2, ipn_retry_interval=0.05) as base:
        merchant.rsp_code = "99"
        pay(base)
        wait_for(lambda: len(sim(base, "/_sim/ipn")["sent"]) == 3)
        time.sleep(0.3)
        sent = sim(base, "/_sim/ipn")["sent"]
        assert [(s["attempt"], s["RspCode"]) for s in sent] == [(1, "99"), (2, "99"), (3, "99")]
        merchant.rsp_code = "02"
        pay(base)
        time.sleep(0.3)
        assert len(sim(base, "/_sim/ipn")["sent"]) == 4  # "already confirmed" ends it


def test_late_ipn_is_held_until_released(gateway, merchant):
    sim(gateway, "/_sim/faults", "POST", {"ipn": "late"})
    _, result = pay(gateway)
    assert merchant.received == []
    assert sim(gateway, "/_sim/ipn")["held"] == 1
    assert sim(gateway, "/_sim/release", "POST", {})["released"] == 1
    assert merchant.received == [result]
    assert sim(gateway, "/_sim/ipn")["held"] == 0


def test_late_ipn_with_a_delay_is_sent_from_a_thread(gateway, merchant):
    sim(gateway, "/_sim/faults", "POST", {"ipn": "late", "delay": 0.5})
    _, result = pay(gateway)
    assert merchant.received == []
    wait_for(lambda: len(merchant.received) == 1)
    assert merchant.received == [result]


@pytest.mark.parametrize("concurrent", [True, False])
def test_twice_sends_the_same_ipn_twice(gateway, merchant, concurrent):
    sim(gateway, "/_sim/faults", "POST", {"ipn": "twice", "concurrent": concurrent})
    _, result = pay(gateway)
    assert merchant.received == [result, result]
    assert len(sim(gateway, "/_sim/ipn")["sent"]) == 2


def test_none_sends_no_ipn_and_the_merchant_must_query(gateway, merchant):
    sim(gateway, "/_sim/faults", "POST", {"ipn": "none", "times": 2})
    first, _, third = (pay(gateway) for _ in range(3))
    assert merchant.received == [third[1]]  # "times": 2 covers the next two payments only
    answer = querydr(gateway, first[0]["vnp_TxnRef"], first[0]["vnp_CreateDate"])
    assert (answer["vnp_ResponseCode"], answer["vnp_TransactionStatus"]) == ("00", "00")


def test_wrong_amount_ipn_is_correctly_signed_with_another_amount(gateway, merchant):
    sim(gateway, "/_sim/faults", "POST", {"ipn": "wrong_amount", "amount": 1000})
    _, result = pay(gateway)
    [ipn] = merchant.received
    assert ipn["vnp_SecureHash"] == vnp_hash(HASH_SECRET, ipn)
    assert (ipn["vnp_Amount"], result["vnp_Amount"]) == ("100000", "15000000")
    assert result["vnp_SecureHash"] == vnp_hash(HASH_SECRET, result)


def test_bad_signature_ipn_does_not_verify_but_the_return_does(gateway, merchant):
    sim(gateway, "/_sim/faults", "POST", {"ipn": "bad_signature"})
    _, result = pay(gateway)
    [ipn] = merchant.received
    assert {k: v for k, v in ipn.items() if k != "vnp_SecureHash"} == {
        k: v for k, v in result.items() if k != "vnp_SecureHash"
    }
    assert ipn["vnp_SecureHash"] != vnp_hash(HASH_SECRET, ipn)
    assert result["vnp_SecureHash"] == vnp_hash(HASH_SECRET, result)


def test_faults_are_validated_listed_and_cleared(gateway):
    for bad in ({"ipn": "sometimes"}, {"ipn": "late", "delay": -1}, {"ipn": "none", "times": 0}, {}):
        assert http(gateway + "/_sim/faults", method="POST", body=bad)[0] == 400
    sim(gateway, "/_sim/faults", "POST", {"ipn": "before_return", "times": 2})
    assert len(sim(gateway, "/_sim/faults")["faults"]) == 2
    sim(gateway, "/_sim/faults", "DELETE")
    assert sim(gateway, "/_sim/faults")["faults"] == []


def test_the_ipn_url_can_be_changed(gateway, merchant):
    other = merchant.url.replace("/api/v1/payments/vnpay/ipn", "/other/ipn?site=hcm")
    assert sim(gateway, "/_sim/config", "POST", {"ipn_url": other})["ipn_url"] == other
    assert http(gateway + "/_sim/config", method="POST", body={"ipn_url": "ftp://x"})[0] == 400
    pay(gateway)
    [(path, params)] = merchant.calls
    assert path == "/other/ipn"
    assert params["site"] == "hcm"


# --- the transaction API ---------------------------------------------------------------------------------


def test_querydr_finds_a_transaction_with_its_status(gateway):
    paid = paid_one(gateway)
    answer = querydr(gateway, paid["vnp_TxnRef"], paid["vnp_CreateDate"])
    assert answer["vnp_SecureHash"]
    assert (answer["vnp_ResponseCode"], answer["vnp_Command"], answer["vnp_TmnCode"]) == ("00", "querydr", TMN_CODE)
    assert (answer["vnp_TransactionType"], answer["vnp_TransactionStatus"]) == ("01", "00")
    assert (answer["vnp_Amount"], answer["vnp_TransactionNo"]) == ("15000000", paid["vnp_TransactionNo"])
    failed, _ = pay(gateway, "fail")
    assert querydr(gateway, failed["vnp_TxnRef"], failed["vnp_CreateDate"])["vnp_TransactionStatus"] == "02"


def test_querydr_answer_codes(gateway):
    paid = paid_one(gateway)
    ref, date = paid["vnp_TxnRef"], paid["vnp_CreateDate"]
    assert querydr(gateway, "NOSUCHREF", date)["vnp_ResponseCode"] == "91"
    assert querydr(gateway, ref, "20200101000000")["vnp_ResponseCode"] == "91"  # not its vnp_CreateDate
    assert querydr(gateway, ref, date, vnp_SecureHash="0" * 128)["vnp_ResponseCode"] == "97"
    assert querydr(gateway, ref, date, vnp_IpAddr="")["vnp_ResponseCode"] == "03"
    assert querydr(gateway, ref, date, vnp_RequestId="not-alphanumeric")["vnp_ResponseCode"] == "03"
    unknown = querydr(gateway, ref, date, vnp_TmnCode="UNKNOWN1")
    assert unknown["vnp_ResponseCode"] == "02"
    assert "vnp_SecureHash" not in unknown
    status, _, text = http(gateway + API_PATH, method="POST", body=["not", "an", "object"])
    assert (status, json.loads(text)["vnp_ResponseCode"]) == (200, "03")


def test_a_request_id_is_used_once_a_day(gateway):
    paid = paid_one(gateway)
    request_id = uuid.uuid4().hex
    first = querydr(gateway, paid["vnp_TxnRef"], paid["vnp_CreateDate"], vnp_RequestId=request_id)
    assert first["vnp_ResponseCode"] == "00"
    again = querydr(gateway, paid["vnp_TxnRef"], paid["vnp_CreateDate"], vnp_RequestId=request_id)
    assert again["vnp_ResponseCode"] == "94"
    assert refund(gateway, paid, "02", 150000, vnp_RequestId=request_id)["vnp_ResponseCode"] == "94"
    assert sim(gateway, "/_sim/transactions")["transactions"][0]["Refunds"] == []


def test_a_full_refund_changes_the_transaction_status(gateway):
    paid = paid_one(gateway)
    answer = refund(gateway, paid, "02", 150000)
    assert answer["vnp_SecureHash"]
    assert (answer["vnp_ResponseCode"], answer["vnp_TransactionType"], answer["vnp_TransactionStatus"]) == (
        "00",
        "02",
        "05",
    )
    assert answer["vnp_Amount"] == "15000000"
    assert re.fullmatch(r"\d{8}", answer["vnp_TransactionNo"])
    assert answer["vnp_TransactionNo"] != paid["vnp_TransactionNo"]
    query = querydr(gateway, paid["vnp_TxnRef"], paid["vnp_CreateDate"])
    assert (query["vnp_TransactionType"], query["vnp_TransactionStatus"]) == ("02", "05")
    assert sim(gateway, "/_sim/refunds/settle", "POST", {"status": "06"})["settled"] == 1
    assert querydr(gateway, paid["vnp_TxnRef"], paid["vnp_CreateDate"])["vnp_TransactionStatus"] == "06"
    assert refund(gateway, paid, "03", 1000)["vnp_ResponseCode"] == "95"  # nothing left to give back


def test_partial_refunds_never_exceed_what_was_paid(gateway):
    paid = paid_one(gateway)
    assert refund(gateway, paid, "03", 200000)["vnp_ResponseCode"] == "95"  # more than was paid
    assert refund(gateway, paid, "03", 50000)["vnp_ResponseCode"] == "00"
    assert refund(gateway, paid, "02", 150000)["vnp_ResponseCode"] == "95"  # full after a partial one
    assert refund(gateway, paid, "03", 100001)["vnp_ResponseCode"] == "95"  # 100.000 đ left
    last = refund(gateway, paid, "03", 100000)
    assert (last["vnp_ResponseCode"], last["vnp_TransactionType"], last["vnp_Amount"]) == ("00", "03", "10000000")
    [kept] = sim(gateway, "/_sim/transactions")["transactions"]
    assert kept["Refunded"] == 150000
    assert [r["Amount"] for r in kept["Refunds"]] == [50000, 100000]


def test_refunds_that_cannot_be_made(gateway):
    paid = paid_one(gateway)
    failed, failed_result = pay(gateway, "fail")
    failed["vnp_TransactionNo"] = failed_result["vnp_TransactionNo"]
    assert refund(gateway, failed, "02", 150000)["vnp_ResponseCode"] == "95"  # nothing was paid
    assert refund(gateway, paid, "03", 1000, vnp_TransactionNo="99999999")["vnp_ResponseCode"] == "91"
    assert refund(gateway, paid, "03", 1000, vnp_Amount="150")["vnp_ResponseCode"] == "03"  # not whole đồng
    assert refund(gateway, paid, "04", 1000)["vnp_ResponseCode"] == "03"
    assert refund(gateway, paid, "03", 1000, vnp_CreateBy="")["vnp_ResponseCode"] == "03"


# --- the daily statement ------------------------------------------------------------------------------------


def test_the_statement_lists_the_days_payments_refunds_and_planted_rows(gateway):
    paid = paid_one(gateway)
    failed, _ = pay(gateway, "fail")
    assert refund(gateway, paid, "03", 40000)["vnp_ResponseCode"] == "00"
    today = stamp()[:8]
    planted = sim(gateway, "/_sim/transactions", "POST", {"txn_ref": "UNKNOWN-HERE", "amount": 75000})
    sim(gateway, "/_sim/transactions", "POST", {"txn_ref": "OTHER-DAY", "amount": 5000, "pay_date": "20240101101010"})
    patched = sim(gateway, f"/_sim/transactions/{paid['vnp_TxnRef']}", "PATCH", {"amount": 149000})
    assert (patched["Amount"], patched["StatementAmount"]) == (150000, 149000)
    assert http(gateway + "/_sim/transactions/NOSUCHREF", method="PATCH", body={"amount": 1})[0] == 404

    status, headers, text = http(f"{gateway}/_sim/statement?date={today}")
    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        *("TmnCode", "TxnRef", "TransactionNo", "TransactionType"),
        *("Amount", "BankCode", "PayDate", "TransactionStatus"),
    ]
    by_ref = {(row[1], row[3]): row for row in rows[1:]}
    assert set(by_ref) == {(paid["vnp_TxnRef"], "01"), (paid["vnp_TxnRef"], "03"), ("UNKNOWN-HERE", "01")}
    payment, partial = by_ref[paid["vnp_TxnRef"], "01"], by_ref[paid["vnp_TxnRef"], "03"]
    assert payment[2:6] + payment[7:] == [paid["vnp_TransactionNo"], "01", "149000", "NCB", "00"]  # patched amount
    assert (partial[4], partial[7]) == ("40000", "05")
    assert by_ref["UNKNOWN-HERE", "01"][:3] == [TMN_CODE, "UNKNOWN-HERE", planted["TransactionNo"]]
    assert all(row[6].startswith(today) for row in rows[1:])

    every = list(csv.reader(io.StringIO(http(f"{gateway}/_sim/statement?date={today}&all=1")[2])))
    assert any(row[1] == failed["vnp_TxnRef"] and row[7] == "02" for row in every)
    other_day = list(csv.reader(io.StringIO(http(f"{gateway}/_sim/statement?date=20240101")[2])))
    assert [row[1] for row in other_day[1:]] == ["OTHER-DAY"]
    assert http(f"{gateway}/_sim/statement?date=2024-01-01")[0] == 400
    assert http(gateway + "/_sim/transactions", method="POST", body={"txn_ref": "X", "amount": -5})[0] == 400


def test_reset_forgets_everything_but_the_config(gateway, merchant):
    pay(gateway)
    sim(gateway, "/_sim/faults", "POST", {"ipn": "late"})
    sim(gateway, "/_sim/transactions", "DELETE")
    assert sim(gateway, "/_sim/transactions")["transactions"] == []
    ipn = sim(gateway, "/_sim/ipn")
    assert (ipn["sent"], ipn["held"], ipn["ipn_url"]) == ([], 0, merchant.url)
    assert sim(gateway, "/_sim/faults")["faults"] == []
