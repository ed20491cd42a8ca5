"""The MQTT ingester (``hcmgov iot ingest``): readings from the broker to the database, in batches.

- It subscribes with QoS 1 to ``$share/<IOT_MQTT_SHARE_GROUP>/hcmgov/iot/+/readings``: a shared
  subscription, so each message goes to one of the ingesters of the group and they split the load.
- Its session is persistent (MQTT 5, clean start off, a session expiry, a stable client id): while
  it is away the broker keeps its subscription and queues its messages.
- Acknowledgements are manual: a message's PUBACK is sent only after the transaction holding its
  readings (and its quarantined parts) committed. An ingester killed at any moment has acknowledged
  only what is stored; the broker sends the rest again (to it when it comes back, as the session's
  unacknowledged messages), and the unique key (device, attribute, observed_at) drops what had been
  stored but not yet acknowledged.
- A batch closes at ``IOT_BATCH_READINGS`` readings or ``IOT_BATCH_MILLISECONDS`` after its first
  message. paho's network thread only appends messages to the batch; the main thread checks,
  stores and acknowledges them.
- Nothing a device sends stops it: every refusal is quarantined with its reason and counted. When
  the database fails, the batch is kept unacknowledged and tried again.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import close_old_connections, connection
from django.db.utils import DatabaseError, InterfaceError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from hcmgov.iot import metrics, selectors, services, storage
from hcmgov.iot.validation import DeviceInfo, RateLimiter, check_message

log = logging.getLogger(__name__)

TOPIC = "hcmgov/iot/+/readings"
SESSION_EXPIRY_SECONDS = 7 * 24 * 3600  # the broker keeps an absent ingester's session a week
RECEIVE_MAXIMUM = 65535  # unacknowledged messages the broker may have in flight to us (MQTT 5 maximum)


def topic_device(topic: str) -> str | None:
    """The device code of ``hcmgov/iot/<code>/readings``."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "hcmgov" or parts[1] != "iot" or parts[3] != "readings" or not parts[2]:
        return None
    return parts[2]


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None


def broker(url: str) -> Broker:
    """``mqtt://[user:password@]host[:port]`` or ``mqtts://…``."""
    parts = urlsplit(url)
    if parts.scheme not in {"mqtt", "mqtts", "tcp", "ssl"}:
        raise ValueError(f"not an MQTT URL: {url!r}")
    tls = parts.scheme in {"mqtts", "ssl"}
    return Broker(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def make_client(client_id: str, *, manual_ack: bool = True) -> mqtt.Client:
    """A paho client speaking MQTT 5 (callbacks of paho's API version 2)."""
    return mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )


def connect(client: mqtt.Client, url: str, *, persistent: bool = True, keepalive: int = 30) -> None:
    """Connect ``client`` to the broker of ``url``; ``persistent``: clean start off and a session
    that outlives the connection (the broker keeps the subscription and the unacknowledged messages)."""
    target = broker(url)
    if target.tls:
        client.tls_set()
    if target.username:
        client.username_pw_set(target.username, target.password)
    props = Properties(PacketTypes.CONNECT)
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    if persistent:
        props.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
    client.connect(target.host, target.port, keepalive=keepalive, clean_start=not persistent, properties=props)


