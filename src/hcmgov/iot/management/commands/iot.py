"""``hcmgov iot``: the IoT platform's processes and chores — ``ingest`` (the MQTT ingester, until
stopped), ``end-session`` (a retired ingester's broker session), ``maintain`` (partitions ahead,
retention: the hourly task, by hand), ``device`` (register a device and print its MQTT password) and
``broker-sync`` (the devices' accounts on Mosquitto's dynamic security plugin, ``iot.broker``)."""

from __future__ import annotations

import datetime as dt
import logging
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from hcmgov.common.errors import DomainError


class Command(BaseCommand):
    help = "Nền tảng IoT: nhận dữ liệu MQTT, bảo trì lưu trữ, đăng ký thiết bị / IoT: ingest, maintain, device."

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{ingest,end-session,maintain,device,broker-sync}"
        )
        ingest = actions.add_parser(
            "ingest", help="Nhận dữ liệu từ MQTT đến khi dừng / consume MQTT readings until stopped."
        )
        ingest.add_argument("--client-id", default=None, help="Stable MQTT client id (default IOT_MQTT_CLIENT_ID).")
        ingest.add_argument("--url", default=None, help="Broker URL (default IOT_MQTT_URL).")
        ingest.add_argument("--metrics-port", type=int, default=0, help="Serve Prometheus metrics on this port.")
        end = actions.add_parser(
            "end-session",
            help="Kết thúc phiên MQTT của một bộ nhận đã ngừng hẳn / end a retired ingester's persistent session.",
        )
        end.add_argument("--client-id", required=True)
        end.add_argument("--url", default=None, help="Broker URL (default IOT_MQTT_URL).")
        actions.add_parser("maintain", help="Tạo phân vùng, xoá dữ liệu quá hạn / partitions ahead, retention.")
        device = actions.add_parser("device", help="Đăng ký thiết bị / register (or update) a device.")
        device.add_argument("code")
        device.add_argument("--kind", default="air-quality", choices=["air-quality", "traffic"])
        device.add_argument("--name", default=None)
        device.add_argument("--lat", type=float, default=10.7769)
        device.add_argument("--lon", type=float, default=106.7009)
        device.add_argument("--ward", default="")
        device.add_argument("--password", default=None, help="Set this password (default: a generated one).")
        actions.add_parser(
            "broker-sync",
            help="Đồng bộ tài khoản thiết bị trên Mosquitto / sync the devices' broker accounts (dynamic security).",
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "ingest":
                self.ingest(client_id=options.get("client_id"), url=options.get("url"), port=options["metrics_port"])
            elif action == "end-session":
                from hcmgov.iot.ingester import session_end

                session_end(options["client_id"], options.get("url"))
                self.stdout.write(f"iot: session of {options['client_id']} ended")
            elif action == "maintain":
                from hcmgov.iot import services

                report = services.storage_maintain(now=dt.datetime.now(dt.UTC))
                self.stdout.write(", ".join(f"{k}: {v}" for k, v in report.items()))
            elif action == "broker-sync":
                self.broker_sync()
            else:
                self.device(**options)
        except DomainError as exc:
            raise CommandError(f"{exc.message.vi} / {exc.message.en}") from exc

    def device(
        self, *, code: str, kind: str, name: str | None, lat: float, lon: float, ward: str, **options: Any
    ) -> None:
        from hcmgov.iot import services

        device, password = services.device_register(
            code=code,
            kind=kind,
            name=name or f"Trạm {code}",
            name_en=name or f"Station {code}",
            latitude=lat,
            longitude=lon,
            ward_code=ward,
        )
        if options.get("password"):
            password = services.device_credentials_reset(device=device, password=options["password"])
        if password and settings.IOT_BROKER_DYNSEC:
            from hcmgov.iot import broker

            try:
                with broker.Dynsec() as session:
                    broker.device_provision(session, device=device, password=password)
            except broker.BrokerError as exc:  # registered; `broker-sync` gives it an account later
                raise CommandError(f"Mosquitto: {exc} ({device.code} registered, no broker account yet)") from exc
        self.stdout.write(f"{device.entity_id} username={device.mqtt_username} password={password or '(unchanged)'}")

    def broker_sync(self) -> None:
        from hcmgov.iot import broker

        if not settings.IOT_BROKER_DYNSEC:
            raise CommandError("IOT_BROKER_DYNSEC chưa bật / is off: the broker's accounts are not managed here.")
        try:
            with broker.Dynsec() as session:
                report = broker.broker_sync(session=session)
        except broker.BrokerError as exc:
            raise CommandError(f"Mosquitto: {exc}") from exc
        for username, password in report.created.items():  # shown once: only hashes are kept
            self.stdout.write(f"created {username} password={password}")
        for username in report.enabled:
            self.stdout.write(f"enabled {username}")
        for username in report.disabled:
            self.stdout.write(f"disabled {username}")
        self.stdout.write(
            f"iot broker-sync: {len(report.created)} created, {len(report.enabled)} enabled, "
            f"{len(report.disabled)} disabled, {report.unchanged} unchanged; ingester: {report.ingester or '—'}"
        )

    def ingest(self, *, client_id: str | None, url: str | None, port: int) -> None:
        from hcmgov.iot.ingester import Ingester, default_client_id

        if port:
            from prometheus_client import start_http_server

            start_http_server(port, addr="127.0.0.1")
        logging.getLogger("hcmgov.iot").setLevel(logging.INFO)
        ingester = Ingester(client_id=client_id or default_client_id(), url=url)

        def stop(_signum: int, _frame: Any) -> None:
            ingester.stop.set()
            with ingester.cond:
                ingester.cond.notify_all()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"iot ingest: {ingester.client_id} → {ingester.url} {ingester.subscription}")
        self.stdout.flush()
        ingester.run()
        t = ingester.totals
        self.stdout.write(f"iot ingest: stopped; {t.stored} stored, {t.duplicates} duplicates, {t.rejected} rejected")
