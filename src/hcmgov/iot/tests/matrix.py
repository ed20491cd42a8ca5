"""The IoT dashboard's rows of the authorization matrix (``web/tests/test_authorization_matrix.py``).

The matrix fills a route's parameters from its ``authz_world``, which has no IoT device yet; the
sensor page's parameters are this mapping, which registers one (in the test's transaction) when the
matrix reads ``device_id``. Once the world carries a device, the route's entry becomes
``Route({"device_id": "iot_device_code"})`` and this module goes."""

from __future__ import annotations

from typing import Any

MATRIX_DEVICE = "hcm-aq-matrix"


class DeviceParams(dict[str, str]):
    def __getitem__(self, key: str) -> str:
        if key != "device_id":
            return super().__getitem__(key)
        from hcmgov.iot.models import Device
        from hcmgov.iot.tests.factories import DeviceFactory

        device: Any = Device.objects.filter(code=MATRIX_DEVICE).first() or DeviceFactory(code=MATRIX_DEVICE)
        return "=" + device.code


DEVICE_PARAMS = DeviceParams(device_id="")
