"""The adapter's signature equals one worked by hand from VNPay's rule."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

from hcmgov.payments.adapters import vnpay

SECRET = "HCMGOVSIMHASHSECRET0123456789ABC"


def test_a_signature_worked_by_hand_equals_the_adapters():
    params = {
        "vnp_Version": "2.1.0",
        "vnp_Command": "pay",
        "vnp_TmnCode": "HCMGOV01",
        "vnp_Amount": "800000",
        "vnp_CreateDate": "20261127103000",
        "vnp_CurrCode": "VND",
        "vnp_IpAddr": "127.0.0.1",
        "vnp_Locale": "vn",
        "vnp_OrderInfo": "Thanh toan phi, le phi ho so 000.00.12.H29-261127-0001",
        "vnp_OrderType": "other",
        "vnp_ReturnUrl": "https://dichvucong.hochiminhcity.gov.vn/thanh-toan/vnpay/ket-qua/",
        "vnp_TxnRef": "HCM261127A1B2C3D4E5",
        "vnp_ExpireDate": "20261127104500",
    }
    # By hand: keys sorted; each key=value form-encoded (space → +, "," → %2C, ":" → %3A, "/" → %2F);
    # joined with &; HMAC-SHA512 with the hash secret; hex.
    by_hand = (
        "vnp_Amount=800000&vnp_Command=pay&vnp_CreateDate=20261127103000&vnp_CurrCode=VND"
        "&vnp_ExpireDate=20261127104500&vnp_IpAddr=127.0.0.1&vnp_Locale=vn"
        "&vnp_OrderInfo=Thanh+toan+phi%2C+le+phi+ho+so+000.00.12.H29-261127-0001&vnp_OrderType=other"
        "&vnp_ReturnUrl=https%3A%2F%2Fdichvucong.hochiminhcity.gov.vn%2Fthanh-toan%2Fvnpay%2Fket-qua%2F"
        "&vnp_TmnCode=HCMGOV01&vnp_TxnRef=HCM261127A1B2C3D4E5&vnp_Version=2.1.0"
    )
    expected = hmac.new(SECRET.encode(), by_hand.encode(), hashlib.sha512).hexdigest()
    assert vnpay.canonical(params) == by_hand
    assert vnpay.sign(params, SECRET) == expected
    assert vnpay.verify({**params, "vnp_SecureHash": expected.upper()}, SECRET)  # hex case does not matter
    assert not vnpay.verify({**params, "vnp_Amount": "900000", "vnp_SecureHash": expected}, SECRET)


def test_the_pay_url_carries_amount_times_100_and_gmt7_dates():
    cfg = vnpay.GatewayConfig("https://gw/paymentv2/vpcpay.html", "", "", "HCMGOV01", SECRET, 5)
    created = dt.datetime(2026, 11, 27, 3, 30, tzinfo=dt.UTC)  # 10:30 in Hồ Chí Minh City
    url = vnpay.pay_url(
        cfg,
        ref="R1",
        amount=8000,
        order_info="Phi ho so",
        ip="10.0.0.1",
        return_url="https://x/r",
        created_at=created,
        expires_at=created + dt.timedelta(minutes=15),
    )
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["vnp_Amount"] == "800000"
    assert query["vnp_CreateDate"] == "20261127103000"
    assert query["vnp_ExpireDate"] == "20261127104500"
    assert vnpay.verify(query, SECRET)


def test_the_transaction_apis_signature_joins_the_documented_fields_with_bars():
    body = {name: f"v{n}" for n, name in enumerate(vnpay.QUERY_FIELDS)}
    by_hand = "|".join(f"v{n}" for n in range(len(vnpay.QUERY_FIELDS)))
    assert (
        vnpay.sign_fields(body, vnpay.QUERY_FIELDS, SECRET)
        == hmac.new(SECRET.encode(), by_hand.encode(), hashlib.sha512).hexdigest()
    )
