"""Run a simulator of an outside system (``hcmgov sim sms``) for development, demos and tests."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hcmgov import simulators


class Command(BaseCommand):
    help = "Serve the simulator of an outside system (SMS gateway, …) over HTTP until interrupted."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", nargs="?", help="Simulator to run; without a name: list them.")
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=0, help="Port to listen on (default: a free one).")
        parser.add_argument("--sensors", type=int, default=100, help="iot: sensors to simulate (MQTT publisher).")
        parser.add_argument("--interval", type=float, default=10.0, help="iot: seconds between a sensor's readings.")

    def handle(
        self, *args: Any, name: str | None = None, host: str = "127.0.0.1", port: int = 0, **options: Any
    ) -> None:
        known = [*simulators.names(), "iot"]  # iot publishes over MQTT (hcmgov.simulators.iot), no HTTP app
        if name == "iot":
            from django.conf import settings

            from hcmgov.simulators import iot

            iot.run(
                sensors=options["sensors"],
                url=settings.IOT_MQTT_URL,
                interval=options["interval"],
                say=self.stdout.write,
            )
            return
        if not name:
            self.stdout.write("Trình mô phỏng / simulators: " + ", ".join(known))
            return
        if name not in known:
            raise CommandError(
                f"Không có trình mô phỏng {name!r} / unknown simulator {name!r}. "
                f"Có / known: {', '.join(known) or '(none)'}"
            )

        def ready(base_url: str) -> None:
            self.stdout.write(f"simulator {name}: {base_url}/  (Ctrl-C dừng / stops)")
            self.stdout.flush()

        simulators.serve(name, host, port, ready=ready)
