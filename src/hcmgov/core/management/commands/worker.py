"""Run the task worker with its scheduler (Celery worker + beat in one process).

Two queues: the default one (the outbox, notifications, national pushes, OCR, results: work that
someone waits for) and ``settings.BULK_QUEUE`` (long batch jobs, ``settings.BULK_TASKS``). Without
``--queues`` this process serves the default queue and keeps a second worker process beside it for
the bulk queue (one thread), started again if it dies and stopped with this one: however long a
warehouse refresh runs, it never holds a thread the outbox needs. At city scale each kind runs as
its own service with ``--queues`` (deploy/systemd).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

log = logging.getLogger(__name__)

RESTART_SECONDS = 2.0
STOP_SECONDS = 30.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """The bulk worker gets SIGTERM when this process dies, even by SIGKILL (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class BulkWorker:
    """The bulk queue's worker process beside this one: started, kept running, stopped."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.stopping = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()
        self.keeper = threading.Thread(target=self._keep, name="bulk-worker-keeper", daemon=True)

    def start(self) -> None:
        self._spawn()
        self.keeper.start()

    def _spawn(self) -> None:
        with self.lock:
            if not self.stopping.is_set():
                preexec = _die_with_parent if sys.platform.startswith("linux") else None
                self.proc = subprocess.Popen(self.argv, preexec_fn=preexec)  # noqa: S603 - our own command

    def _keep(self) -> None:
        while not self.stopping.is_set():
            proc = self.proc
            code = proc.wait() if proc else None
            if self.stopping.wait(RESTART_SECONDS):
                return
            log.warning("the bulk queue's worker exited (status %s): starting it again", code)
            self._spawn()

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # Celery's warm shutdown: the task in hand is finished first
        try:
            proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()  # the bulk jobs are transactional and run again on their next tick
            proc.wait()


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
        parser.add_argument(
            "--queues",
            default="",
            help="Comma-separated queues to serve in this process only: 'celery' (the default queue) and/or "
            f"'{settings.BULK_QUEUE}' (long batch jobs). Default: the default queue here, and a second worker "
            f"process beside this one for '{settings.BULK_QUEUE}' (one thread).",
        )

    def handle(
        self,
        *args: Any,
        concurrency: int = 2,
        no_beat: bool = False,
        hostname: str = "",
        queues: str = "",
        **options: Any,
    ) -> None:
        from hcmgov.celery import app

        known = {settings.CELERY_TASK_DEFAULT_QUEUE, settings.BULK_QUEUE}
        chosen = [q.strip() for q in queues.split(",") if q.strip()]
        unknown = sorted(set(chosen) - known)
        if unknown:
            raise CommandError(f"unknown queue(s) {', '.join(unknown)}: choose from {', '.join(sorted(known))}")
        for key in ("data_folder_in", "data_folder_out", "processed_folder"):
            folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get(key)
            if folder:
                Path(folder).mkdir(parents=True, exist_ok=True)
        node = hostname or f"worker{os.getpid()}@%h"
        argv = [
            "worker",
            "--loglevel=INFO",
            "--pool=threads",
            f"--concurrency={concurrency}",
            "--without-gossip",
            "--without-mingle",
            f"--hostname={node}",
            f"--queues={','.join(chosen or [settings.CELERY_TASK_DEFAULT_QUEUE])}",
        ]
        if not no_beat:
            argv.append("--beat")
        bulk = None
        if not chosen:
            name, _, host = node.partition("@")
            bulk = BulkWorker(
                [
                    sys.executable,
                    "-m",
                    "hcmgov.cli",
                    "worker",
                    f"--queues={settings.BULK_QUEUE}",
                    "--concurrency=1",
                    "--no-beat",
                    f"--hostname={name}-{settings.BULK_QUEUE}@{host or '%h'}",
                ]
            )
            bulk.start()
        try:
            app.worker_main(argv)
        finally:
            if bulk is not None:
                bulk.stop()
