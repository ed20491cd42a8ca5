"""The postal carrier simulator answers as its protocol (``hcmgov.simulators.post``) says, over real
HTTP: GHN-style orders, fees, cancellation, faults, and signed tracking webhooks."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hcmgov import simulators
from hcmgov.simulators import running
from hcmgov.simulators.post import API, SIGNATURE_HEADER, TOKEN, WEBHOOK_SECRET, fee_of, s10, sign


def call(
    url: str, body: Any = None, *, method: str = "POST", token: str | None = TOKEN, timeout: float = 5
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **({"Token": token} if token is not None else {})}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback simulator
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode()


def order(code: str = "HS-1-BC1", **overrides: Any) -> dict[str, Any]:
    body = {
        "client_order_code": code,
        "from_name": "Nguyễn Văn An",
        "from_phone": "0901234567",
        "from_address": "12 Lê Lợi",
        "from_ward_code": "26737",
        "from_province_code": "79",
        "to_name": "UBND phường Sài Gòn",
        "to_phone": "02838296052",
        "to_address": "86 Lê Thánh Tôn",
        "to_ward_code": "26740",
        "to_province_code": "79",
        "weight": 300,
        "content": "Hồ sơ",
    }
    body.update(overrides)
    return body


class Receiver:
    """A webhook endpoint on loopback that keeps what it receives and answers ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


@pytest.fixture
def post(receiver: Receiver) -> Iterator[str]:
    with running("post", webhook_url=receiver.url) as base_url:
        yield base_url


def create(base: str, **overrides: Any) -> dict[str, Any]:
    status, answer = call(base + API + "/shipping-order/create", order(**overrides))
    assert status == 200, answer
    return answer["data"]


def test_the_registry_lists_post():
    assert "post" in simulators.names()


def test_the_fee_table_by_weight_steps_and_provinces():
    assert fee_of(weight=250, same_province=True) == (16_000, 1)
    assert fee_of(weight=251, same_province=True) == (20_000, 1)
    assert fee_of(weight=2_001, same_province=True) == (35_000, 1)
    assert fee_of(weight=2_500, same_province=True) == (35_000, 1)
    assert fee_of(weight=2_501, same_province=True) == (38_000, 1)
    assert fee_of(weight=1_000, same_province=False) == (36_000, 3)


def test_tracking_numbers_carry_the_s10_check_digit():
    # 4·8 + 7·6 + 3·4 + 1·2 + 2·3 + 4·5 + 8·9 + 2·7 = 200; 11 − 200 mod 11 = 9
    assert s10(47312482) == "RA473124829VN"
    assert s10(10) == "RA000000102VN"  # 1·9 = 9; 11 − 9 = 2
    for serial in range(1000):
        code = s10(serial)
        digits = [int(d) for d in code[2:10]]
        check = 11 - sum(d * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)) % 11
        assert int(code[10]) == {10: 0, 11: 5}.get(check, check)


def test_a_wrong_token_is_401(post):
    for token in (None, "wrong"):
        status, answer = call(post + API + "/shipping-order/fee", {}, token=token)
        assert (status, answer["code"]) == (401, 401)


def test_a_fee_and_an_order_as_ghn_answers_them(post):
    status, fee = call(post + API + "/shipping-order/fee", order(to_province_code="01", weight=1_000))
    assert (status, fee["code"], fee["message"]) == (200, 200, "Success")
    assert fee["data"] == {"total": 36_000, "service_fee": 36_000, "insurance_fee": 0, "expected_days": 3}
    made = create(post)
    assert made["order_code"].startswith("RA")
    assert made["order_code"].endswith("VN")
    assert (made["client_order_code"], made["status"], made["total_fee"]) == ("HS-1-BC1", "ready_to_pick", 20_000)
    assert made["expected_delivery_time"].endswith("Z")
    for name, key in (
        ("detail", {"order_code": made["order_code"]}),
        ("detail-by-client-code", {"client_order_code": "HS-1-BC1"}),
    ):
        status, detail = call(post + API + "/shipping-order/" + name, key)
        assert (status, detail["data"]["order_code"]) == (200, made["order_code"])
        assert detail["data"]["log"][0]["status"] == "ready_to_pick"


def test_the_same_client_order_code_gets_the_same_order(post):
    first, second = create(post), create(post, to_name="Someone else")
    assert second["order_code"] == first["order_code"]
    state = call(post + "/_sim/orders", method="GET")[1]
    assert len(state["orders"]) == 1
    assert state["requests"]["shipping-order/create"] == 2


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_order_code": ""},
        {"weight": 0},
        {"weight": 30_001},
        {"to_ward_code": "A1"},
        {"to_phone": "12"},
        {"from_name": " "},
    ],
)
def test_invalid_orders_are_refused_in_ghns_shape(post, overrides):
    status, answer = call(post + API + "/shipping-order/create", order(**overrides))
    assert status == 400
    assert (answer["code"], answer["data"], answer["code_message"]) == (400, None, "USER_ERR_COMMON")


def test_an_unknown_order_is_refused(post):
    status, answer = call(post + API + "/shipping-order/detail", {"order_code": "RA000000000VN"})
    assert (status, answer["code_message"]) == (400, "ORDER_NOT_FOUND")