class DeviceCache:
    """The devices the ingester checks against: all loaded at start and every ``ttl`` seconds; a
    code not found is looked up once (a new device) and then remembered as unknown until the next
    reload, so a flood from unknown devices costs no query per message."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self.devices: dict[str, DeviceInfo] = {}
        self.unknown: set[str] = set()
        self.loaded = 0.0

    def resolve(self, codes: set[str]) -> dict[str, DeviceInfo]:
        if time.monotonic() - self.loaded > self.ttl:
            self.devices, self.unknown, self.loaded = selectors.devices_info(), set(), time.monotonic()
        missing = [c for c in codes if c not in self.devices and c not in self.unknown]
        if missing:
            found = selectors.devices_info(codes=missing)
            self.devices.update(found)
            self.unknown.update(c for c in missing if c not in found)
        return self.devices


@dataclass
class Pending:
    mid: int
    qos: int
    topic: str
    payload: bytes


class Ingester:
    """One ingester process's consumer: ``run()`` until ``stop`` is set."""

    def __init__(
        self,
        *,
        client_id: str,
        url: str | None = None,
        group: str | None = None,
        batch_readings: int | None = None,
        batch_ms: int | None = None,
        on_batch: Callable[[int, services.Stored], None] | None = None,
    ) -> None:
        self.client_id = client_id
        self.url = url or settings.IOT_MQTT_URL
        self.group = group or settings.IOT_MQTT_SHARE_GROUP
        self.batch_readings = batch_readings or settings.IOT_BATCH_READINGS
        self.batch_seconds = (batch_ms or settings.IOT_BATCH_MILLISECONDS) / 1000
        self.on_batch = on_batch
        self.stop = threading.Event()
        self.cond = threading.Condition()
        self.pending: list[Pending] = []
        self.first_at = 0.0
        self.per_message = 1.0  # readings per message, learnt: a batch's size is counted in readings
        self.devices = DeviceCache()
        self.limiter = RateLimiter(settings.IOT_DEVICE_RATE_PER_SECOND, settings.IOT_DEVICE_BURST)
        self.connected = threading.Event()
        self.totals = services.Stored()
        self.client = make_client(client_id)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe

    @property
    def subscription(self) -> str:
        return f"$share/{self.group}/{TOPIC}"

    # --- paho's network thread ----------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("iot ingest: the broker refused the connection: %s", reason)
            return
        client.subscribe(self.subscription, options=SubscribeOptions(qos=1))
        log.info("iot ingest: connected as %s, subscribing to %s", self.client_id, self.subscription)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.error("iot ingest: the broker refused the subscription: %s", reasons)
            return
        log.info("iot ingest: subscribed (%s)", self.client_id)
        self.connected.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self.connected.clear()
        if not self.stop.is_set():
            log.warning("iot ingest: disconnected (%s), reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        item = Pending(message.mid, message.qos, message.topic, bytes(message.payload))
        with self.cond:
            if not self.pending:
                self.first_at = time.monotonic()
            self.pending.append(item)
            if len(self.pending) * self.per_message >= self.batch_readings:
                self.cond.notify()

    # --- the main thread ----------------------------------------------------------------------

    def _take(self) -> list[Pending]:
        with self.cond:
            while not self.stop.is_set():
                if self.pending:
                    due = self.first_at + self.batch_seconds - time.monotonic()
                    if due <= 0 or len(self.pending) * self.per_message >= self.batch_readings:
                        break
                    self.cond.wait(timeout=due)
                else:
                    self.cond.wait(timeout=0.2)
            batch, self.pending = self.pending, []
            return batch

    def run(self) -> None:
        connect(self.client, self.url)
        self.client.loop_start()
        try:
            while not self.stop.is_set():
                batch = self._take()
                if batch:
                    self._process(batch)
            with self.cond:  # what arrived while stopping: stored and acknowledged, not dropped
                rest, self.pending = self.pending, []
            if rest:
                self._process(rest)
        finally:
            self.client.disconnect()
            self.client.loop_stop()

    def _process(self, batch: list[Pending]) -> None:
        delay = 0.5
        while True:
            try:
                result = self.store(batch)
                break
            except (DatabaseError, InterfaceError, Exception) as exc:
                # nothing of the batch is acknowledged: try again on a fresh connection (the checks
                # never raise on input, so this is the database or a bug, not a device)
                log.exception("iot ingest: storing a batch of %s messages failed, retrying: %s", len(batch), exc)
                close_old_connections()
                connection.close()
                if self.stop.wait(delay):
                    return  # stopping: the broker redelivers the batch to the next session
                delay = min(delay * 2, 10.0)
        for item in batch:
            if item.qos > 0:
                self.client.ack(item.mid, item.qos)
        if self.on_batch is not None:
            self.on_batch(len(batch), result)

    def store(self, batch: list[Pending]) -> services.Stored:
        """Check every message of ``batch`` and store it in one transaction."""
        started = time.monotonic()
        now = dt.datetime.now(dt.UTC)
        codes = {topic_device(item.topic) or "" for item in batch}
        devices = self.devices.resolve(codes - {""})
        oldest = storage.raw_cutoff(now)
        future = dt.timedelta(seconds=settings.IOT_MAX_FUTURE_SECONDS)
        max_bytes, max_obs = settings.IOT_MESSAGE_MAX_BYTES, settings.IOT_MESSAGE_MAX_OBSERVATIONS
        received = []
        readings = 0
        for item in batch:
            code = topic_device(item.topic) or ""
            checked = check_message(
                item.payload,
                device=devices.get(code),
                device_code=code,
                received_at=now,
                oldest=oldest,
                max_future=future,
                max_bytes=max_bytes,
                max_observations=max_obs,
                limiter=self.limiter,
            )
            readings += len(checked.rows)
            received.append(services.Received(checked, item.payload, item.topic, code))
        result = services.readings_store(received=received, channel="mqtt", now=now)
        metrics.MESSAGES.labels("mqtt").inc(len(batch))
        metrics.BATCH_SECONDS.observe(time.monotonic() - started)
        self.per_message = max(1.0, 0.8 * self.per_message + 0.2 * (readings + result.rejected) / len(batch))
        self.totals.stored += result.stored
        self.totals.duplicates += result.duplicates
        self.totals.rejected += result.rejected
        return result


def session_end(client_id: str, url: str | None = None) -> None:
    """End the persistent session of ``client_id`` on the broker (an ingester taken out of service
    for good): while it exists, the broker keeps a share of the group's messages for it."""
    client = make_client(client_id, manual_ack=False)
    done = threading.Event()
    client.on_connect = lambda *_args: done.set()
    connect(client, url or settings.IOT_MQTT_URL, persistent=False)
    client.loop_start()
    done.wait(10)
    client.disconnect()
    client.loop_stop()


def default_client_id() -> str:
    return settings.IOT_MQTT_CLIENT_ID or f"hcmgov-ingest-{socket.gethostname()}"
