"""Per-device MQTT accounts on Mosquitto's dynamic security plugin (``hcmgov iot broker-sync``).

The broker, not the ingester, keeps a device to its own topic: each registered device is a
Mosquitto client (username: the device code) holding its own role ``hcmgov-device-<code>``, whose
one ACL lets it publish on ``hcmgov/iot/<code>/readings`` and nothing else (the plugin's default
denies every other publish). One role per device because Mosquitto 2.0's plugin does not expand
``%u`` in ACL topics (tried: a shared role on ``hcmgov/iot/%u/readings`` refuses every device).
The ingesters' client holds ``hcmgov-ingester``: subscribe to the shared subscription of
:mod:`hcmgov.iot.ingester` and receive the devices' readings. A device out of service (maintenance,
retired) or gone from the registry is *disabled* — the plugin refuses its connections and
disconnects it at once — never deleted, so its history in the broker's file stays readable.

The platform speaks the plugin's own protocol (docs/iot/broker.md): JSON commands published as an
admin client on ``$CONTROL/dynamic-security/v1``, answers read on
``$CONTROL/dynamic-security/v1/response``, matched by ``correlationData``.

Passwords: the plugin takes a password in clear (``createClient``, ``setClientPassword``) and keeps
only its salted PBKDF2-SHA512 hash. The platform keeps its own hash for the HTTP endpoint
(``Device.mqtt_password_hash``) and never the clear text: a device the broker does not know yet
gets a new generated password, set in both places and returned once to whoever ran the sync.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from django.conf import settings
from paho.mqtt.subscribeoptions import SubscribeOptions

from hcmgov.iot import ingester
from hcmgov.iot.models import Device, DeviceStatus

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
DEVICE_ROLE_PREFIX = "hcmgov-device-"
INGESTER_ROLE = "hcmgov-ingester"
DEVICE_TEXT = "hcmgov device"
# answers to a create or an add that mean "already there": the sync is idempotent
ALREADY = ("already exists", "already has role", "already in")


class BrokerError(Exception):
    """The broker refused a command, did not answer, or refused the admin client."""


def device_role(code: str) -> str:
    return DEVICE_ROLE_PREFIX + code


def device_topic(code: str) -> str:
    """The ingester's topic of a device (``ingester.TOPIC`` with the device's level)."""
    return ingester.TOPIC.replace("+", code)


def device_role_commands(code: str) -> list[dict[str, Any]]:
    """The device's role and its one ACL (both accepted when they exist)."""
    return [
        {"command": "createRole", "rolename": device_role(code), "textname": f"hcmgov: readings of {code}"},
        {
            "command": "addRoleACL",
            "rolename": device_role(code),
            "acltype": "publishClientSend",
            "topic": device_topic(code),
            "allow": True,
            "priority": 0,
        },
    ]


def ingester_acls(group: str) -> list[dict[str, Any]]:
    """The shared subscription exactly as the ingester makes it (Mosquitto 2.0 checks the filter
    with its ``$share/<group>/`` prefix: a plain ``hcmgov/iot/+/readings`` does not grant it, tried),
    and receiving what it carries."""
    return [
        {"acltype": "subscribePattern", "topic": f"$share/{group}/{ingester.TOPIC}", "allow": True, "priority": 0},
        {"acltype": "publishClientReceive", "topic": ingester.TOPIC, "allow": True, "priority": 0},
    ]


