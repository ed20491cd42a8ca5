"""Playwright on Debian's Chromium against pytest-django's ``live_server``.

One browser per session, a new context (cookies, language, viewport) per test. Never
``playwright install``: CI installs the ``chromium`` package and the tests drive /usr/bin/chromium.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("HCMGOV_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VENDOR = Path(__file__).resolve().parents[2] / "src" / "hcmgov" / "web" / "static" / "vendor"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
# axe-core, a pinned devDependency of frontend/package.json (`make assets` installs it): read by the
# tests and injected into the page under test, never copied to the static folder nor served.
AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
EID_CLIENT, EID_SECRET = "hcmgov-browser", "browser-secret-0123456789"  # the live server, at the e-ID simulator
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]  # WCAG 2.1 level AA, as the issue asks
AXE_RUN_JS = """tags => axe.run(document, {runOnly: tags, resultTypes: ['violations']})
  .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
  nodes: v.nodes.map(n => ({target: n.target.join(' '), impact: n.impact, html: n.html.slice(0, 200)})),
  })))"""

# Playwright's sync API keeps an asyncio loop in this thread; the ORM calls the tests make between
# browser steps (factories, services, counting rows) are plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist registers this marker itself; `-p no:xdist` with --strict-markers needs it too.
    config.addinivalue_line("markers", "xdist_group(name): run these tests in the same xdist worker")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium (never `playwright install`)")
    if not (VENDOR / "pico" / "pico.min.css").exists():
        pytest.fail("front-end assets missing under src/hcmgov/web/static/vendor: run `make assets`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Visitor:
    """One person at one browser: a context of their own (cookies, language, viewport)."""

    def __init__(self, browser: Any, base_url: str, **options: Any) -> None:
        options.setdefault("locale", "vi-VN")  # Accept-Language picks the page language
        self.base_url = base_url
        self.context = browser.new_context(base_url=base_url, **options)
        self.context.set_default_timeout(30_000)  # a busy CI machine: the first page warms the process up
        self.foreign_requests: list[str] = []
        self.outside: list[str] = []  # simulators of outside systems the journey goes through (allow)
        self.context.on("request", self._record)
        self.page = self.context.new_page()

    def allow(self, base_url: str) -> None:
        """Let the pages go to ``base_url``: the simulator of an outside system (e-ID, gateway) whose own
        pages the person passes through."""
        self.outside.append(base_url)

    def _record(self, request: Any) -> None:
        url = request.url
        if not url.startswith((self.base_url, "data:", "about:", "blob:", *self.outside)):
            self.foreign_requests.append(url)

    def login(self, username: str, password: str) -> None:
        page = self.page
        page.goto("/dang-nhap/")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill(password)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(lambda url: "/dang-nhap/" not in url)
        if "/tai-khoan/xac-thuc/" in page.url:  # officials: then the code their authenticator app shows
            from hcmgov.identity.selectors import user_by_username
            from hcmgov.identity.tests.factories import totp_code

            page.get_by_label("Mã xác thực").fill(totp_code(user_by_username(username=username)))
            page.get_by_role("button", name="Xác nhận").click()
            page.wait_for_url(lambda url: "/tai-khoan/xac-thuc/" not in url)

    def login_as(self, user: Any) -> None:
        """A session for ``user`` without the login page (tests of other pages: saves a page load)."""
        from django.conf import settings
        from django.test import Client

        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        self.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": self.base_url}])

    def choose_language(self, code: str) -> None:
        """What the header's language switch leaves behind: the language cookie (pages ignore
        Accept-Language, Vietnamese first)."""
        from django.conf import settings

        self.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": code, "url": self.base_url}])

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's WCAG 2.1 A/AA violations on the page as it is now (the context must be opened
        with ``bypass_csp=True``: the script is injected inline, which the site's policy forbids)."""
        if not AXE.exists():
            pytest.fail(f"{AXE} missing: run `make assets` (npm ci installs the devDependency axe-core)")
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(path=str(AXE))
        return list(self.page.evaluate(AXE_RUN_JS, AXE_TAGS))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Any, live_server: Any) -> Iterator[Any]:
    """``visit(**context_options)`` opens a new browser context; all are closed after the test, and
    no page may have fetched anything from outside the live server (no CDN)."""
    opened: list[Visitor] = []

    def _open(**options: Any) -> Visitor:
        visitor = Visitor(browser, live_server.url, **options)
        opened.append(visitor)
        return visitor

    yield _open
    foreign = [url for v in opened for url in v.foreign_requests]
    for visitor in opened:
        visitor.close()
    assert not foreign, f"pages fetched from outside the live server: {foreign}"


@pytest.fixture
def eid_provider(live_server: Any, settings: Any) -> Iterator[str]:
    """The national e-ID (``hcmgov sim eid``), with the live server registered as a client."""
    from hcmgov.identity import eid
    from hcmgov.simulators import running

    clients = {
        EID_CLIENT: {
            "client_secret": EID_SECRET,
            "redirect_uris": [f"{live_server.url}/dang-nhap/vneid/callback/"],
            "post_logout_redirect_uris": [f"{live_server.url}/"],
        }
    }
    eid.provider_cache_clear()
    with running("eid", clients=clients) as base_url:
        settings.EID_DISCOVERY_URL = base_url + "/.well-known/openid-configuration"
        settings.EID_CLIENT_ID = EID_CLIENT
        settings.EID_CLIENT_SECRET = EID_SECRET
        settings.EID_CLOCK_SKEW = 60
        yield base_url
    eid.provider_cache_clear()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """PBKDF2 costs ~0.4 s per hash; accounts are made and logged into in every test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
