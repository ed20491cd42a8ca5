"""Simulator of the national postal carrier (VNPost) for dossiers and results: its delivery-order API
and its tracking webhook.

**Whose protocol.** VNPost has a partner API (MyVNPost "customer-partner": ``/GetAccessToken``,
``/CreateOrder``, ``/ServicesCharge``, ``/orderCancel``, ``/getOrder`` on https://connect-my.vnpost.vn,
UAT https://my-uat.vnpost.vn/MYVNP_API, a ``token`` header), but its specification is handed to
contracted customers, not published: only those names are visible, in third parties' client code on
GitHub. So the protocol here is **modelled on GHN's (Giao Hàng Nhanh) public API**, documented at
https://api.ghn.vn/home/docs — "Create Order" (detail?id=63 and id=123), "Calculate Fee" (id=76),
"Cancel Order" (id=73), "Webhook" (id=47) — with GHN's paths, its ``{"code", "message", "data"}``
envelope and its order statuses. Where this protocol differs from GHN it says so; each difference
is the platform's own, to be replaced by VNPost's real contract when the city signs one:

* ward codes are the national statistics office's (the codes of ``hcmgov.core``; after the 2025
  reform there are no districts), and ``from_province_code``/``to_province_code`` replace GHN's
  district ids; GHN's ``ShopId`` header is not used (the ``Token`` names the account);
* the fee answer also gives ``expected_days`` (GHN answers lead time through a separate API);
* a repeated ``client_order_code`` answers the order made the first time (HTTP 200), so a client
  that lost an answer may simply send the same request again — GHN's documentation does not say
  what it does with a repeated code;
* the webhook body carries an ``EventID`` (unique per event, as EMS Vietnam's ``ems-transaction``
  header — https://docs.ems.com.vn/en/webhook) and is signed: ``X-Post-Signature: sha256=<hex
  HMAC-SHA256 of the raw body with the shared webhook secret>`` (the scheme of GitHub's
  ``X-Hub-Signature-256``, https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries);
  GHN signs nothing;
* tracking numbers have the UPU S10 shape (two letters, eight digits, a check digit, ``VN``:
  UPU standard S10), as VNPost's items do; GHN's are free-form.

**API** (every call ``POST`` with ``Content-Type: application/json`` and ``Token: <token>``; a
wrong token answers 401 ``{"code": 401, "message": "Token is not valid!"}``):

* ``/shiip/public-api/v2/shipping-order/fee`` — ``{"from_ward_code", "from_province_code",
  "to_ward_code", "to_province_code", "weight"}`` → ``data: {"total", "service_fee",
  "insurance_fee": 0, "expected_days"}``;
* ``/shiip/public-api/v2/shipping-order/create`` — GHN's fields ``client_order_code``, ``from_name``,
  ``from_phone``, ``from_address``, ``from_ward_code``, ``to_name``, ``to_phone``, ``to_address``,
  ``to_ward_code``, ``weight`` (grams), ``content``, ``note``, ``payment_type_id`` (1: the sender's
  account pays), ``required_note``, ``service_type_id``, plus the province codes → ``data:
  {"order_code", "client_order_code", "sort_code", "trans_type", "fee": {"main_service",
  "insurance"}, "total_fee", "expected_delivery_time", "status"}``;
* ``/shiip/public-api/v2/shipping-order/detail`` ``{"order_code"}`` and
  ``/shiip/public-api/v2/shipping-order/detail-by-client-code`` ``{"client_order_code"}`` → the
  order, with ``log: [{"status", "updated_date"}]``;
* ``/shiip/public-api/v2/switch-status/cancel`` ``{"order_codes": [...]}`` → ``data: [{"order_code",
  "result", "message"}]``; as GHTK and GHN, an order can be cancelled only before it is picked up
  (statuses ``ready_to_pick``, ``picking``); cancelling a cancelled order succeeds again.

Refusals are HTTP 400 ``{"code": 400, "message": "…", "data": null, "code_message":
"USER_ERR_COMMON"}`` (GHN's shape); an unknown order is ``code_message: "ORDER_NOT_FOUND"`` (ours).

**Webhook.** GHN posts ``{"Type": "create"|"switch_status", "OrderCode", "ClientOrderCode",
"Status", "Time", "Warehouse", "Description", "Reason", "ReasonCode", "TotalFee", "Weight", …}``
and expects HTTP 200 (it retries 10 times, 5 seconds apart; this simulator does not retry, it
reports each delivery's answer). The simulator sends those fields plus ``EventID``, signed.

**Fees** (the simulator's own table, not VNPost's tariff): within one province ≤ 250 g 16 000 đ,
≤ 500 g 20 000, ≤ 1 000 g 25 000, ≤ 2 000 g 32 000, then 3 000 per further 500 g, 1 day; between
provinces 22 000, 28 000, 36 000, 48 000, then 6 000 per 500 g, 3 days. At most 30 000 g.

**Test endpoints** (not part of any carrier's API):

* ``GET /`` — what the simulator is, its token, webhook secret and webhook URL;
* ``GET /_sim/orders`` → ``{"orders": [...], "requests": {path: N}, "webhooks": [...]}``;
  ``DELETE /_sim/orders`` forgets orders, counts, deliveries and faults;
* ``POST /_sim/config`` ``{"webhook_url": "…"}``;
* ``POST /_sim/advance/<order code>`` ``{"scenario": "delivered" | "failed_then_delivered" |
  "returned"}`` — builds the scenario's events (``delivered``: ready_to_pick, picked, transporting,
  delivered; ``failed_then_delivered``: … delivery_fail, delivering, delivered; ``returned``: …
  delivery_fail twice, returning, returned), ten minutes apart and ending now, sets the order's
  status, and posts each event to the webhook before answering ``{"deliveries": [...]}``;
* ``POST /_sim/faults`` — ``{"status": 503, "times": N}``: the next N creates answer that status
  and create nothing; ``{"delay": 2.0, "times": N}``: the next N API calls are answered after the
  delay (the order is created: a client that timed out has lost the answer, not the order);
  ``{"webhook": "twice" | "out_of_order", "times": N}``: the next N advances post every event
  twice, or in reverse order (each with its own time).

Factory options: ``token``, ``webhook_secret``, ``webhook_url`` (else ``HCMGOV_SIM_POST_WEBHOOK_URL``,
else ``http://127.0.0.1:8000/api/v1/postal/tracking``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

from hcmgov.simulators import StartResponse, WSGIApp
from hcmgov.simulators._http import Request, json_answer

TOKEN = "SIM-POST-TOKEN-0123456789"  # noqa: S105 - the simulator's well-known test account
WEBHOOK_SECRET = "SIM-POST-WEBHOOK-SECRET-0123456789"  # noqa: S105 - the simulator's well-known test secret
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/api/v1/postal/tracking"
SIGNATURE_HEADER = "X-Post-Signature"
API = "/shiip/public-api/v2"
MAX_WEIGHT = 30_000

# (upper weight in grams, fee in đồng) steps, the fee per further 500 g, and the days: the simulator's own table
INNER = ((250, 16_000), (500, 20_000), (1_000, 25_000), (2_000, 32_000)), 3_000, 1
OUTER = ((250, 22_000), (500, 28_000), (1_000, 36_000), (2_000, 48_000)), 6_000, 3

SCENARIOS = {
    "delivered": ("ready_to_pick", "picked", "transporting", "delivered"),
    "failed_then_delivered": ("ready_to_pick", "picked", "transporting", "delivery_fail", "delivering", "delivered"),
    "returned": ("ready_to_pick", "picked", "transporting", "delivery_fail", "delivery_fail", "returning", "returned"),
}
DESCRIPTIONS = {
    "ready_to_pick": "Mới tạo đơn hàng",
    "picked": "Đã lấy hàng",
    "transporting": "Đang luân chuyển",
    "delivering": "Đang giao hàng",
    "delivered": "Giao hàng thành công",
    "delivery_fail": "Giao hàng thất bại",
    "returning": "Đang hoàn hàng",
    "returned": "Hoàn hàng thành công",
    "cancel": "Hủy đơn hàng",
}
CANCELLABLE = {"ready_to_pick", "picking", "cancel"}
WARD = re.compile(r"^\d{5}$")
PROVINCE = re.compile(r"^\d{2}$")
PHONE = re.compile(r"^(?:\+84|0)\d{9,10}$")
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


class Refused(Exception):
    """A request the carrier refuses: HTTP 400 with GHN's error body."""

    def __init__(self, message: str, code_message: str = "USER_ERR_COMMON") -> None:
        super().__init__(message)
        self.message = message
        self.code_message = code_message


