"""Factories of accounts and roles (also used by ``hcmgov demo``)."""

from __future__ import annotations

import factory

from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.identity.models import RoleAssignment, User, UserKind

PASSWORD = "demo-Matkhau-2026"


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
