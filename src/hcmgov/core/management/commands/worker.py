"""Run the task worker with its scheduler (Celery worker + beat in one process)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the task worker and the periodic scheduler (outbox delivery, notifications, heartbeat)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--concurrency", type=int, default=2)
        parser.add_argument(
            "--no-beat", action="store_true", help="Run without the scheduler (extra workers at city scale)."
        )
        parser.add_argument(
            "--hostname",
            default="",
            help="The worker's node name, unique among the workers sharing a broker (default worker<pid>@<host>: "
            "Celery's own default, celery@<host>, makes a second worker on one machine die on its control "
            "queue with RESOURCE_LOCKED). systemd units: worker-%%i@%%H.",
        )

    def handle(
        self, *args: Any, concurrency: int = 2, no_beat: bool = False, hostname: str = "", **options: Any
    ) -> None:
        from hcmgov.celery import app

        for key in ("data_folder_in", "data_folder_out", "processed_folder"):
            folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get(key)
            if folder:
                Path(folder).mkdir(parents=True, exist_ok=True)
        argv = [
            "worker",
            "--loglevel=INFO",
            "--pool=threads",
            f"--concurrency={concurrency}",
            "--without-gossip",
            "--without-mingle",
            f"--hostname={hostname or f'worker{os.getpid()}@%h'}",
        ]
        if not no_beat:
            argv.append("--beat")
        app.worker_main(argv)
