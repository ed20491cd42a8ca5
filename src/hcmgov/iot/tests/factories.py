"""Factories of the IoT platform's devices (the demo and the simulator use the services)."""

from __future__ import annotations

import factory

from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.iot.models import URN_PREFIX, Device, DeviceKind, DeviceStatus
from hcmgov.iot.services import default_attributes, password_hash

PASSWORD = "mat-khau-thiet-bi"  # every factory device's password


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    code = factory.Sequence(lambda n: f"hcm-aq-{n:04d}")
    entity_id = factory.LazyAttribute(lambda o: URN_PREFIX + o.code)
    kind = DeviceKind.AIR_QUALITY
    name = factory.LazyAttribute(lambda o: f"Trạm quan trắc {o.code}")
    name_en = factory.LazyAttribute(lambda o: f"Monitoring station {o.code}")
    agency = factory.SubFactory(AgencyFactory)
    latitude = 10.7769
    longitude = 106.7009
    ward_code = "26734"
    status = DeviceStatus.ACTIVE
    attributes = factory.LazyAttribute(lambda o: default_attributes(o.kind))
    calibration = factory.LazyFunction(dict)
    mqtt_username = factory.LazyAttribute(lambda o: o.code)
    # few iterations: the check reads them from the hash, and tests make many devices
    mqtt_password_hash = factory.LazyFunction(lambda: password_hash(PASSWORD, iterations=1000))

    class Params:
        traffic = factory.Trait(kind=DeviceKind.TRAFFIC, code=factory.Sequence(lambda n: f"hcm-tf-{n:04d}"))
        maintenance = factory.Trait(status=DeviceStatus.MAINTENANCE)
        retired = factory.Trait(status=DeviceStatus.RETIRED)