def fee_of(*, weight: int, same_province: bool) -> tuple[int, int]:
    """The simulator's fee (đồng) and days for ``weight`` grams."""
    steps, extra, days = INNER if same_province else OUTER
    for limit, fee in steps:
        if weight <= limit:
            return fee, days
    last_limit, last_fee = steps[-1]
    return last_fee + -(-(weight - last_limit) // 500) * extra, days


def s10(serial: int, prefix: str = "RA") -> str:
    """A UPU S10 item identifier: two letters, 8-digit serial, check digit, ``VN``."""
    digits = f"{serial % 100_000_000:08d}"
    check = 11 - sum(int(d) * w for d, w in zip(digits, S10_WEIGHTS, strict=True)) % 11
    check = {10: 0, 11: 5}.get(check, check)
    return f"{prefix}{digits}{check}VN"


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class PostCarrier:
    """The carrier's state: its account, the orders it took, the faults to inject and the webhook."""

    def __init__(
        self, *, token: str = TOKEN, webhook_secret: str = WEBHOOK_SECRET, webhook_url: str | None = None
    ) -> None:
        self.token = token
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url or os.environ.get("HCMGOV_SIM_POST_WEBHOOK_URL") or DEFAULT_WEBHOOK_URL
        self.lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}
        self.by_client_code: dict[str, str] = {}
        self.requests: Counter[str] = Counter()
        self.webhooks: list[dict[str, Any]] = []
        self.create_faults: deque[int] = deque()
        self.delays: deque[float] = deque()
        self.webhook_faults: deque[str] = deque()
        self.serial = secrets.randbelow(90_000_000) + 10_000_000

    # --- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.read(environ)
        path, method = request.path, request.method
        if path.startswith(API + "/"):
            if method != "POST":
                return json_answer(start_response, "405 Method Not Allowed", {"code": 405, "message": "POST only"})
            return self._api(request, start_response)
        if path == "/_sim/orders" and method in {"GET", "DELETE"}:
            with self.lock:
                if method == "DELETE":
                    self._reset()
                    return json_answer(start_response, "200 OK", {"cleared": True})
                body = {"orders": list(self.orders.values()), "requests": dict(self.requests)}
                body["webhooks"] = list(self.webhooks)
            return json_answer(start_response, "200 OK", body)
        if path == "/_sim/faults" and method == "POST":
            return self._faults(request.json(), start_response)
        if path == "/_sim/config" and method == "POST":
            url = request.json().get("webhook_url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                return json_answer(start_response, "400 Bad Request", {"error": "webhook_url must be http(s)"})
            with self.lock:
                self.webhook_url = url
            return json_answer(start_response, "200 OK", {"webhook_url": url})
        if path.startswith("/_sim/advance/") and method == "POST":
            return self._advance(path.removeprefix("/_sim/advance/"), request.json(), start_response)
        if path == "/" and method == "GET":
            # a simulator's account is no secret: it is what HCMGOV_POST_* are set to against it
            info = {"simulator": "post", "protocol": "GHN-style delivery-order API (see module docstring)"}
            info.update(token=self.token, webhook_secret=self.webhook_secret, webhook_url=self.webhook_url)
            return json_answer(start_response, "200 OK", info)
        return json_answer(start_response, "404 Not Found", {"error": "Not found"})

    def _reset(self) -> None:
        self.orders.clear()
        self.by_client_code.clear()
        self.requests.clear()
        self.webhooks.clear()
        self.create_faults.clear()
        self.delays.clear()
        self.webhook_faults.clear()

    def _faults(self, fault: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            times = int(fault.get("times", 1))
            with self.lock:
                if "status" in fault:
                    self.create_faults.extend([int(fault["status"])] * times)
                elif "delay" in fault:
                    self.delays.extend([float(fault["delay"])] * times)
                elif fault.get("webhook") in {"twice", "out_of_order"}:
                    self.webhook_faults.extend([str(fault["webhook"])] * times)
                else:
                    raise ValueError(fault)
        except (TypeError, ValueError):
            return json_answer(start_response, "400 Bad Request", {"error": "Invalid fault"})
        return json_answer(start_response, "200 OK", {"queued": times})

    # --- the carrier's API --------------------------------------------------------------------

    def _api(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        name = request.path.removeprefix(API + "/")
        with self.lock:
            self.requests[name] += 1
            delay = self.delays.popleft() if self.delays else 0.0
            status = self.create_faults.popleft() if name == "shipping-order/create" and self.create_faults else 0
        if delay:
            time.sleep(delay)
        if status:
            page = f"<html><body><h1>{status}</h1>Service Unavailable</body></html>".encode()
            start_response(f"{status} Error", [("Content-Type", "text/html"), ("Content-Length", str(len(page)))])
            return [page]
        if not hmac.compare_digest(request.header("Token").encode(), self.token.encode()):
            return json_answer(start_response, "401 Unauthorized", {"code": 401, "message": "Token is not valid!"})
        handlers = {
            "shipping-order/fee": self._fee,
            "shipping-order/create": self._create,
            "shipping-order/detail": self._detail,
            "shipping-order/detail-by-client-code": self._detail_by_client_code,
            "switch-status/cancel": self._cancel,
        }
        handler = handlers.get(name)
        if handler is None:
            return json_answer(start_response, "404 Not Found", {"code": 404, "message": "Not found", "data": None})
        try:
            data = handler(request.json())
        except Refused as refused:
            body = {"code": 400, "message": refused.message, "data": None, "code_message": refused.code_message}
            return json_answer(start_response, "400 Bad Request", body)
        return json_answer(start_response, "200 OK", {"code": 200, "message": "Success", "data": data})

    def _fee(self, body: dict[str, Any]) -> dict[str, Any]:
        weight = _weight(body)
        provinces = [_code(body, f"{end}_province_code", PROVINCE) for end in ("from", "to")]
        for end in ("from", "to"):
            _code(body, f"{end}_ward_code", WARD)
        fee, days = fee_of(weight=weight, same_province=provinces[0] == provinces[1])
        return {"total": fee, "service_fee": fee, "insurance_fee": 0, "expected_days": days}

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        client_code = body.get("client_order_code")
        if not isinstance(client_code, str) or not 0 < len(client_code) <= 64:
            raise Refused("client_order_code là bắt buộc, tối đa 64 ký tự")
        with self.lock:
            known = self.by_client_code.get(client_code)
            if known is not None:  # the same request again: the order made the first time
                return _public(self.orders[known])
        for end in ("from", "to"):
            for name in ("name", "address"):
                value = body.get(f"{end}_{name}")
                if not isinstance(value, str) or not value.strip() or len(value) > 1024:
                    raise Refused(f"{end}_{name} không hợp lệ")
            phone = body.get(f"{end}_phone")
            if not isinstance(phone, str) or not PHONE.match(phone):
                raise Refused(f"{end}_phone không hợp lệ")
        fee_data = self._fee(body)
        now = _now()
        with self.lock:
            if client_code in self.by_client_code:  # a concurrent twin got there first
                return _public(self.orders[self.by_client_code[client_code]])
            self.serial += 1
            code = s10(self.serial)
            order = {
                "order_code": code,
                "client_order_code": client_code,
                "sort_code": f"79-{self.serial % 100:02d}-01",
                "trans_type": "truck",
                "fee": {"main_service": fee_data["total"], "insurance": 0},
                "total_fee": fee_data["total"],
                "expected_delivery_time": _iso(now + dt.timedelta(days=fee_data["expected_days"])),
                "status": "ready_to_pick",
                "weight": _weight(body),
                "from_name": body["from_name"],
                "from_ward_code": body["from_ward_code"],
                "to_name": body["to_name"],
                "to_phone": body["to_phone"],
                "to_address": body["to_address"],
                "to_ward_code": body["to_ward_code"],
                "content": str(body.get("content") or "")[:2000],
                "note": str(body.get("note") or "")[:5000],
                "log": [{"status": "ready_to_pick", "updated_date": _iso(now)}],
                "created_date": _iso(now),
            }
            self.orders[code] = order
            self.by_client_code[client_code] = code
            return _public(order)

    def _detail(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            order = self.orders.get(str(body.get("order_code", "")))
            if order is None:
                raise Refused("Đơn hàng không tồn tại", "ORDER_NOT_FOUND")
            return _public(order)

    def _detail_by_client_code(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            code = self.by_client_code.get(str(body.get("client_order_code", "")))
        return self._detail({"order_code": code or ""})

    def _cancel(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        codes = body.get("order_codes")
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
            raise Refused("order_codes là bắt buộc")
        results = []
        with self.lock:
            for code in codes:
                order = self.orders.get(code)
                if order is None:
                    results.append({"order_code": code, "result": False, "message": "Đơn hàng không tồn tại"})
                elif order["status"] not in CANCELLABLE:
                    results.append({"order_code": code, "result": False, "message": "Đơn hàng đã lấy, không thể hủy"})
                else:
                    if order["status"] != "cancel":
                        order["status"] = "cancel"
                        order["log"].append({"status": "cancel", "updated_date": _iso(_now())})
                    results.append({"order_code": code, "result": True, "message": "OK"})
        return results

    # --- tracking -----------------------------------------------------------------------------

    def _advance(self, code: str, body: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        scenario = body.get("scenario", "delivered")
        if scenario not in SCENARIOS:
            return json_answer(start_response, "400 Bad Request", {"error": f"scenario: one of {sorted(SCENARIOS)}"})
        statuses = SCENARIOS[scenario]
        end = _now()
        with self.lock:
            order = self.orders.get(code)
            if order is None:
                return json_answer(start_response, "404 Not Found", {"error": "Unknown order"})
            if order["status"] == "cancel":
                return json_answer(start_response, "409 Conflict", {"error": "Order cancelled"})
            fault = self.webhook_faults.popleft() if self.webhook_faults else ""
            url = self.webhook_url
            events = []
            for i, status in enumerate(statuses):
                at = end - dt.timedelta(minutes=10 * (len(statuses) - 1 - i))
                events.append(self._event(order, status, at, first=i == 0))
                order["log"].append({"status": status, "updated_date": _iso(at)})
            order["status"] = statuses[-1]
        if fault == "out_of_order":
            events.reverse()
        elif fault == "twice":
            events = [e for event in events for e in (event, event)]
        deliveries = [self._post(url, event) for event in events]  # outside the lock: the webhook may be slow
        with self.lock:
            self.webhooks.extend(deliveries)
        return json_answer(
            start_response, "200 OK", {"order_code": code, "status": statuses[-1], "deliveries": deliveries}
        )

    def _event(self, order: dict[str, Any], status: str, at: dt.datetime, *, first: bool) -> dict[str, Any]:
        failed = status == "delivery_fail"
        return {
            "EventID": secrets.token_hex(12),
            "Type": "create" if first else "switch_status",
            "OrderCode": order["order_code"],
            "ClientOrderCode": order["client_order_code"],
            "Status": status,
            "Time": _iso(at),
            "Warehouse": "Bưu cục Sài Gòn" if status != "delivered" else "",
            "Description": DESCRIPTIONS.get(status, status),
            "Reason": "Không liên lạc được người nhận" if failed else "",
            "ReasonCode": "GHN-DFC1A0" if failed else "",
            "TotalFee": order["total_fee"],
            "Weight": order["weight"],
        }

    def _post(self, url: str, event: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(event, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, self.webhook_secret)}
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - configured URL
        delivery: dict[str, Any] = {"event_id": event["EventID"], "status": event["Status"], "url": url}
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                delivery["http_status"] = response.status
        except urllib.error.HTTPError as exc:
            delivery["http_status"] = exc.code
            delivery["answer"] = exc.read(300).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as exc:
            delivery["http_status"] = 0
            delivery["answer"] = str(getattr(exc, "reason", exc))[:300]
        return delivery


def make_app(**options: Any) -> WSGIApp:
    """The carrier with the simulator's account (``token``, ``webhook_secret``, ``webhook_url``)."""
    return PostCarrier(**options)


# --- helpers -----------------------------------------------------------------------------------


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(order))  # a copy the caller may keep after the lock is released


def _weight(body: dict[str, Any]) -> int:
    weight = body.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 < weight <= MAX_WEIGHT:
        raise Refused(f"weight phải là số gam từ 1 đến {MAX_WEIGHT}")
    return weight


def _code(body: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not pattern.match(value):
        raise Refused(f"{name} không hợp lệ")
    return value
