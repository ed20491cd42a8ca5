"""Django settings. Every value comes from the environment through ``hcmgov.common.config``."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from hcmgov.common.config import config

BASE_DIR = Path(__file__).resolve().parent
ROOT_DIR = BASE_DIR.parent.parent

DEBUG = config("HCMGOV_DEBUG", False, help="Django debug mode. Never on in production.")
SECRET_KEY = config(
    "HCMGOV_SECRET_KEY",
    "dev-insecure-change-me-0123456789abcdefghijklmnopqrstuvwxyz",
    help="Signing key for sessions, CSRF and tracking links. Set a long random value in production.",
    secret=True,
)
ALLOWED_HOSTS = config("HCMGOV_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"], help="Host names served.")
CSRF_TRUSTED_ORIGINS: list[str] = config(
    "HCMGOV_CSRF_TRUSTED_ORIGINS", [], help="Origins trusted for POST behind a proxy (scheme://host)."
)
PUBLIC_URL = config(
    "HCMGOV_PUBLIC_URL",
    "http://127.0.0.1:8000",
    help="Address of the portal as citizens reach it; printed in QR codes on receipts.",
)
# relative paths are relative to the repository root (so the generated reference is the same everywhere)
VAR_DIR = ROOT_DIR / Path(
    config(
        "HCMGOV_VAR_DIR",
        "var",
        help="Folder for the embedded database, files and queues (relative: to the repository).",
    )
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "hcmgov.core",
    "hcmgov.identity",
    "hcmgov.audit",
    "hcmgov.catalog",
    "hcmgov.dossiers",
    "hcmgov.notifications",
    "hcmgov.feedback",
    "hcmgov.web",
]

MIDDLEWARE = [
    # request id, early 400/413 refusals, problem documents under /api/, metrics (hcmgov.common.middleware)
    "hcmgov.common.middleware.PlatformMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "hcmgov.common.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "hcmgov.common.middleware.ActorMiddleware",
    "hcmgov.common.access.AccessMiddleware",
    "hcmgov.common.middleware.MessageMiddleware",  # Django's, with the storage made on first use
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hcmgov.urls"
WSGI_APPLICATION = "hcmgov.wsgi.application"
AUTH_USER_MODEL = "identity.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # {% load static %}: Django's tags, each file's address worked out once per process
            "libraries": {"static": "hcmgov.web.templatetags.static_urls"},
        },
    },
]
# templates.W003 reports that "static" names two tag libraries: on purpose, the one above replaces
# Django's (same tags, addresses cached) in every template that loads it
SILENCED_SYSTEM_CHECKS = ["templates.W003"]

# --- database ---------------------------------------------------------------------------------
DATABASE_URL = config(
    "DATABASE_URL",
    "",
    help="Database URL, e.g. postgres://user:pass@127.0.0.1:5432/hcmgov. Empty: SQLite (WAL) in HCMGOV_VAR_DIR.",
    group="database",
)
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60)  # no per-request health-check query
    # Statements sent through a server-binding cursor (the public status lookup, see
    # dossiers.selectors) are prepared on their first run and reused for the connection's life:
    # PostgreSQL then skips parsing and planning them. The ORM binds parameters on the client, and
    # psycopg never prepares those statements, whatever this says. Behind a transaction-mode pooler
    # (PgBouncer < 1.21) set it to None in the URL's options.
    _db.setdefault("OPTIONS", {}).setdefault("prepare_threshold", 0)
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded default keeps its database here
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(VAR_DIR / "hcmgov.sqlite3"),
        "OPTIONS": {
            # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of failing with
            # "database is locked" when a read transaction tries to upgrade (Django 5.1+).
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                " PRAGMA busy_timeout=20000; PRAGMA cache_size=-64000;"
            ),
        },
    }
_db["ATOMIC_REQUESTS"] = False
_db.setdefault("TEST", {})
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache ------------------------------------------------------------------------------------
REDIS_URL = config(
    "REDIS_URL", "", help="Redis URL for the shared cache and rate limits. Empty: local memory.", group="services"
)
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- tasks ------------------------------------------------------------------------------------
CELERY_BROKER_URL = config(
    "CELERY_BROKER_URL",
    "filesystem://",
    help="Task broker: amqp://guest:guest@127.0.0.1:5672// (RabbitMQ) or redis://127.0.0.1:6379/1. "
    "Default: a folder queue in HCMGOV_VAR_DIR, no server.",
    group="services",
)
CELERY_TASK_ALWAYS_EAGER = config(
    "CELERY_TASK_ALWAYS_EAGER", False, help="Run tasks inline (tests only).", group="services"
)

# --- i18n -------------------------------------------------------------------------------------
LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", "Tiếng Việt"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

# --- files ------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / Path(
    config(
        "HCMGOV_MEDIA_ROOT", "media", help="Folder for uploaded files (relative: inside HCMGOV_VAR_DIR).", group="files"
    )
)
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
UPLOAD_MAX_BYTES = config(
    "HCMGOV_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, help="Largest attachment accepted, in bytes.", group="files"
)
REQUEST_MAX_BYTES = config(
    "HCMGOV_REQUEST_MAX_BYTES",
    64 * 1024 * 1024,
    help="Largest request body accepted (all attachments of a dossier together), in bytes; larger is refused (413).",
    group="files",
)
# API submissions carry attachments base64-encoded in JSON: the body limit is the request limit
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- mail -------------------------------------------------------------------------------------
EMAIL_HOST = config(
    "EMAIL_HOST", "", help="SMTP relay host. Empty: mails are written to HCMGOV_VAR_DIR/mail.", group="mail"
)
EMAIL_PORT = config("EMAIL_PORT", 25, help="SMTP port.", group="mail")
EMAIL_HOST_USER = config("EMAIL_HOST_USER", "", help="SMTP user.", group="mail")
EMAIL_HOST_PASSWORD = config("EMAIL_HOST_PASSWORD", "", help="SMTP password.", group="mail", secret=True)
EMAIL_USE_TLS = config("EMAIL_USE_TLS", False, help="STARTTLS to the relay.", group="mail")
DEFAULT_FROM_EMAIL = config(
    "HCMGOV_FROM_EMAIL", "dichvucong@tphcm.gov.vn", help="Sender of the platform's e-mails.", group="mail"
)
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")

# --- security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
_https = config("HCMGOV_HTTPS", False, help="Served over HTTPS: secure cookies, HSTS, redirect.", group="security")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = _https
SECURE_HSTS_SECONDS = 31536000 if _https else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SECURE_HSTS_PRELOAD = _https
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _https else None
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- logging: JSON lines on stdout, with the request id ---------------------------------------
LOG_LEVEL = config("HCMGOV_LOG_LEVEL", "INFO", help="Log level.", group="operations")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "hcmgov.common.middleware.RequestIdLogFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        }
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "granian": {"level": "WARNING"},
        # every 2-second periodic task would log twice at INFO
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # SpiffWorkflow logs every task state change at INFO, with the task's data
        "spiff": {"level": "WARNING"},
    },
}

NINJA_PAGINATION_PER_PAGE = 50

CELERY_BEAT_SCHEDULE = {
    "outbox": {"task": "core.outbox_deliver", "schedule": 2.0},
    "notifications": {"task": "notifications.send_pending", "schedule": 5.0},
    "heartbeat": {"task": "core.heartbeat", "schedule": 10.0},
    "step-timers": {"task": "dossiers.step_timers", "schedule": 60.0},
    "stats-compact": {"task": "dossiers.stats_compact", "schedule": 3600.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue = VAR_DIR / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue / "out"),
        "data_folder_out": str(_queue / "out"),
        "processed_folder": str(_queue / "processed"),
        "store_processed": False,
    }
