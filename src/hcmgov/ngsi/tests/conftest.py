"""Fixtures of the NGSI-LD tests: callers with bearer tokens, and the Smart Data Models examples
(copied into ``tests/data``, CC-BY-4.0: its SOURCE.md) as payloads."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from hcmgov.identity.services import api_token_issue
from hcmgov.identity.tests.factories import UserFactory
from hcmgov.ngsi import jsonld, services

SHARED = Path(__file__).resolve().parent / "data"
BASE = "/ngsi-ld/v1"


def example(model: str) -> dict[str, Any]:
    """A model's normalized NGSI-LD example, its remote @context taken off (the tests send it in
    a Link header or in the body, as each case needs)."""
    body = json.loads((SHARED / model / "example-normalized.jsonld").read_text(encoding="utf-8"))
    body.pop("@context", None)
    return copy.deepcopy(body)


class Api:
    """A test client for /ngsi-ld/v1 with a bearer token."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.headers: dict[str, str] = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def _kw(self, headers: dict[str, str] | None) -> dict[str, str]:
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        return {**self.headers, **extra}

    def get(self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(BASE + path, params or {}, **self._kw(headers))

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        ctype: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Any:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        call = getattr(self.client, method.lower())
        return call(BASE + path, data=data, content_type=ctype, **self._kw(headers))

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.send("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.send("PATCH", path, body, **kw)

    def delete(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.delete(BASE + path, **self._kw(headers))


@pytest.fixture(autouse=True)
def _fresh_contexts():
    jsonld.context_forget()
    yield
    jsonld.context_forget()


@pytest.fixture(autouse=True)
def _no_subscription_known():
    """Each test starts not knowing of any active subscription: what a test before it learnt (kept
    for 2 s per process, ``services._ACTIVE_TTL``) would send its updates down the locking path."""
    services._active[:] = [0.0, False]
    yield
    services._active[:] = [0.0, False]


@pytest.fixture
def api(db) -> Api:
    """An official's personal token: reads and writes."""
    return Api(api_token_issue(user=UserFactory(official=True), name="ngsi").raw)


@pytest.fixture
def citizen_api(db) -> Api:
    return Api(api_token_issue(user=UserFactory(), name="ngsi").raw)


@pytest.fixture
def air() -> dict[str, Any]:
    return example("AirQualityObserved")


@pytest.fixture
def traffic() -> dict[str, Any]:
    return example("TrafficFlowObserved")
