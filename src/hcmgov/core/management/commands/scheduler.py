"""The periodic scheduler on its own (Celery beat), one active in the city however many are started.

``hcmgov worker`` runs a worker with the scheduler inside it: right for one machine. At city scale
workers run with ``--no-beat`` and two or three ``hcmgov scheduler`` processes run on different
machines: the first to take the lead (``hcmgov.core.leader``) schedules, the others wait and take
over within seconds when it dies. A leader that loses its lock stops scheduling at once and exits
with status 3 (its process manager starts it again, as a standby): two schedulers never both send
the periodic tasks for longer than one polling interval.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from hcmgov.core.leader import leadership

LOST = 3


class Command(BaseCommand):
    help = "Run the periodic scheduler; with several started, one leads and the others wait (leader election)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--poll", type=float, default=2.0, help="Seconds between lock checks (default 2).")
        parser.add_argument("--max-interval", type=float, default=1.0, help="Longest sleep between beat ticks.")

    def handle(self, *args: Any, poll: float = 2.0, max_interval: float = 1.0, **options: Any) -> None:
        from celery import beat

        from hcmgov.celery import app

        stop = threading.Event()

        def terminate(signum: int, frame: Any) -> None:
            stop.set()
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, terminate)
        self.stdout.write("scheduler: waiting for the lead")
        try:
            with leadership("scheduler", poll=poll, stop=stop) as lead:
                self.stdout.write("scheduler: leading", ending="\n")
                self.stdout.flush()
                service = beat.Service(
                    app, max_interval=max_interval, schedule_filename=settings.CELERY_BEAT_SCHEDULE_FILENAME
                )
                threading.Thread(
                    target=lambda: (lead.lost.wait(), service.stop()), name="scheduler-lead", daemon=True
                ).start()
                service.start()
                if lead.lost.is_set() and not stop.is_set():
                    self.stderr.write("scheduler: lost the lead; stopping")
                    sys.exit(LOST)
        except InterruptedError:
            return
