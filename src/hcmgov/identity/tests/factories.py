"""Factories of accounts and roles (also used by ``hcmgov demo``)."""

from __future__ import annotations

from typing import Any

import factory
from django_otp.plugins.otp_totp.models import TOTPDevice

from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.identity.demo import totp_next_code
from hcmgov.identity.models import RoleAssignment, User, UserKind

PASSWORD = "demo-Matkhau-2026"
# The authenticator-app secret of every official and administrator the factories make (hex, 20
# bytes): tests and the browser tests compute their one-time codes from it (``totp_code``).
TOTP_KEY = "3132333435363738393031323334353637383930"


def _totp_device(user: User, create: bool, extracted: Any, **kwargs: Any) -> None:
    """Officials and administrators get a confirmed authenticator app (``totp_device=False``: none,
    to test enrolment). The device is also put on the instance as ``otp_device``: the root
    conftest's ``client.force_login(user)`` then counts the second factor as proved, so tests of
    other pages skip the code as they skip the password."""
    if not create or extracted is False or user.kind not in {UserKind.OFFICIAL, UserKind.ADMIN}:
        return
    device = TOTPDevice.objects.create(user=user, name="test app", key=TOTP_KEY, confirmed=True)
    user.otp_device = device  # type: ignore[attr-defined]


def totp_code(user: Any) -> str:
    """A one-time code ``user``'s authenticator app would show now, not yet used (django-otp refuses
    a code twice: after a login in this 30-second step, the next step's code, which it accepts)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()
    assert device is not None, f"{user} has no authenticator app"
    return totp_next_code(device)


def otp_force_login(client: Any, user: Any) -> None:
    """``client.force_login`` with the second factor proved, for a user read back from the database
    (factory-made instances carry their device already)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        user.otp_device = device
    client.force_login(user)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    kind = UserKind.CITIZEN
    full_name = factory.Faker("name", locale="vi_VN")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.vn")
    personal_id = factory.Sequence(lambda n: f"079{n:09d}")
    phone = factory.Sequence(lambda n: f"09{n:08d}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)
    totp_device = factory.PostGeneration(_totp_device)

    @classmethod
    def _after_postgeneration(cls, instance: User, create: bool, results: dict | None = None) -> None:
        if create:  # the password hook changed the instance after it was first saved
            instance.save()

    class Params:
        official = factory.Trait(
            kind=UserKind.OFFICIAL, personal_id=None, username=factory.Sequence(lambda n: f"canbo{n}")
        )
        business = factory.Trait(
            kind=UserKind.BUSINESS, personal_id=None, tax_code=factory.Sequence(lambda n: f"03{n:08d}")
        )
        admin = factory.Trait(kind=UserKind.ADMIN, personal_id=None, is_staff=True, is_superuser=True)


class RoleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(UserFactory, official=True)
    role = "receiver"
    agency = factory.SubFactory(AgencyFactory)
