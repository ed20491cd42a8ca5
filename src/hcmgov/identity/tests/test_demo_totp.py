"""The demo accounts' published second factor: `hcmgov totp LOGIN` gives a code the login accepts,
and nothing for an account whose authenticator app is not the demo one."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from hcmgov.identity.demo import demo_totp_device, demo_totp_secret
from hcmgov.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_demo_code_is_accepted_and_real_officials_codes_are_not_given():
    demo = UserFactory(username="canbo.demo", official=True, totp_device=False)
    device = demo_totp_device(user=demo)
    assert demo_totp_device(user=demo) == device  # once
    out = StringIO()
    call_command("totp", "canbo.demo", stdout=out)
    assert device.verify_token(out.getvalue().strip())
    real = UserFactory(username="canbo.that", official=True)  # the factory's own app, not the demo one
    assert TOTPDevice.objects.filter(user=real).exists()
    with pytest.raises(CommandError):
        call_command("totp", "canbo.that", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("totp", "nobody", stdout=StringIO())
    assert len(demo_totp_secret()) == 34  # 21 bytes in base32, unpadded
