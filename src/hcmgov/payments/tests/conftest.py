"""Fixtures of the payments tests: a dossier with a fee, the gateway's settings pointing at the
simulator's account, and signed gateway results made the way the gateway makes them."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

import pytest

from hcmgov.simulators.pay import HASH_SECRET, TMN_CODE

GMT7 = dt.timezone(dt.timedelta(hours=7))


def gateway_sign(params: dict[str, str], secret: str = HASH_SECRET) -> str:
    """The gateway's signature, written out independently of the adapter: the vnp_ parameters but
    the hash, sorted by key, quote_plus'ed key=value joined by &, HMAC-SHA512 hex."""
    data = "&".join(
        f"{quote_plus(k)}={quote_plus(v)}"
        for k, v in sorted(params.items())
        if k.startswith("vnp_") and k != "vnp_SecureHash"
    )
    return hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()


def result_params(
    txn: Any, *, code: str = "00", amount: int | None = None, txn_no: str = "14000001", secret: str = HASH_SECRET
) -> dict[str, str]:
    """A signed payment result (IPN or return) for transaction ``txn``, as the gateway sends it."""
    status = "00" if code == "00" else "02"
    params = {
        "vnp_Amount": str((txn.amount if amount is None else amount) * 100),
        "vnp_BankCode": "NCB",
        "vnp_BankTranNo": f"VNP{txn_no}",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": f"Thanh toan phi, le phi ho so {txn.order.dossier_code}",
        "vnp_PayDate": dt.datetime.now(GMT7).strftime("%Y%m%d%H%M%S"),
        "vnp_ResponseCode": code,
        "vnp_TmnCode": TMN_CODE,
        "vnp_TransactionNo": txn_no,
        "vnp_TransactionStatus": status,
        "vnp_TxnRef": txn.ref,
    }
    params["vnp_SecureHash"] = gateway_sign(params, secret)
    return params


@pytest.fixture
def gateway_account(monkeypatch):
    """The platform's gateway settings: the simulator's merchant account (no simulator running)."""
    monkeypatch.setenv("HCMGOV_VNPAY_PAY_URL", "http://127.0.0.1:9/paymentv2/vpcpay.html")
    monkeypatch.setenv("HCMGOV_VNPAY_TMN_CODE", TMN_CODE)
    monkeypatch.setenv("HCMGOV_VNPAY_HASH_SECRET", HASH_SECRET)
    monkeypatch.setenv("HCMGOV_VNPAY_API_URL", "")


@pytest.fixture
def fee_dossier(submit):
    """A submitted dossier of a procedure with an 8,000 đồng fee, and its payment order."""
    from hcmgov.payments import services

    dossier, _ = submit()
    order = services.order_ensure(dossier_id=dossier.pk)
    assert order is not None
    return dossier, order


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def browser_pay(pay_url: str, action: str = "pay") -> str:
    """Act as the applicant on the gateway's page: open it, press ``action``; returns where the
    gateway sends the browser back (the return URL with its signed result)."""
    with urllib.request.urlopen(pay_url, timeout=10) as response:  # noqa: S310 - the local simulator
        page = response.read().decode()
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert token, page[:500]
    base = f"{urlsplit(pay_url).scheme}://{urlsplit(pay_url).netloc}"
    opener = urllib.request.build_opener(_NoRedirect)
    body = urlencode({"token": token.group(1), "action": action}).encode()
    request = urllib.request.Request(f"{base}/paymentv2/vpcpay.html/choose", data=body, method="POST")  # noqa: S310
    try:
        opener.open(request, timeout=10)
    except urllib.error.HTTPError as exc:
        status, location = exc.code, exc.headers["Location"]
    else:
        raise AssertionError("the gateway did not redirect back")
    assert status == 302, status
    return str(location)
