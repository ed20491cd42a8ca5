"""City scale: many stateless processes over shared engines (ARCHITECTURE.md, "One machine, or a city").

With ``HCMGOV_SCALE=city`` the system check (``hcmgov check``, run by every deployment and by
``make scale-test``) refuses each setting that would keep something a request needs in one
process's memory or on one machine's disk: a request answered by another node would not see it,
and a node that dies would take it with it. The embedded default (``one``) is left alone: there,
local state is the point.

What a process may still keep of its own is listed, with why it is safe, in
``hcmgov/core/tests/test_scale.py`` (the grep-able check of issue 16): memos of pure functions,
entries keyed by an immutable version, outside systems' published documents kept a short while.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


def _problem(message: str, hint: str, code: int) -> checks.Error:
    return checks.Error(message, hint=hint, id=f"hcmgov.E{code:03d}")


def city_scale_problems() -> list[checks.CheckMessage]:
    """Every setting that keeps state local to one process or machine, when ``SCALE`` is ``city``."""
    if getattr(settings, "SCALE", "one") != "city":
        return []
    problems: list[checks.CheckMessage] = []
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        problems.append(
            _problem(
                f"the database is {engine}, a file on one machine",
                "Set DATABASE_URL to the PostgreSQL primary (postgres://…).",
                101,
            )
        )
    if "locmem" in str(settings.CACHES["default"]["BACKEND"]).lower():
        problems.append(
            _problem(
                "the cache is in each process's memory (sessions, valid tokens, cached figures)",
                "Set REDIS_URL (redis://…).",
                102,
            )
        )
    if str(settings.CELERY_BROKER_URL).startswith("filesystem://"):
        problems.append(
            _problem(
                "tasks are queued in a folder of one machine",
                "Set CELERY_BROKER_URL to RabbitMQ (amqp://…) or Redis.",
                103,
            )
        )
    if settings.STORAGES["documents"]["BACKEND"] != "storages.backends.s3.S3Storage":
        problems.append(
            _problem(
                "documents are stored in a folder of one machine",
                "Set HCMGOV_S3_BUCKET (and HCMGOV_S3_ENDPOINT_URL for MinIO).",
                104,
            )
        )
    if "://" not in str(settings.WAREHOUSE_URL):
        problems.append(
            _problem(
                "the warehouse's Parquet files are in a folder of one machine",
                "Set HCMGOV_WAREHOUSE_URL to s3://bucket/prefix.",
                105,
            )
        )
    if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
        problems.append(
            _problem("e-mails are written to a folder of one machine", "Set EMAIL_HOST to the SMTP relay.", 106)
        )
    if not str(getattr(settings, "OIDC_RSA_PRIVATE_KEY", "")).strip():
        problems.append(
            _problem(
                "each node would generate its own key for signing ID tokens (tokens from one node refused by another)",
                "Set OIDC_RSA_PRIVATE_KEY to the city's key (PEM text or a file every node reads).",
                107,
            )
        )
    if not str(getattr(settings, "EXCHANGE_REDIS_URL", "")).strip():
        problems.append(
            _problem(
                "the gateway's rate limits and quotas are counted per process",
                "Set EXCHANGE_REDIS_URL (it may be REDIS_URL).",
                108,
            )
        )
    if getattr(settings, "TOKEN_CACHE", "process") == "process":
        problems.append(
            _problem(
                "valid bearer tokens are kept per process (a revoked token keeps working on other nodes for 30 s)",
                "Set HCMGOV_TOKEN_CACHE=shared (the default at city scale) or off.",
                109,
            )
        )
    if getattr(settings, "AUDIT_SINK_FILE", ""):
        problems.append(
            _problem(
                "the audit sink is a file of one machine",
                "Send audit events to the city's syslog receiver (HCMGOV_AUDIT_SINK_SYSLOG) instead.",
                110,
            )
        )
    if "cache" not in settings.SESSION_ENGINE and not settings.SESSION_ENGINE.endswith(".db"):
        problems.append(
            _problem(
                f"sessions are kept by {settings.SESSION_ENGINE}, local to one machine",
                "Use the database or the shared cache for sessions.",
                111,
            )
        )
    return problems


@checks.register("hcmgov_scale", deploy=False)
def check_city_scale(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return city_scale_problems()
