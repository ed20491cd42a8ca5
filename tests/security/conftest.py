"""Production-like settings for the ASVS tests (docs/security/asvs.md).

``hcmgov.settings`` decides HTTPS, debug and the secret key from the environment when it is
imported (``HCMGOV_HTTPS`` → ``_https``: secure and ``__Host-`` cookies, HSTS, the HTTPS redirect).
The fixture runs that module again, apart from the live one, once with the test environment and
once with the production variables, and applies what the production variables change: the tests
then see the settings a production process would have, not a hand-written copy of them."""

from __future__ import annotations

import importlib.util
import os
import secrets
from typing import Any

import pytest

import hcmgov.settings

PRODUCTION_ENV = {
    "HCMGOV_HTTPS": "1",
    "HCMGOV_DEBUG": "0",
    # 50 random URL-safe characters: what `check --deploy` (security.W009) asks of a real key
    "HCMGOV_SECRET_KEY": secrets.token_urlsafe(50),
    # ASVS 13.4.5: the metrics only for the monitoring system (hcmgov.W120 otherwise)
    "HCMGOV_METRICS_TOKEN": secrets.token_urlsafe(32),
}


def _settings_under(env: dict[str, str]) -> dict[str, Any]:
    saved = os.environ.copy()
    os.environ.update(env)
    try:
        spec = importlib.util.spec_from_file_location("hcmgov._settings_asvs_probe", hcmgov.settings.__file__)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {name: getattr(module, name) for name in dir(module) if name.isupper()}


@pytest.fixture(scope="session")
def production_overrides() -> dict[str, Any]:
    """The settings the production variables change, with their production values."""
    here = _settings_under({})
    there = _settings_under(PRODUCTION_ENV)
    changed = {name: value for name, value in there.items() if here.get(name, object()) != value}
    # the variables must have changed what they decide, or these tests would prove nothing
    assert {"SESSION_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "SECRET_KEY"} <= changed.keys(), changed.keys()
    return changed


@pytest.fixture
def https_settings(settings, production_overrides):
    """Django's settings as in production (HTTPS on, DEBUG off, a real secret key)."""
    for name, value in production_overrides.items():
        setattr(settings, name, value)
    settings.DEBUG = False
    return settings
