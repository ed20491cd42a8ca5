"""Every periodic job the beat schedules is a task the worker knows: a name that no worker
registered would be sent and never run, without an error anywhere."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from hcmgov.celery import TASK_APPS, app


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    for module in TASK_APPS:  # autodiscovery is lazy: import what the worker imports at start
        __import__(f"{module}.tasks")
    missing = {
        name: entry["task"] for name, entry in settings.CELERY_BEAT_SCHEDULE.items() if entry["task"] not in app.tasks
    }
    assert missing == {}


def test_every_app_with_tasks_is_discovered():
    root = Path(__file__).resolve().parents[2]
    with_tasks = {f"hcmgov.{p.parent.name}" for p in root.glob("*/tasks.py")}
    assert with_tasks <= set(TASK_APPS)
