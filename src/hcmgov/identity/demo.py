"""The demo city's second factor: every demo official and the demo administrator have an
authenticator app whose secret is published here, like the demo password (``hcmgov demo`` prints
both). ``hcmgov totp LOGIN`` shows the code such an app would show now; it refuses any account
whose app is not the demo one, so it reveals nothing about real officials' codes."""

from __future__ import annotations

import base64
import time

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from hcmgov.identity.models import User

DEMO_TOTP_KEY = "68636d676f762d64656d6f2d746f74702d32303236"  # published: "hcmgov-demo-totp-2026" in hex
DEVICE_NAME = "Ứng dụng xác thực (demo) / Authenticator app (demo)"


def demo_totp_secret() -> str:
    """The demo secret as authenticator apps take it (base32)."""
    return base64.b32encode(bytes.fromhex(DEMO_TOTP_KEY)).decode().rstrip("=")


def demo_totp_device(*, user: User) -> TOTPDevice:
    """Give ``user`` the demo authenticator app (once; kept if they already have one)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, key=DEMO_TOTP_KEY, confirmed=True)
    return device


def demo_totp_code(*, username: str) -> str | None:
    """The code the demo app of ``username`` shows now (None: no such account or not a demo app).
    A code already used in this 30-second step is refused by django-otp: the next step's is given."""
    device = TOTPDevice.objects.filter(user__username=username, confirmed=True, key=DEMO_TOTP_KEY).first()
    return None if device is None else totp_next_code(device)


def totp_next_code(device: TOTPDevice) -> str:
    """The code ``device`` shows now, or — when this 30-second step's code was already used (django-otp
    refuses a code twice) — the next step's, which it accepts. For the demo and the tests."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = max(time.time(), (device.last_t + 1) * device.step + device.t0)
    return f"{totp.token():0{device.digits}d}"
