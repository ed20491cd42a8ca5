"""Requests to addresses outsiders choose never reach the platform's own machines (SSRF)."""

from __future__ import annotations

import pytest

from hcmgov.common.netguard import url_refusal


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/admin/",
        "http://localhost/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "http://10.1.2.3/hook",
        "http://192.168.0.10/",
        "http://172.16.5.5/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[fc00::1]/",
        "ftp://example.vn/",
        "http:///nohost",
    ],
)
def test_internal_and_odd_addresses_are_refused(url):
    why = url_refusal(url)
    assert why
    assert " / " in why  # Vietnamese, then English


def test_public_addresses_and_the_operators_exceptions_pass():
    assert url_refusal("https://93.184.216.34/hook") == ""
    assert url_refusal("http://10.1.2.3/hook", allowed=["10.0.0.0/8"]) == ""
    assert url_refusal("http://127.0.0.1:9/", allowed=["127.0.0.0/8"]) == ""
    assert url_refusal("http://localhost/", allowed=["localhost"]) == ""
    assert url_refusal("http://10.1.2.3/hook", allowed=["10.9.0.0/16"])  # another network: still refused


def test_a_name_that_does_not_resolve_reaches_nothing_and_is_not_refused():
    assert url_refusal("http://khong-ton-tai.invalid/hook") == ""
