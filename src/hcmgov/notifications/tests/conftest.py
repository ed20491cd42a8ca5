"""The SMS gateway simulator, started for a test, and the adapter's settings pointed at it."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from typing import Any

import pytest

from hcmgov.simulators import running
from hcmgov.simulators.sms import API_KEY, BRANDNAME, SECRET_KEY


class Gateway:
    """The simulator's test endpoints, over HTTP like everything else."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _get(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/_sim/messages", timeout=5) as response:  # noqa: S310
            return json.loads(response.read())

    def messages(self) -> list[dict[str, Any]]:
        return self._get()["messages"]

    def requests(self) -> int:
        return self._get()["requests"]

    def fault(self, **fault: Any) -> None:
        request = urllib.request.Request(  # noqa: S310 - http to the loopback simulator
            self.url + "/_sim/faults",
            data=json.dumps(fault).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=5).close()  # noqa: S310

    def wait_for_messages(self, count: int, seconds: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while len(found := self.messages()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return found


@pytest.fixture
def sms_gateway(monkeypatch):
    with running("sms") as url:
        monkeypatch.setenv("HCMGOV_SMS_URL", url)
        monkeypatch.setenv("HCMGOV_SMS_API_KEY", API_KEY)
        monkeypatch.setenv("HCMGOV_SMS_SECRET", SECRET_KEY)
        monkeypatch.setenv("HCMGOV_SMS_BRANDNAME", BRANDNAME)
        yield Gateway(url)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def no_sms_gateway(monkeypatch):
    monkeypatch.delenv("HCMGOV_SMS_URL", raising=False)