def test_cancel_before_pickup_again_and_after(post):
    code = create(post)["order_code"]
    for _ in range(2):
        status, answer = call(post + API + "/switch-status/cancel", {"order_codes": [code]})
        assert (status, answer["data"]) == (200, [{"order_code": code, "result": True, "message": "OK"}])
    status, answer = call(post + "/_sim/advance/" + code, {"scenario": "delivered"})
    assert status == 409
    other = create(post, client_order_code="HS-1-BC2")["order_code"]
    call(post + "/_sim/advance/" + other, {"scenario": "delivered"})
    status, answer = call(post + API + "/switch-status/cancel", {"order_codes": [other]})
    assert answer["data"][0]["result"] is False


def test_503_faults_create_nothing(post):
    call(post + "/_sim/faults", {"status": 503, "times": 2})
    for _ in range(2):
        status, _answer = call(post + API + "/shipping-order/create", order())
        assert status == 503
    assert call(post + "/_sim/orders", method="GET")[1]["orders"] == []
    assert create(post)["status"] == "ready_to_pick"


def test_a_slow_answer_still_makes_the_order(post):
    call(post + "/_sim/faults", {"delay": 1.0})
    with pytest.raises(TimeoutError):
        call(post + API + "/shipping-order/create", order(), timeout=0.2)
    again = create(post)  # the lost answer, asked for again
    assert len(call(post + "/_sim/orders", method="GET")[1]["orders"]) == 1
    assert again["client_order_code"] == "HS-1-BC1"


@pytest.mark.parametrize(
    ("scenario", "statuses"),
    [
        ("delivered", ["ready_to_pick", "picked", "transporting", "delivered"]),
        (
            "failed_then_delivered",
            ["ready_to_pick", "picked", "transporting", "delivery_fail", "delivering", "delivered"],
        ),
        (
            "returned",
            ["ready_to_pick", "picked", "transporting", "delivery_fail", "delivery_fail", "returning", "returned"],
        ),
    ],
)
def test_advance_posts_each_event_signed(post, receiver, scenario, statuses):
    code = create(post)["order_code"]
    status, answer = call(post + "/_sim/advance/" + code, {"scenario": scenario})
    assert (status, answer["status"]) == (200, statuses[-1])
    assert [d["http_status"] for d in answer["deliveries"]] == [200] * len(statuses)
    events = receiver.events()
    assert [e["Status"] for e in events] == statuses
    assert [e["Time"] for e in events] == sorted(e["Time"] for e in events)
    assert len({e["EventID"] for e in events}) == len(statuses)
    assert {e["OrderCode"] for e in events} == {code}
    assert events[0]["Type"] == "create"
    for headers, body in receiver.received:
        assert headers[SIGNATURE_HEADER] == sign(body, WEBHOOK_SECRET)
    detail = call(post + API + "/shipping-order/detail", {"order_code": code})[1]["data"]
    assert detail["status"] == statuses[-1]


def test_webhook_faults_twice_and_out_of_order(post, receiver):
    first, second = create(post)["order_code"], create(post, client_order_code="HS-1-BC2")["order_code"]
    call(post + "/_sim/faults", {"webhook": "twice"})
    call(post + "/_sim/advance/" + first, {})
    assert [e["Status"] for e in receiver.events()] == [
        s for s in ("ready_to_pick", "picked", "transporting", "delivered") for _ in "ab"
    ]
    receiver.received.clear()
    call(post + "/_sim/faults", {"webhook": "out_of_order"})
    call(post + "/_sim/advance/" + second, {})
    events = receiver.events()
    assert [e["Status"] for e in events] == ["delivered", "transporting", "picked", "ready_to_pick"]
    assert [e["Time"] for e in events] == sorted((e["Time"] for e in events), reverse=True)


def test_webhook_answers_are_reported_and_the_url_can_change(post, receiver):
    code = create(post)["order_code"]
    receiver.status = 500
    answer = call(post + "/_sim/advance/" + code, {})[1]
    assert {d["http_status"] for d in answer["deliveries"]} == {500}
    status, _ = call(post + "/_sim/config", {"webhook_url": "http://127.0.0.1:9/nowhere"})
    assert status == 200
    other = create(post, client_order_code="HS-1-BC2")["order_code"]
    answer = call(post + "/_sim/advance/" + other, {})[1]
    assert {d["http_status"] for d in answer["deliveries"]} == {0}  # nobody listens: reported, not raised
    assert call(post + "/_sim/config", {"webhook_url": "ftp://x"})[0] == 400
    assert call(post + "/_sim/advance/RA000000000VN", {})[0] == 404
    assert call(post + "/_sim/advance/" + code, {"scenario": "lost"})[0] == 400


def test_delete_forgets_everything(post):
    create(post)
    call(post + "/_sim/faults", {"status": 503})
    assert call(post + "/_sim/orders", method="DELETE")[1] == {"cleared": True}
    assert call(post + "/_sim/orders", method="GET")[1] == {"orders": [], "requests": {}, "webhooks": []}
    assert create(post)["status"] == "ready_to_pick"  # the pending fault went too


def test_the_webhook_url_comes_from_the_environment_else_the_default(monkeypatch):
    monkeypatch.setenv("HCMGOV_SIM_POST_WEBHOOK_URL", "http://127.0.0.1:8123/x")
    with running("post") as base:
        assert call(base + "/", method="GET")[1]["webhook_url"] == "http://127.0.0.1:8123/x"
    monkeypatch.delenv("HCMGOV_SIM_POST_WEBHOOK_URL")
    with running("post") as base:
        info = call(base + "/", method="GET")[1]
    assert info["webhook_url"] == "http://127.0.0.1:8000/api/v1/postal/tracking"
    assert (info["token"], info["webhook_secret"]) == (TOKEN, WEBHOOK_SECRET)
