"""Factories of the data sharing platform's registry and event channels."""

from __future__ import annotations

import factory

from hcmgov.exchange.models import (
    AccessRight,
    Channel,
    InformationSystem,
    Member,
    Service,
    ServiceKind,
    Subscription,
)


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    code = factory.Sequence(lambda n: f"000.{n // 100 % 100:02d}.{n % 100:02d}.H29")
    name = factory.Sequence(lambda n: f"Sở thử nghiệm {n}")
    name_en = factory.Sequence(lambda n: f"Test department {n}")


class InformationSystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InformationSystem

    member = factory.SubFactory(MemberFactory)
    code = factory.Sequence(lambda n: f"he-thong-{n}")
    name = factory.Sequence(lambda n: f"Hệ thống thử {n}")
    name_en = factory.Sequence(lambda n: f"Test system {n}")
    contact_email = factory.LazyAttribute(lambda o: f"{o.code}@example.vn")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    system = factory.SubFactory(InformationSystemFactory)
    code = factory.Sequence(lambda n: f"dich-vu-{n}")
    name = factory.Sequence(lambda n: f"Dịch vụ thử {n}")
    name_en = factory.Sequence(lambda n: f"Test service {n}")
    upstream_url = "http://127.0.0.1:9/"

    class Params:
        events = factory.Trait(kind=ServiceKind.EVENTS, upstream_url="")


class ChannelFactory(factory.django.DjangoModelFactory):
    """A channel of dossier events (every ``dossier.*`` topic) unless ``topics`` says otherwise."""

    class Meta:
        model = Channel

    service = factory.SubFactory(ServiceFactory, events=True)
    topics = factory.LazyFunction(lambda: ["dossier.*"])


class AccessRightFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccessRight

    service = factory.SubFactory(ServiceFactory)
    consumer = factory.SubFactory(InformationSystemFactory)
    granted_by = "test"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    """A subscription made without the service's checks (``events.subscription_register`` has them)."""

    class Meta:
        model = Subscription

    channel = factory.SubFactory(ChannelFactory)
    subscriber = factory.SubFactory(InformationSystemFactory)
    callback_url = "http://127.0.0.1:9/hook"
    filters = factory.LazyFunction(dict)
    secret = factory.Sequence(lambda n: f"test-secret-{n:08d}-0123456789")
