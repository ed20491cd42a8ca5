"""The eSMS.vn simulator answers like the gateway's documentation says, over real HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from hcmgov import simulators
from hcmgov.simulators import running
from hcmgov.simulators.sms import API_KEY, BRANDNAME, SECRET_KEY, SEND_PATH


def call(
    url: str, body: Any = None, *, method: str = "POST", content_type: str = "application/json"
) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback simulator
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode()


def message(**overrides: Any) -> dict[str, Any]:
    body = {
        "ApiKey": API_KEY,
        "SecretKey": SECRET_KEY,
        "Phone": "0901888484",
        "Content": "Ho so HCM-001 da duoc tiep nhan",
        "Brandname": BRANDNAME,
        "SmsType": "2",
        "IsUnicode": "0",
        "Sandbox": "0",
        "RequestId": "req-1",
    }
    body.update(overrides)
    return body


@pytest.fixture
def sms():
    with running("sms") as base_url:
        yield base_url


def messages(base_url: str) -> dict[str, Any]:
    return call(base_url + "/_sim/messages", method="GET")[1]


def test_the_registry_finds_the_sms_module_and_refuses_unknown_names():
    assert "sms" in simulators.names()
    with pytest.raises(simulators.UnknownSimulator) as info, running("no-such-system"):
        pass
    assert "sms" in str(info.value)


def test_an_accepted_message_has_the_documented_answer_and_is_kept(sms):
    status, body = call(sms + SEND_PATH, message())
    assert status == 200
    assert body["CodeResult"] == "100"
    assert body["CountRegenerate"] == 0
    assert body["SMSID"]
    kept = messages(sms)
    assert kept["requests"] == 1
    [only] = kept["messages"]
    assert only["SMSID"] == body["SMSID"]
    assert (only["Phone"], only["Brandname"], only["RequestId"]) == ("0901888484", BRANDNAME, "req-1")


def test_numbers_are_accepted_where_the_samples_send_them(sms):
    status, body = call(sms + SEND_PATH, message(SmsType=2, IsUnicode=0, Sandbox=0))
    assert (status, body["CodeResult"]) == (200, "100")


@pytest.mark.parametrize(
    ("overrides", "code", "error"),
    [
        ({"SecretKey": "wrong"}, "101", "Authorize Failed"),
        ({"ApiKey": None}, "101", "Authorize Failed"),
        ({"Brandname": "KHONGCO"}, "104", "Brand name code is not exist"),
        ({"Phone": "12345"}, "108", None),
        ({"Phone": "0101888484"}, "108", None),
    ],
)
def test_refusals_carry_the_documented_codes(sms, overrides, code, error):
    status, body = call(sms + SEND_PATH, message(**overrides))
    assert status == 200
    assert body["CodeResult"] == code
    assert body["ErrorMessage"] == (error or body["ErrorMessage"])
    assert "SMSID" not in body
    assert messages(sms)["messages"] == []


def test_a_request_id_is_taken_once(sms):
    assert call(sms + SEND_PATH, message())[1]["CodeResult"] == "100"
    status, body = call(sms + SEND_PATH, message(Content="another text"))
    assert status == 200
    assert body == {"CodeResult": "124", "CountRegenerate": 0, "ErrorMessage": "Request exist 1", "SendStatus": "5"}
    assert call(sms + SEND_PATH, message(RequestId="req-2"))[1]["CodeResult"] == "100"
    assert call(sms + SEND_PATH, message(RequestId=""))[1]["CodeResult"] == "100"  # no id: no duplicate check
    assert len(messages(sms)["messages"]) == 3


def test_a_sandbox_request_is_validated_but_not_sent(sms):
    assert call(sms + SEND_PATH, message(Sandbox="1"))[1]["CodeResult"] == "100"
    assert call(sms + SEND_PATH, message(Sandbox="1", SecretKey="x"))[1]["CodeResult"] == "101"
    assert messages(sms)["messages"] == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        json.dumps(message(Content="")).encode(),
        json.dumps(message(SmsType="1")).encode(),
        json.dumps(message(RequestId="x" * 51)).encode(),
        json.dumps(message(SendDate="27/11/2026")).encode(),
        json.dumps(message(IsUnicode="yes")).encode(),
    ],
)
def test_an_unreadable_request_is_an_invalid_request(sms, body):
    assert call(sms + SEND_PATH, body) == (400, {"error": "Invalid request"})


def test_the_send_path_only_takes_posted_json(sms):
    assert call(sms + SEND_PATH, message(), content_type="text/plain")[0] == 400
    assert call(sms + SEND_PATH, method="GET")[0] == 405
    assert call(sms + "/nothing-here", method="GET")[0] == 404


def test_blocked_numbers_templates_and_credit_are_simulated():
    options = {"blocked": ["+84901888484"], "templates": [r"Ho so \S+ da duoc tiep nhan"], "credit": 1}
    with running("sms", **options) as sms:
        assert call(sms + SEND_PATH, message())[1]["CodeResult"] == "99"
        other = {"Phone": "0912345678"}
        assert call(sms + SEND_PATH, message(Content="Khuyen mai!", **other))[1]["CodeResult"] == "146"
        assert call(sms + SEND_PATH, message(RequestId="a", **other))[1]["CodeResult"] == "100"
        assert call(sms + SEND_PATH, message(RequestId="b", **other))[1]["CodeResult"] == "103"


def test_faults_are_injected_for_the_next_requests_then_cleared(sms):
    assert call(sms + "/_sim/faults", {"status": 503, "times": 2}) == (200, {"queued": 2})
    assert call(sms + SEND_PATH, message())[0] == 503
    assert call(sms + SEND_PATH, message())[0] == 503
    assert call(sms + SEND_PATH, message())[1]["CodeResult"] == "100"
    call(sms + "/_sim/faults", {"code": "103"})
    assert call(sms + SEND_PATH, message(RequestId="r2"))[1]["CodeResult"] == "103"
    assert call(sms + "/_sim/faults", {"nonsense": 1})[0] == 400
    assert messages(sms)["requests"] == 4
    call(sms + "/_sim/messages", method="DELETE")
    assert messages(sms) == {"messages": [], "requests": 0}
    assert call(sms + SEND_PATH, message())[1]["CodeResult"] == "100"  # RequestIds forgotten too


def test_a_delayed_answer_still_accepts_the_message(sms):
    call(sms + "/_sim/faults", {"delay": 0.5})
    request = urllib.request.Request(  # noqa: S310 - loopback simulator
        sms + SEND_PATH, data=json.dumps(message()).encode(), headers={"Content-Type": "application/json"}
    )
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(request, timeout=0.1)  # noqa: S310
    for _ in range(50):  # the gateway finishes the request the client gave up on
        if messages(sms)["messages"]:
            break
        time.sleep(0.05)
    assert len(messages(sms)["messages"]) == 1


def test_the_root_describes_the_simulator(sms):
    status, body = call(sms + "/", method="GET")
    assert status == 200
    assert body["send"] == SEND_PATH