class Dynsec:
    """An admin session with the dynamic security plugin: ``with Dynsec(...) as d: d.run(...)``."""

    def __init__(
        self, *, url: str | None = None, username: str | None = None, password: str | None = None, timeout: float = 10
    ) -> None:
        self.url = url or settings.IOT_BROKER_ADMIN_URL
        self.username = username or settings.IOT_BROKER_ADMIN_USERNAME
        self.password = password if password is not None else settings.IOT_BROKER_ADMIN_PASSWORD
        self.timeout = timeout
        self.client = ingester.make_client(f"hcmgov-dynsec-{uuid.uuid4().hex[:12]}", manual_ack=False)
        self.cond = threading.Condition()
        self.answers: dict[str, dict[str, Any]] = {}
        self.ready = threading.Event()
        self.refused: str | None = None
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.refused = str(reason)
            self.ready.set()
            return
        client.subscribe(RESPONSE_TOPIC, options=SubscribeOptions(qos=1))

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _m: int, reasons: Any, _p: Any) -> None:
        if any(r.is_failure for r in reasons):
            self.refused = f"subscription to {RESPONSE_TOPIC} refused: {reasons}"
        self.ready.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(message.payload).get("responses", [])
        except (ValueError, AttributeError):
            return
        with self.cond:
            for response in responses:
                if isinstance(response, dict) and isinstance(response.get("correlationData"), str):
                    self.answers[response["correlationData"]] = response
            self.cond.notify_all()

    def __enter__(self) -> Dynsec:
        target = ingester.broker(self.url)
        if target.tls:
            self.client.tls_set()
        self.client.username_pw_set(self.username, self.password)
        self.client.connect(target.host, target.port, keepalive=30, clean_start=True)
        self.client.loop_start()
        if not self.ready.wait(self.timeout):
            self.__exit__()
            raise BrokerError(f"no answer from the broker at {target.host}:{target.port}")
        if self.refused:
            self.__exit__()
            raise BrokerError(f"the broker refused the admin client {self.username!r}: {self.refused}")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def run(self, *commands: dict[str, Any], accept: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Send ``commands`` in one message and return their answers in order. An answer with an
        ``error`` raises BrokerError, unless the error contains one of ``accept``."""
        keyed = [{**c, "correlationData": uuid.uuid4().hex} for c in commands]
        self.client.publish(CONTROL_TOPIC, json.dumps({"commands": keyed}), qos=1)
        keys = [c["correlationData"] for c in keyed]
        with self.cond:
            if not self.cond.wait_for(lambda: all(k in self.answers for k in keys), timeout=self.timeout):
                raise BrokerError(f"the broker did not answer {[c['command'] for c in commands]}")
            answers = [self.answers.pop(k) for k in keys]
        for command, answer in zip(commands, answers, strict=True):
            error = answer.get("error")
            if error and not any(a.lower() in str(error).lower() for a in accept):
                raise BrokerError(
                    f"{command['command']} {command.get('username') or command.get('rolename') or ''}: {error}"
                )
        return answers

    def clients(self) -> dict[str, dict[str, Any]]:
        """Every client of the plugin with its roles and whether it is disabled (``getClient`` each:
        ``listClients`` does not say which are disabled)."""
        names: list[str] = []
        offset = 0
        while True:
            (answer,) = self.run({"command": "listClients", "verbose": False, "count": 1000, "offset": offset})
            page = answer.get("data", {}).get("clients", [])
            names += [c if isinstance(c, str) else c.get("username") for c in page]
            if len(page) < 1000:
                break
            offset += 1000
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(names), 100):
            answers = self.run(*({"command": "getClient", "username": n} for n in names[start : start + 100]))
            for answer in answers:
                client = answer.get("data", {}).get("client", {})
                if client.get("username"):
                    found[client["username"]] = client
        return found


@dataclass
class SyncReport:
    """What a sync changed: passwords of the clients it created (shown once), the clients it enabled
    or disabled, and whether the ingesters' client was set up."""

    created: dict[str, str] = field(default_factory=dict)
    enabled: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    ingester: str = ""
    unchanged: int = 0


def _roles(client: dict[str, Any]) -> set[str]:
    return {r.get("rolename", "") for r in client.get("roles", []) if isinstance(r, dict)}


def ingester_role_ensure(session: Dynsec, *, group: str) -> None:
    """The ingesters' role and its ACLs (a create or an add of what exists is accepted)."""
    session.run(
        {"command": "createRole", "rolename": INGESTER_ROLE, "textname": "hcmgov: read all readings"},
        *({"command": "addRoleACL", "rolename": INGESTER_ROLE, **acl} for acl in ingester_acls(group)),
        accept=ALREADY,
    )


def _is_device_client(client: dict[str, Any]) -> bool:
    return any(name.startswith(DEVICE_ROLE_PREFIX) for name in _roles(client))


def device_provision(session: Dynsec, *, device: Device, password: str) -> None:
    """Create (or re-key and enable) the broker client of ``device`` with ``password``."""
    role = device_role(device.code)
    answers = session.run(
        *device_role_commands(device.code),
        {
            "command": "createClient",
            "username": device.mqtt_username,
            "password": password,
            "textname": DEVICE_TEXT,
            "roles": [{"rolename": role}],
        },
        accept=ALREADY,
    )
    if answers[-1].get("error"):  # it existed: the same end state
        session.run(
            {"command": "setClientPassword", "username": device.mqtt_username, "password": password},
            {"command": "addClientRole", "username": device.mqtt_username, "rolename": role},
            {"command": "enableClient", "username": device.mqtt_username},
            accept=ALREADY,
        )


def broker_sync(*, session: Dynsec) -> SyncReport:
    """Bring the broker's clients in line with the registry; run it as often as wanted.

    - an active device without a client gets one, with a new password (set on the device too);
    - an active device's client is enabled and holds its role;
    - a device in maintenance or retired, and a device client whose device is gone, is disabled;
    - the ingesters' client (the username of ``IOT_MQTT_URL``) holds the ingester role; it is
      created with the URL's password when missing.
    """
    from hcmgov.iot import services  # the services import the models' app; this module is imported early

    report = SyncReport()
    group = settings.IOT_MQTT_SHARE_GROUP
    ingester_role_ensure(session, group=group)
    existing = session.clients()
    devices = {d.mqtt_username: d for d in Device.objects.order_by("code")}
    for username, device in devices.items():
        client = existing.get(username)
        active = device.status == DeviceStatus.ACTIVE
        if client is None:
            if active:
                password = services.device_credentials_reset(device=device)
                device_provision(session, device=device, password=password)
                report.created[username] = password
            continue
        if not active:
            if not client.get("disabled"):
                session.run({"command": "disableClient", "username": username})
                report.disabled.append(username)
            else:
                report.unchanged += 1
            continue
        changed = False
        role = device_role(device.code)
        if role not in _roles(client):
            session.run(
                *device_role_commands(device.code),
                {"command": "addClientRole", "username": username, "rolename": role},
                accept=ALREADY,
            )
            changed = True
        if client.get("disabled"):
            session.run({"command": "enableClient", "username": username})
            report.enabled.append(username)
            changed = True
        report.unchanged += not changed
    for username, client in existing.items():
        if username not in devices and _is_device_client(client) and not client.get("disabled"):
            session.run({"command": "disableClient", "username": username})
            report.disabled.append(username)
    target = ingester.broker(settings.IOT_MQTT_URL)
    if target.username:
        if target.username not in existing:
            session.run(
                {
                    "command": "createClient",
                    "username": target.username,
                    "password": target.password or "",
                    "textname": "hcmgov ingester",
                    "roles": [{"rolename": INGESTER_ROLE}],
                }
            )
        elif INGESTER_ROLE not in _roles(existing[target.username]):
            session.run(
                {"command": "addClientRole", "username": target.username, "rolename": INGESTER_ROLE}, accept=ALREADY
            )
        report.ingester = target.username
    return report
