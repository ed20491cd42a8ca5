"""The long batch jobs have a queue and a worker of their own: a warehouse refresh that runs for
minutes never holds a thread that the outbox, the notifications and the national pushes need."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.conf import settings

from hcmgov.celery import TASK_APPS, app
from hcmgov.core.management.commands.worker import BulkWorker

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _wait(check, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _queue_of(name: str) -> str:
    route = app.amqp.router.route({}, name)
    return route["queue"].name


def test_the_long_jobs_go_to_the_bulk_queue_and_the_rest_to_the_default_one():
    for module in TASK_APPS:
        __import__(f"{module}.tasks")
    assert set(settings.BULK_TASKS) <= set(app.tasks)  # a misspelt name would route nothing
    assert {name: _queue_of(name) for name in settings.BULK_TASKS} == dict.fromkeys(
        settings.BULK_TASKS, settings.BULK_QUEUE
    )
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in scheduled - set(settings.BULK_TASKS):
        assert _queue_of(name) == "celery", name
    assert _queue_of("core.outbox_deliver") == "celery"


def test_the_bulk_worker_is_started_again_when_it_dies_and_stopped_with_us():
    bulk = BulkWorker(SLEEPER)
    bulk.start()
    try:
        first = bulk.proc
        assert first is not None
        first.kill()
        _wait(lambda: bulk.proc is not first and bulk.proc is not None and bulk.proc.poll() is None)
        second = bulk.proc
    finally:
        bulk.stop()
    assert second.poll() is not None  # stopped, and not started again
    time.sleep(2.5)
    assert bulk.proc is second


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_bulk_worker_dies_with_a_worker_killed_outright(tmp_path: Path):
    """SIGKILL leaves no time for a ``finally``: the kernel sends the child SIGTERM instead."""
    pidfile = tmp_path / "child"
    script = textwrap.dedent(
        f"""
        import time
        from hcmgov.core.management.commands.worker import BulkWorker
        bulk = BulkWorker({SLEEPER!r})
        bulk.start()
        open({str(pidfile)!r}, "w").write(str(bulk.proc.pid))
        time.sleep(120)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script])  # noqa: S603 - our own script
    try:
        _wait(lambda: pidfile.exists() and pidfile.read_text() != "")
        child = int(pidfile.read_text())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        _wait(lambda: not _alive(child), timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_hcmgov_worker_serves_the_default_queue_and_starts_the_bulk_one_beside_it(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {"HCMGOV_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "hcmgov.settings"}
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "hcmgov.cli", "worker", "--no-beat", "--concurrency", "1", "--hostname", "w@test"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(lambda: log.read_text(errors="replace").count(" ready.") == 2, timeout=90)
        text = log.read_text(errors="replace")
        assert "w@test ready." in text
        assert "w-bulk@test ready." in text
        # each names its one queue in its banner (".> celery  exchange=celery(direct) key=celery")
        assert text.count(".> celery ") == 1
        assert text.count(f".> {settings.BULK_QUEUE} ") == 1
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert "starting it again" not in log.read_text(errors="replace")  # not while stopping


def test_an_unknown_queue_is_refused():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="unknown queue"):
        call_command("worker", queues="celery,fast")
