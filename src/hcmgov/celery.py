"""The task worker. Broker from CELERY_BROKER_URL: a folder queue by default (no server), RabbitMQ
or Redis at city scale. Beat runs the periodic jobs: outbox delivery and the worker heartbeat."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")

app = Celery("hcmgov")
app.config_from_object("django.conf:settings", namespace="CELERY")
# every app with a ``tasks`` module (a test holds each beat entry to a registered task)
TASK_APPS = [
    "hcmgov.core",
    "hcmgov.audit",
    "hcmgov.notifications",
    "hcmgov.dossiers",
    "hcmgov.payments",
    "hcmgov.documents",
    "hcmgov.exchange",
    "hcmgov.registry",
    "hcmgov.opendata",
    "hcmgov.warehouse",
    "hcmgov.reporting",
    "hcmgov.iot",
    "hcmgov.drafts",
    "hcmgov.ngsi",
]
app.autodiscover_tasks(TASK_APPS)
