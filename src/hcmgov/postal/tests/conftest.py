"""Fixtures of the postal tests: wards, a submitted dossier, and the carrier simulator over HTTP with
the adapter's settings pointing at it (``carrier``; ``tracked_carrier`` also sends its webhooks to
the live server's real route)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hcmgov.simulators import running
from hcmgov.simulators.post import TOKEN, WEBHOOK_SECRET

WEBHOOK_PATH = "/api/v1/postal/tracking"


@dataclass
class Carrier:
    """The running simulator: its base URL, and helpers for its test endpoints."""

    url: str

    def call(self, path: str, body: Any = None, *, method: str = "POST") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback simulator
            self.url + path, data=data, headers={"Content-Type": "application/json"}, method=method
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def orders(self) -> list[dict[str, Any]]:
        return self.call("/_sim/orders", method="GET")["orders"]

    def fault(self, **fault: Any) -> None:
        self.call("/_sim/faults", fault)

    def advance(self, tracking_number: str, scenario: str = "delivered") -> dict[str, Any]:
        return self.call(f"/_sim/advance/{tracking_number}", {"scenario": scenario})


def _configure(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("HCMGOV_POST_URL", url)
    monkeypatch.setenv("HCMGOV_POST_TOKEN", TOKEN)
    monkeypatch.setenv("HCMGOV_POST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("HCMGOV_POST_TIMEOUT", "5")


@pytest.fixture
def carrier(monkeypatch: pytest.MonkeyPatch) -> Iterator[Carrier]:
    """The simulator, its webhooks going nowhere (no test here listens on its default URL)."""
    with running("post", webhook_url="http://127.0.0.1:9/unused") as url:
        _configure(monkeypatch, url)
        yield Carrier(url)


@pytest.fixture
def tracked_carrier(monkeypatch: pytest.MonkeyPatch, live_server: Any) -> Iterator[Carrier]:
    """The simulator posting its webhooks to the live server's ``/api/v1/postal/tracking``."""
    with running("post", webhook_url=live_server.url + WEBHOOK_PATH) as url:
        _configure(monkeypatch, url)
        yield Carrier(url)


@pytest.fixture
def wards(db: Any) -> tuple[str, str]:
    """Two wards of the city in force: (the agency's, the applicant's)."""
    from hcmgov.core.tests.factories import AdminUnitFactory

    return AdminUnitFactory().code, AdminUnitFactory().code


@pytest.fixture
def dossier(submit: Any) -> Any:
    dossier, _ = submit()
    return dossier


@pytest.fixture
def parties(wards: tuple[str, str]) -> dict[str, Any]:
    from hcmgov.postal.services import Party

    agency_ward, home_ward = wards
    return {
        "sender": Party("Nguyễn Văn An", "0901 234 567", "12 Lê Lợi", home_ward),
        "receiver": Party("Bộ phận một cửa UBND phường", "028 3829 6052", "86 Lê Thánh Tôn", agency_ward),
    }
