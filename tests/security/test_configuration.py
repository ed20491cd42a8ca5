"""V13 Configuration: ``manage.py check --deploy`` is clean with production settings (ASVS 5.0
13.4.2 debug off; with it V3.3, V3.4.1, V12.2.1 as Django's deployment checks see them)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError


def test_check_deploy_is_clean_with_production_settings(https_settings, monkeypatch):
    # the browser tests' Playwright loop sets it in their process (tests/browser/conftest.py); a
    # deployment never does, and async.E001 would report it
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    call_command("check", deploy=True, fail_level="WARNING")


def test_check_deploy_sees_a_development_setting(https_settings, monkeypatch):
    """The check above is not vacuous: one production setting put back to its development value
    (no HSTS) is reported."""
    https_settings.SECURE_HSTS_SECONDS = 0
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    with pytest.raises(SystemCheckError, match=r"security\.W004"):
        call_command("check", deploy=True, fail_level="WARNING")


def test_production_settings_turn_debug_off_and_https_on(https_settings):
    assert https_settings.DEBUG is False
    assert https_settings.SECURE_SSL_REDIRECT is True
    assert https_settings.SESSION_COOKIE_SECURE is True
    assert https_settings.CSRF_COOKIE_SECURE is True
    assert https_settings.SECURE_HSTS_SECONDS >= 365 * 24 * 3600
    assert https_settings.SECURE_HSTS_INCLUDE_SUBDOMAINS is True
    assert https_settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")


def test_a_plain_http_request_is_redirected_to_https(client, https_settings):
    response = client.get("/", HTTP_X_FORWARDED_PROTO="http")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_the_settings_refuse_https_with_the_development_secret_key():
    """ASVS 13.3.1: the development key is in the source; a process over HTTPS does not start with it."""
    from django.core.exceptions import ImproperlyConfigured

    import hcmgov.settings

    from .conftest import _settings_under

    with pytest.raises(ImproperlyConfigured, match="HCMGOV_SECRET_KEY"):
        _settings_under({"HCMGOV_HTTPS": "1", "HCMGOV_SECRET_KEY": hcmgov.settings._DEVELOPMENT_SECRET_KEY})


def test_check_deploy_warns_of_open_metrics_over_https(https_settings, monkeypatch):
    https_settings.METRICS_TOKEN = ""
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    with pytest.raises(SystemCheckError, match=r"hcmgov\.W120"):
        call_command("check", deploy=True, fail_level="WARNING")


@pytest.mark.django_db
def test_metrics_need_the_token_when_one_is_set(client, settings):
    """ASVS 13.4.5: with HCMGOV_METRICS_TOKEN, /metrics answers only the monitoring system."""
    settings.METRICS_TOKEN = "scrape-secret-for-tests"
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert b"hcmgov_" not in refused.content
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-for-tests")
    assert allowed.status_code == 200
    assert b"hcmgov_http_requests_total" in allowed.content
