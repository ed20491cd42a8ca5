"""Simulator of the eSMS.vn (ViHAT) SMS-brandname gateway: its JSON send API.

Protocol, as eSMS.vn documents it publicly:

* "Tin nhắn SMS OTP/CSKH" — https://developers.esms.vn/esms-api/ham-gui-tin/tin-nhan-sms-otp-cskh
  (English: https://developers.esms.vn/en/esms-api/send-sms-api/send-otp-customer-care-message)
* "Bảng mã lỗi" (error codes) — https://developers.esms.vn/esms-api/bang-ma-loi
* the pages' sources: github.com/devesms/gitbook_esms_for_develop_v2,
  ``esms-api/ham-gui-tin/tin-nhan-sms-otp-cskh.md`` and ``esms-api/bang-ma-loi.md``

``POST {base}/MainService.svc/json/SendMultipleMessage_V4_post_json/`` with ``Content-Type:
application/json`` and a JSON object of strings::

    {"ApiKey": "…", "SecretKey": "…", "Phone": "0901888484", "Content": "…", "Brandname": "…",
     "SmsType": "2", "IsUnicode": "0", "Sandbox": "0", "RequestId": "…", "campaignid": "…",
     "CallbackUrl": "…", "SendDate": "yyyy-mm-dd hh:MM:ss"}

``SmsType`` 2 is a customer-care brandname message (``Brandname`` required, registered beforehand),
8 a fixed-number message (no brandname). ``IsUnicode`` 0 (the default) sends unaccented text.
``Sandbox`` 1 validates the request without sending or storing it. ``RequestId`` (at most 50
characters) is the partner's id: the gateway refuses a RequestId it has seen that day (code 124),
which makes a resend after a lost answer safe.

The answer is HTTP 200 with a JSON body whose ``CodeResult`` says what happened::

    {"CodeResult": "100", "CountRegenerate": 0, "SMSID": "d533459ee42b2b9525ba9eabf6a8156"}
    {"CodeResult": "101", "CountRegenerate": 0, "ErrorMessage": "Authorize Failed"}
    {"CodeResult": "104", "CountRegenerate": 0, "ErrorMessage": "Brand name code is not exist"}
    {"CodeResult": "124", "CountRegenerate": 0, "ErrorMessage": "Request exist 1", "SendStatus": "5"}

Codes simulated (from the error table): 99 phone blocked, 100 accepted, 101 wrong ApiKey/SecretKey,
103 balance too low, 104 unknown brandname, 108 malformed phone number, 124 duplicate RequestId,
146 content does not match a registered customer-care template. A request the gateway cannot read
answers ``{"error": "Invalid request"}`` (the documentation shows that body; it does not give the
HTTP status, the simulator uses 400). Where the documentation gives no ``ErrorMessage`` text the
simulator uses the table's Vietnamese description.

Extra endpoints, for tests and demos only (not part of eSMS's API):

* ``GET /``: what the simulator is, and its account (ApiKey, SecretKey, brandnames) to set
  ``HCMGOV_SMS_*`` to;
* ``GET /_sim/messages`` → ``{"messages": [...], "requests": N}``: the accepted messages, and how
  many send requests arrived (accepted or not);
* ``DELETE /_sim/messages``: forget messages, RequestIds and pending faults;
* ``POST /_sim/faults`` with ``{"status": 503}``, ``{"code": "103"}`` or ``{"delay": 2.0}`` and
  optional ``"times": N``: the next N send requests answer that HTTP status, that CodeResult, or are
  processed normally after the delay (a client that times out has had its message accepted —
  the lost-answer case).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from hcmgov.simulators import StartResponse, WSGIApp

SEND_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"

# the simulator's account, unless the factory is given others
API_KEY = "SIM-APIKEY-0123456789"
SECRET_KEY = "SIM-SECRETKEY-0123456789"  # noqa: S105 - the simulator's well-known test account
BRANDNAME = "TPHCM"

REQUEST_ID_WINDOW = 24 * 3600  # "Mỗi RequestId truyền sang có hiệu lực chặn trong ngày"
REQUEST_ID_MAX = 50
PHONE = re.compile(r"^(?:\+?84|0)[35789]\d{8}$")

ERRORS = {
    "99": "Số điện thoại bị chặn trên hệ thống.",
    "101": "Authorize Failed",
    "103": "Không đủ số dư để gửi tin.",
    "104": "Brand name code is not exist",
    "108": "Số điện thoại không đúng định dạng.",
    "124": "Request exist 1",
    "146": "Sai template Brandname CSKH",
}


class InvalidRequest(Exception):
    pass


class SmsGateway:
    """The gateway's state: one account, the messages it accepted, the RequestIds it has seen."""

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        secret_key: str = SECRET_KEY,
        brandnames: Iterable[str] = (BRANDNAME,),
        blocked: Iterable[str] = (),
        templates: Iterable[str] | None = None,
        credit: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.secret_key = secret_key
        self.brandnames = set(brandnames)
        self.blocked = {_national(p) for p in blocked}
        self.templates = [re.compile(t) for t in templates] if templates is not None else None
        self.credit = credit  # messages the account can still pay for; None: unlimited
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self.request_ids: dict[str, float] = {}
        self.requests = 0
        self.faults: deque[dict[str, Any]] = deque()

    # --- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path in (SEND_PATH, SEND_PATH.rstrip("/")):
            if method != "POST":
                return _respond(start_response, "405 Method Not Allowed", {"error": "Method not allowed"}, allow="POST")
            return self._send(environ, start_response)
        if path == "/_sim/messages":
            if method == "GET":
                with self.lock:
                    body = {"messages": list(self.messages), "requests": self.requests}
                return _respond(start_response, "200 OK", body)
            if method == "DELETE":
                with self.lock:
                    self.messages.clear()
                    self.request_ids.clear()
                    self.faults.clear()
                    self.requests = 0
                return _respond(start_response, "200 OK", {"cleared": True})
            return _respond(start_response, "405 Method Not Allowed", {"error": "Method not allowed"}, allow="GET")
        if path == "/_sim/faults" and method == "POST":
            try:
                fault = _read_json(environ)
                times = int(fault.pop("times", 1))
                if not fault.keys() & {"status", "code", "delay"}:
                    raise InvalidRequest
            except (InvalidRequest, TypeError, ValueError):
                return _respond(start_response, "400 Bad Request", {"error": "Invalid request"})
            with self.lock:
                self.faults.extend(dict(fault) for _ in range(times))
            return _respond(start_response, "200 OK", {"queued": times})
        if path == "/" and method == "GET":
            return _respond(
                start_response,
                "200 OK",
                {
                    "simulator": "sms",
                    "protocol": "eSMS.vn SendMultipleMessage_V4_post_json",
                    "send": SEND_PATH,
                    "inspect": "/_sim/messages",
                    "faults": "/_sim/faults",
                    # a simulator's account is no secret: it is what HCMGOV_SMS_* are set to against it
                    "account": {
                        "ApiKey": self.api_key,
                        "SecretKey": self.secret_key,
                        "Brandname": sorted(self.brandnames),
                    },
                },
            )
        return _respond(start_response, "404 Not Found", {"error": "Not found"})

    # --- the send API -------------------------------------------------------------------------

    def _send(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self.lock:
            self.requests += 1
            fault = self.faults.popleft() if self.faults else None
        if fault is not None:
            if "delay" in fault:
                time.sleep(float(fault["delay"]))
            if "status" in fault:
                status = int(fault["status"])
                body = f"<html><body><h1>{status}</h1>Service Unavailable</body></html>".encode()
                start_response(f"{status} Error", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
                return [body]
            if "code" in fault:
                return _result(start_response, str(fault["code"]))
        try:
            request = _read_json(environ)
            return self._accept(request, start_response)
        except InvalidRequest:
            return _respond(start_response, "400 Bad Request", {"error": "Invalid request"})

    def _accept(self, request: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not isinstance(request.get("ApiKey"), str) or not isinstance(request.get("SecretKey"), str):
            return _result(start_response, "101")
        if request["ApiKey"] != self.api_key or request["SecretKey"] != self.secret_key:
            return _result(start_response, "101")
        sms_type = _field(request, "SmsType")
        if sms_type not in {"2", "8"}:  # 1 (advertising, ≥ 30 numbers a request), Zalo, Viber: not simulated
            raise InvalidRequest
        brandname = _field(request, "Brandname")
        if sms_type == "2" and brandname not in self.brandnames:
            return _result(start_response, "104")
        phone = _field(request, "Phone")
        if not PHONE.match(phone):
            return _result(start_response, "108")
        content = request.get("Content")
        if not isinstance(content, str) or not content.strip():
            raise InvalidRequest
        unicode, sandbox = _flag(request, "IsUnicode"), _flag(request, "Sandbox")
        request_id = _field(request, "RequestId")
        send_date = _field(request, "SendDate")
        if len(request_id) > REQUEST_ID_MAX:
            raise InvalidRequest
        if send_date:
            try:
                datetime.strptime(send_date, "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 - the gateway's local time
            except ValueError as exc:
                raise InvalidRequest from exc
        if _national(phone) in self.blocked:
            return _result(start_response, "99")
        if sms_type == "2" and self.templates is not None and not any(t.fullmatch(content) for t in self.templates):
            return _result(start_response, "146")
        sms_id = uuid.uuid4().hex + "30"
        if sandbox:  # validated, neither sent nor kept nor charged
            return _result(start_response, "100", SMSID=sms_id)
        now = time.time()
        with self.lock:
            for old, seen in list(self.request_ids.items()):
                if now - seen > REQUEST_ID_WINDOW:
                    del self.request_ids[old]
            if request_id and request_id in self.request_ids:
                return _result(start_response, "124", SendStatus="5")
            if self.credit is not None and self.credit <= 0:
                return _result(start_response, "103")
            if self.credit is not None:
                self.credit -= 1
            if request_id:
                self.request_ids[request_id] = now
            self.messages.append(
                {
                    "SMSID": sms_id,
                    "Phone": phone,
                    "Content": content,
                    "Brandname": brandname,
                    "SmsType": sms_type,
                    "IsUnicode": "1" if unicode else "0",
                    "RequestId": request_id,
                    "campaignid": _field(request, "campaignid"),
                    "SendDate": send_date,
                    "received_at": datetime.now(UTC).isoformat(),
                }
            )
        return _result(start_response, "100", SMSID=sms_id)


def make_app(**options: Any) -> WSGIApp:
    """The gateway with the simulator's account (``api_key``, ``secret_key``, ``brandnames``…)."""
    return SmsGateway(**options)


# --- helpers -----------------------------------------------------------------------------------


def _read_json(environ: dict[str, Any]) -> dict[str, Any]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise InvalidRequest from exc
    if not 0 < length <= 1_000_000:
        raise InvalidRequest
    if not environ.get("CONTENT_TYPE", "").lower().startswith("application/json"):
        raise InvalidRequest
    try:
        data = json.loads(environ["wsgi.input"].read(length).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest from exc
    if not isinstance(data, dict):
        raise InvalidRequest
    return data


def _field(request: dict[str, Any], name: str) -> str:
    """The API's fields are strings; the documentation's samples also send numbers (``"IsUnicode": 0``)."""
    value = request.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidRequest
    return str(value).strip()


def _flag(request: dict[str, Any], name: str) -> bool:
    value = _field(request, name) or "0"
    if value not in {"0", "1"}:
        raise InvalidRequest
    return value == "1"


def _national(phone: str) -> str:
    digits = phone.lstrip("+")
    return "0" + digits[2:] if digits.startswith("84") else digits


def _result(start_response: StartResponse, code: str, **extra: Any) -> Iterable[bytes]:
    body: dict[str, Any] = {"CodeResult": code, "CountRegenerate": 0}
    if code != "100":
        body["ErrorMessage"] = ERRORS.get(code, "Lỗi")
    body.update(extra)
    return _respond(start_response, "200 OK", body)


def _respond(start_response: StartResponse, status: str, body: dict[str, Any], **headers: str) -> Iterable[bytes]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    extra = [(name.replace("_", "-").title(), value) for name, value in headers.items()]
    start_response(
        status, [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data))), *extra]
    )
    return [data]
