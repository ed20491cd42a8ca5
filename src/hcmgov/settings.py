"""Django settings. Every value comes from the environment through ``hcmgov.common.config``."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from hcmgov.common.config import config
from hcmgov.identity.provider.keys import pem_text, signing_key

BASE_DIR = Path(__file__).resolve().parent
ROOT_DIR = BASE_DIR.parent.parent

DEBUG = config("HCMGOV_DEBUG", False, help="Django debug mode. Never on in production.")
_DEVELOPMENT_SECRET_KEY = "dev-insecure-change-me-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - public on purpose; refused over HTTPS below
SECRET_KEY = config(
    "HCMGOV_SECRET_KEY",
    _DEVELOPMENT_SECRET_KEY,
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
    "hcmgov.common.adminapp.AdminConfig",  # Django's admin, refused to officials without a second factor
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "oauth2_provider",  # the city's OpenID Connect provider (hcmgov.identity.provider)
    "hcmgov.core",
    "hcmgov.identity",
    "hcmgov.audit",
    "hcmgov.catalog",
    "hcmgov.dossiers",
    "hcmgov.notifications",
    "hcmgov.feedback",
    "hcmgov.drafts",  # application forms saved unfinished ("Lưu nháp")
    "hcmgov.payments",
    "hcmgov.postal",
    "hcmgov.documents",
    "hcmgov.exchange",
    "hcmgov.registry",
    "hcmgov.opendata",
    "hcmgov.warehouse",
    "hcmgov.reporting",
    "hcmgov.iot",
    "hcmgov.ngsi",
    "hcmgov.office",
    "hcmgov.citymail",
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
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the second factor of this session
    "hcmgov.identity.middleware.SessionTimeoutMiddleware",  # idle and absolute session timeouts
    "hcmgov.common.middleware.ActorMiddleware",
    "hcmgov.common.access.AccessMiddleware",
    "hcmgov.common.middleware.MessageMiddleware",  # Django's, with the storage made on first use
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last (axes' rule): turns a lockout into the lockout page
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
            # {% url %}: Django's tag, the address of a view without arguments worked out once per process
            "builtins": ["hcmgov.web.templatetags.url_cache"],
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
    CACHES: dict[str, dict[str, object]] = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- one machine, or a city (docs/operations/deploy.md) -----------------------------------------
SCALE = config(
    "HCMGOV_SCALE",
    "one",
    help="`one`: the embedded default (a process may keep caches and counters of its own). `city`: many "
    "stateless processes on many machines — `hcmgov check` then refuses any setting that keeps state in one "
    "process or on one disk (local cache, SQLite, folder queue, local files, per-process limits and keys), and "
    "sessions and valid tokens are kept in the shared cache.",
    group="services",
)
if SCALE not in ("one", "city"):
    raise ValueError(f"HCMGOV_SCALE must be one or city, not {SCALE!r}")
TOKEN_CACHE = config(
    "HCMGOV_TOKEN_CACHE",
    "shared" if SCALE == "city" else "process",
    help="Where bearer tokens found valid are kept for up to 30 s (hcmgov.common.tokencache): `process` (each "
    "process its own), `shared` (the shared cache, Redis: a revoked token is refused at once on every node), "
    "`off` (every call reads the database). Default: `shared` at city scale, else `process`.",
    group="services",
)
if TOKEN_CACHE not in ("process", "shared", "off"):
    raise ValueError(f"HCMGOV_TOKEN_CACHE must be process, shared or off, not {TOKEN_CACHE!r}")
if SCALE == "city":
    # sessions read from the shared cache, written through to the database (a Redis restart logs nobody out)
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- rate limits (hcmgov.common.ratelimit; shared through Redis when REDIS_URL is set) -------------
API_TOKEN_RATE = config(
    "HCMGOV_API_TOKEN_RATE",
    50.0,
    help="Requests per second one bearer token may make on /api/v1 (a burst of 20 times that at once); "
    "above it 429 with Retry-After. 0: no limit (benchmarks driving one token at full speed).",
    group="security",
)
PUBLIC_FORM_RATE = config(
    "HCMGOV_PUBLIC_FORM_RATE",
    1.0,
    help="Requests per second one client address may make on the public lookups that need no login (tracking a "
    "dossier or a feedback, page or API), after a burst of 60 (mobile networks put many people behind one "
    "address); a new feedback: a twentieth of it, after a burst of 5. Above it 429. 0: no limit.",
    group="security",
)
RATE_LIMITS: dict[str, tuple[float, float]] = {
    "api_token": (API_TOKEN_RATE, API_TOKEN_RATE * 20),
    "public_lookup": (PUBLIC_FORM_RATE, 60),
    "public_feedback": (PUBLIC_FORM_RATE / 20, 5),  # a new feedback: five at once, then one every 20 s
}

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
# Documents (hcmgov.documents.storage): content-addressed blobs, in MEDIA_ROOT/blobs (never served
# under MEDIA_URL) or, when a bucket is set, in S3-compatible object storage (MinIO at city scale).
_S3_BUCKET = config(
    "HCMGOV_S3_BUCKET", "", help="S3 bucket for documents (blobs). Empty: in HCMGOV_MEDIA_ROOT/blobs.", group="files"
)
_S3_ENDPOINT_URL = config(
    "HCMGOV_S3_ENDPOINT_URL", "", help="S3 endpoint, e.g. https://minio.hcm.gov.vn. Empty: AWS.", group="files"
)
_S3_ACCESS_KEY = config("HCMGOV_S3_ACCESS_KEY", "", help="S3 access key id.", group="files")
_S3_SECRET_KEY = config("HCMGOV_S3_SECRET_KEY", "", help="S3 secret access key.", group="files", secret=True)
_S3_REGION = config("HCMGOV_S3_REGION", "", help="S3 region name. Empty: the client's default.", group="files")
_DOCUMENTS_STORAGE = (
    {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _S3_BUCKET,
            "endpoint_url": _S3_ENDPOINT_URL or None,
            "access_key": _S3_ACCESS_KEY or None,
            "secret_key": _S3_SECRET_KEY or None,
            "region_name": _S3_REGION or None,
            "default_acl": None,  # private: the bucket's policy, never public-read
            "querystring_auth": True,
            "file_overwrite": True,  # a name is its content's SHA-256: writing it again writes the same bytes
        },
    }
    if _S3_BUCKET
    else {"BACKEND": "hcmgov.documents.storage.BlobFileSystemStorage"}
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    "documents": _DOCUMENTS_STORAGE,
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
if _https and SECRET_KEY == _DEVELOPMENT_SECRET_KEY:
    # ASVS 13.3.1: the development key is public (it is in this file); every session, CSRF token,
    # tracking link and key derived from it would be forgeable. Long and varied, it passes Django's
    # own security.W009, so nothing else would stop a production start with it.
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "HCMGOV_HTTPS is on but HCMGOV_SECRET_KEY is the development key: set a long random value "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )
METRICS_TOKEN = config(
    "HCMGOV_METRICS_TOKEN",
    "",
    help="Bearer token Prometheus sends to scrape /metrics (web and gateway): `Authorization: Bearer …`. Empty: "
    "/metrics is open, for one machine; `hcmgov check --deploy` warns when HTTPS is on and it is empty.",
    group="security",
    secret=True,
)
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    # OAuth client secrets only (random, high-entropy): see hcmgov.identity.provider.hashers
    "hcmgov.identity.provider.hashers.ClientSecretHasher",
]
# OWASP ASVS 5.0 level 2 (V6.2): at least 8 characters for everyone, 12 for officials and
# administrators (the back office holds every citizen's data: the longer floor costs them little,
# with a password manager or a passphrase), at least 64 allowed (we take 128: a bound on the cost
# of hashing), no composition rules, refused when on a list of breached or common passwords
# (Django's ~20,000, drawn from breach corpora) or built on the account's own name or the
# city's. docs/decisions/0011-officials-authentication.md.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "hcmgov.identity.passwords.LengthValidator", "OPTIONS": {"minimum": 8, "official_minimum": 12}},
    {"NAME": "hcmgov.identity.passwords.MaximumLengthValidator", "OPTIONS": {"maximum": 128}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "hcmgov.identity.passwords.ContextWordsValidator"},
]
# Axes first: it refuses a locked-out username and IP before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- officials' accounts: second factor, lockout, sessions (docs/decisions/0011) ------------
OTP_TOTP_ISSUER = config(
    "HCMGOV_OTP_ISSUER",
    "Dịch vụ công TP.HCM",
    help="Name an authenticator app shows beside an official's one-time codes.",
    group="security",
)
SECOND_FACTOR_URL = "web:two_factor"  # where an official goes after the password, before any other page
# django-axes: lock a username from one IP address after this many failures (wrong passwords and
# wrong one-time codes alike); each further lockout within a day doubles the cool-off.
AXES_FAILURE_LIMIT = config(
    "HCMGOV_LOGIN_FAILURE_LIMIT",
    5,
    help="Failed logins (password or one-time code) before a username is locked out from one IP address.",
    group="security",
)
LOGIN_COOLOFF_MINUTES = config(
    "HCMGOV_LOGIN_COOLOFF_MINUTES",
    15,
    help="Length of the first lockout, in minutes; each further lockout of the same username and IP "
    "address within 24 hours doubles it.",
    group="security",
)
LOGIN_COOLOFF_MAX_MINUTES = config(
    "HCMGOV_LOGIN_COOLOFF_MAX_MINUTES",
    24 * 60,
    help="Longest lockout, in minutes, however many lockouts came before.",
    group="security",
)
AXES_COOLOFF_TIME = "hcmgov.identity.security.login_cool_off"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "hcmgov.identity.security.login_username"  # also at the one-time-code step
AXES_LOCKOUT_CALLABLE = "hcmgov.web.security.lockout_response"
AXES_RESET_ON_SUCCESS = True
# attempts made while locked out are refused unread and do not extend the lockout (the page says when
# to come back, and that time holds)
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# every attempt carries its own expiry: the cool-off differs per username and IP address, and
# axes' clean-up by one global age would end longer lockouts early
AXES_USE_ATTEMPT_EXPIRATION = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # the back-off counts earlier failures from this log
AXES_ENABLE_ADMIN = True
AXES_VERBOSE = False
SESSION_IDLE_MINUTES_OFFICIAL = config(
    "HCMGOV_SESSION_IDLE_MINUTES_OFFICIAL",
    30,
    help="An official's or administrator's session ends after this many minutes without a request.",
    group="security",
)
SESSION_IDLE_MINUTES_CITIZEN = config(
    "HCMGOV_SESSION_IDLE_MINUTES_CITIZEN",
    60,
    help="A citizen's or business's session ends after this many minutes without a request "
    "(longer: filling an application form takes time).",
    group="security",
)
SESSION_ABSOLUTE_HOURS = config(
    "HCMGOV_SESSION_ABSOLUTE_HOURS",
    12,
    help="Every session ends this many hours after login, however active.",
    group="security",
)
HCMGOV_DATA_KEYS = config(
    "HCMGOV_DATA_KEYS",
    "",
    help="Keys that encrypt personal data at rest (AES-256-GCM, hcmgov.common.crypto): 'id:base64key,...' newest "
    "first; the first encrypts, all decrypt; `hcmgov keys new ID` makes one, `hcmgov keys rotate` moves every value "
    "to the newest. Empty: one key derived from HCMGOV_SECRET_KEY (development only).",
    group="security",
    secret=True,
)
HCMGOV_INDEX_KEY = config(
    "HCMGOV_INDEX_KEY",
    "",
    help="Key of the blind indexes (HMAC-SHA256) that find encrypted values such as personal IDs. Changing it "
    "means `hcmgov keys reindex`. Empty: derived from HCMGOV_SECRET_KEY (development only).",
    group="security",
    secret=True,
)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_HOURS * 3600

# --- national e-ID (VNeID): the portal as an OpenID Connect relying party (hcmgov.identity.eid) ---
EID_DISCOVERY_URL = config(
    "EID_DISCOVERY_URL",
    "",
    help="OpenID discovery document of the national e-ID provider "
    "(…/.well-known/openid-configuration; `hcmgov sim eid` serves a simulator). Empty: e-ID login off.",
    group="identity",
)
EID_CLIENT_ID = config(
    "EID_CLIENT_ID", "", help="The portal's client id at the national e-ID provider.", group="identity"
)
EID_CLIENT_SECRET = config(
    "EID_CLIENT_SECRET",
    "",
    help="The portal's client secret at the national e-ID provider.",
    group="identity",
    secret=True,
)
EID_CLOCK_SKEW = config(
    "EID_CLOCK_SKEW",
    60,
    help="Seconds of clock difference with the e-ID provider tolerated when checking an ID token's times.",
    group="identity",
)

# --- the city's OpenID Connect provider for officials and department systems (identity.provider) -
OIDC_ISSUER = config(
    "OIDC_ISSUER",
    "",
    help="Issuer of the city's OpenID provider, e.g. https://dichvucong.hochiminhcity.gov.vn (discovery at "
    "{issuer}/.well-known/openid-configuration, endpoints under /o/). Empty: the address each request came to; "
    "set it in production so tokens do not depend on the Host header.",
    group="identity",
)
OIDC_RSA_PRIVATE_KEY = config(
    "OIDC_RSA_PRIVATE_KEY",
    "",
    help="RSA private key (PEM text, newlines may be written \\n, or the path of a PEM file) signing ID tokens "
    "(RS256). Empty: one is generated on first start into HCMGOV_VAR_DIR/keys/oidc-rsa.pem and kept.",
    group="identity",
    secret=True,
)
OIDC_RSA_PRIVATE_KEYS_INACTIVE: list[str] = config(
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE",
    [],
    help="Previous signing keys, comma-separated (PEM text or file paths): still published in the JWKS so "
    "tokens they signed verify until they expire; they sign nothing. Key rotation: move the active key here.",
    group="identity",
    secret=True,
)
OIDC_ACCESS_TOKEN_SECONDS = config(
    "OIDC_ACCESS_TOKEN_SECONDS",
    3600,
    help="Lifetime of the provider's access and ID tokens, in seconds.",
    group="identity",
)
OIDC_REFRESH_TOKEN_SECONDS = config(
    "OIDC_REFRESH_TOKEN_SECONDS",
    14 * 24 * 3600,
    help="Lifetime of a refresh token, in seconds (each use replaces it with a new one).",
    group="identity",
)
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": OIDC_ISSUER.rstrip("/"),
    "OIDC_RSA_PRIVATE_KEY": signing_key(OIDC_RSA_PRIVATE_KEY, VAR_DIR / "keys" / "oidc-rsa.pem"),
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [pem_text(key) for key in OIDC_RSA_PRIVATE_KEYS_INACTIVE],
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],  # the code flow only (no implicit, no hybrid)
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,  # only registered post-logout addresses
    "OAUTH2_VALIDATOR_CLASS": "hcmgov.identity.provider.validator.CityOAuth2Validator",
    "SCOPES_BACKEND_CLASS": "hcmgov.identity.provider.scopes.CityScopes",
    "SCOPES": {
        "openid": "OpenID Connect",
        "profile": "Họ tên, tên đăng nhập, cơ quan và vai trò (cán bộ) / name, user name, agencies and roles",
        "email": "Thư điện tử / e-mail",
        "phone": "Số điện thoại / phone number",
        "hcmgov.api": "API của Nền tảng / the platform's API",
        "hcmgov.exchange": "Nền tảng tích hợp, chia sẻ dữ liệu (LGSP) / the data sharing platform's gateway",
    },
    "DEFAULT_SCOPES": ["openid"],
    # PKCE (S256 only) for every client, confidential ones too: RFC 9700 §2.1.1 recommends it against
    # code injection, and a leaked secret must not be enough to redeem a stolen code.
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,  # RFC 9207 iss in the authorization response
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,  # only the SHA-256 of tokens is stored
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,  # a refresh token used twice revokes its whole family
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "ACCESS_TOKEN_EXPIRE_SECONDS": OIDC_ACCESS_TOKEN_SECONDS,
    "ID_TOKEN_EXPIRE_SECONDS": OIDC_ACCESS_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": OIDC_REFRESH_TOKEN_SECONDS,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "REQUEST_APPROVAL_PROMPT": "auto",  # consent once per client and scopes, while a token is live
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if _https else ["http", "https"],
    "CLIENT_SECRET_HASHER": "pbkdf2_client_secret",
    # the gateway's tokens (client credentials, scope hcmgov.exchange) are signed JWTs that its edge
    # checks without a database read; every other token stays an opaque random string
    "ACCESS_TOKEN_GENERATOR": "hcmgov.identity.provider.exchange_tokens.access_token_generate",
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
}

# --- the data sharing platform's gateway (hcmgov.exchange.gateway; docs/decisions/0016) -------------
EXCHANGE_GATEWAY_URL = config(
    "EXCHANGE_GATEWAY_URL",
    "http://127.0.0.1:8001",
    help="Where the gateway (/x/...) answers: a separate process (`make serve` starts it on port 8001).",
    group="exchange",
)
EXCHANGE_REDIS_URL = config(
    "EXCHANGE_REDIS_URL",
    "",
    help="Redis for the gateway's rate limits and quotas, shared by all its processes. Empty: per process.",
    group="exchange",
)
EXCHANGE_TOKEN_KEYS = config(
    "EXCHANGE_TOKEN_KEYS",
    "",
    help="Keys (comma-separated, newest first, each at least 32 characters) that sign the gateway's access tokens "
    "(JWT, HS256, RFC 9068): the first signs, all verify, so the gateway's edge checks a caller without a database "
    "read. Empty: one key derived from HCMGOV_SECRET_KEY (development only).",
    group="exchange",
    secret=True,
)
EXCHANGE_EDGE_PORT = config(
    "EXCHANGE_EDGE_PORT",
    8002,
    help="Port of the gateway's edge (nginx with Lua: `hcmgov exchange edge`), the fast path of /x/ "
    "(docs/decisions/0024).",
    group="exchange",
)
EXCHANGE_EDGE_WORKERS = config(
    "EXCHANGE_EDGE_WORKERS",
    0,
    help="nginx worker processes of the edge (0: one per core).",
    group="exchange",
)
EXCHANGE_EDGE_NGINX = config(
    "EXCHANGE_EDGE_NGINX",
    "nginx",
    help="The nginx binary the edge runs (Debian's nginx-light, with libnginx-mod-http-lua).",
    group="exchange",
)
EXCHANGE_EDGE_MODULES = config(
    "EXCHANGE_EDGE_MODULES",
    "/usr/lib/nginx/modules/ndk_http_module.so /usr/lib/nginx/modules/ngx_http_lua_module.so",
    help="nginx's dynamic modules the edge loads, in order, separated by spaces (Debian: libnginx-mod-http-ndk "
    "and libnginx-mod-http-lua, with lua-resty-core and lua-cjson). Empty: nginx has lua-nginx-module built in "
    "(OpenResty).",
    group="exchange",
)
EXCHANGE_EDGE_TLS_CERTIFICATE = config(
    "EXCHANGE_EDGE_TLS_CERTIFICATE",
    "",
    help="PEM certificate (chain) the edge serves HTTPS with. Empty: plain HTTP (TLS ends at the load balancer).",
    group="exchange",
)
EXCHANGE_EDGE_TLS_KEY = config(
    "EXCHANGE_EDGE_TLS_KEY", "", help="The private key of EXCHANGE_EDGE_TLS_CERTIFICATE (PEM file).", group="exchange"
)
EXCHANGE_EDGE_TLS_CLIENT_CA = config(
    "EXCHANGE_EDGE_TLS_CLIENT_CA",
    "",
    help="PEM file of the CA(s) whose client certificates the edge accepts (mutual TLS). Systems registered with a "
    "certificate must then present it (RFC 8705 binding by thumbprint); others may still call with their token only.",
    group="exchange",
)
EXCHANGE_TRUST_EDGE_HEADERS = config(
    "EXCHANGE_TRUST_EDGE_HEADERS",
    False,
    help="The Python gateway trusts the edge's X-Hcmgov-Client-Certificate header (set it only where the Python "
    "gateway is reachable from the edge alone).",
    group="exchange",
)
EXCHANGE_REGISTRY_REFRESH = config(
    "EXCHANGE_REGISTRY_REFRESH",
    5.0,
    help="Seconds between the gateway's reads of the registry (services, clients, rights).",
    group="exchange",
)
EXCHANGE_NDXP_URL = config(
    "EXCHANGE_NDXP_URL",
    "",
    help="The national data exchange platform (NDXP) the gateway forwards national services to. "
    "Empty: its simulator (`hcmgov sim ndxp`, which `make serve` runs on port 8104).",
    group="exchange",
)
EXCHANGE_NDXP_CLIENT_ID = config(
    "EXCHANGE_NDXP_CLIENT_ID", "", help="The city's client id on NDXP (empty: the simulator's).", group="exchange"
)
EXCHANGE_NDXP_CLIENT_SECRET = config(
    "EXCHANGE_NDXP_CLIENT_SECRET",
    "",
    help="The city's client secret on NDXP (empty: the simulator's).",
    group="exchange",
    secret=True,
)
HCMGOV_PORTAL_URL = config(
    "HCMGOV_PORTAL_URL",
    "",
    help="The National Public Service Portal's API base URL (catalogue sync, dossier status push). "
    "Empty: the connector is off and no status change is queued (`hcmgov sim portal` simulates it).",
    group="exchange",
)
HCMGOV_PORTAL_TOKEN = config(
    "HCMGOV_PORTAL_TOKEN",
    "",
    help="The city's bearer token on the National Public Service Portal.",
    group="exchange",
    secret=True,
)
HCMGOV_PORTAL_TIMEOUT = config(
    "HCMGOV_PORTAL_TIMEOUT",
    10.0,
    help="Seconds to wait for the National Public Service Portal before trying again later.",
    group="exchange",
)
HCMGOV_REGISTRY_SYSTEM = config(
    "HCMGOV_REGISTRY_SYSTEM",
    "kho-du-lieu",
    help="The exchange information system (member/system, or the system's code) the shared data store calls "
    "national databases as; its machine client's tokens are issued in process.",
    group="exchange",
)
HCMGOV_REGISTRY_CLIENT_ID = config(
    "HCMGOV_REGISTRY_CLIENT_ID",
    "",
    help="The machine client the shared data store acts as on the gateway (empty: HCMGOV_REGISTRY_SYSTEM's).",
    group="exchange",
)
HCMGOV_REGISTRY_TIMEOUT = config(
    "HCMGOV_REGISTRY_TIMEOUT",
    10.0,
    help="Seconds a background lookup in a national database may take before it is tried again later.",
    group="exchange",
)
HCMGOV_REGISTRY_PREFILL_TIMEOUT = config(
    "HCMGOV_REGISTRY_PREFILL_TIMEOUT",
    2.0,
    help="Seconds an application form waits for a national database before it opens with what the city holds "
    "(the lookup is then retried in the background).",
    group="exchange",
)
EXCHANGE_CALLBACK_ALLOWED: list[str] = config(
    "EXCHANGE_CALLBACK_ALLOWED",
    [],
    help="Networks (CIDR) and host names that event subscribers' callback URLs may point to although they are "
    "internal (loopback, private, link-local): e.g. the city's own network, 10.0.0.0/8. Empty: public addresses only.",
    group="exchange",
)
EXCHANGE_LOG_KEYS = config(
    "EXCHANGE_LOG_KEYS",
    "",
    help="Fernet keys (comma-separated, newest first) to encrypt message bodies kept in the log. "
    "Empty: bodies are never kept, only their SHA-256.",
    group="exchange",
    secret=True,
)
EXCHANGE_LOG_INTERVAL = config(
    "EXCHANGE_LOG_INTERVAL",
    0.05,
    help="Seconds between the gateway's batched writes of the message log (the most a killed process loses).",
    group="exchange",
)
EXCHANGE_LOG_RETENTION_DAYS = config(
    "EXCHANGE_LOG_RETENTION_DAYS",
    180,
    help="Days message-log records stay in the database before they are archived to the document store.",
    group="exchange",
)
EXCHANGE_DELIVERY_MAX_ATTEMPTS = config(
    "HCMGOV_EXCHANGE_DELIVERY_MAX_ATTEMPTS",
    12,
    help="Attempts to deliver an event to a subscriber before it is dead (12: about 14 to 20 hours of a "
    "subscriber down, with the waits below).",
    group="exchange",
)
EXCHANGE_DELIVERY_RETRY_BASE_SECONDS = config(
    "HCMGOV_EXCHANGE_DELIVERY_RETRY_BASE_SECONDS",
    30,
    help="Wait before the second delivery attempt; it doubles with each failure (with jitter).",
    group="exchange",
)
EXCHANGE_DELIVERY_RETRY_CAP_SECONDS = config(
    "HCMGOV_EXCHANGE_DELIVERY_RETRY_CAP_SECONDS",
    6 * 3600,
    help="Longest wait between two delivery attempts.",
    group="exchange",
)
EXCHANGE_DELIVERY_TIMEOUT_SECONDS = config(
    "HCMGOV_EXCHANGE_DELIVERY_TIMEOUT_SECONDS",
    10.0,
    help="Seconds a subscriber's callback has to answer a delivery (under 200: a worker's claim lasts 10 minutes).",
    group="exchange",
)

# --- open data datastore (hcmgov.opendata.datastore: CKAN's DataStore API) -------------------------
HCMGOV_OPENDATA_MIN_COUNT = config(
    "HCMGOV_OPENDATA_MIN_COUNT",
    5,
    help="k of the open data privacy guard: published counts below it (and rates over them) are left empty.",
    group="opendata",
)
DATASTORE_SQLITE_PATH = VAR_DIR / Path(
    config(
        "HCMGOV_DATASTORE_SQLITE_PATH",
        "datastore.sqlite3",
        help="SQLite only: the database file of the datastore's tables (relative: inside HCMGOV_VAR_DIR). "
        "On PostgreSQL the tables live in the schema `datastore` of the platform's database.",
        group="opendata",
    )
)
DATASTORE_ROWS_MAX = config(
    "HCMGOV_DATASTORE_ROWS_MAX",
    32000,
    help="Most rows datastore_search and datastore_search_sql return (CKAN's ckan.datastore.search.rows_max).",
    group="opendata",
)
DATASTORE_STATEMENT_TIMEOUT_MS = config(
    "HCMGOV_DATASTORE_STATEMENT_TIMEOUT_MS",
    5000,
    help="Milliseconds a datastore search or SQL query may run before it is cancelled.",
    group="opendata",
)
DATASTORE_COUNT_CACHE = config(
    "HCMGOV_DATASTORE_COUNT_CACHE",
    4096,
    help="Row counts (datastore_search's total) each server process keeps per table version and query, "
    "forgotten when the table is written. 0: count every time.",
    group="opendata",
)
DATASTORE_SQL_ENABLED = config(
    "HCMGOV_DATASTORE_SQL_ENABLED",
    True,
    help="Offer datastore_search_sql (read-only SELECTs over datastore tables, checked against an allow-list).",
    group="opendata",
)

# --- analytics warehouse (hcmgov.warehouse: Parquet files queried with DuckDB) ---------------------
# Where the Parquet files go: a folder (relative: inside HCMGOV_VAR_DIR) or, at city scale, an
# object store URI that pyarrow.fs.FileSystem.from_uri understands (s3://bucket/prefix; credentials
# from the AWS_* variables or the instance's role, as pyarrow reads them).
_warehouse = config(
    "HCMGOV_WAREHOUSE_URL",
    "warehouse",
    help="Where the analytics warehouse writes its Parquet files: a folder (relative: inside HCMGOV_VAR_DIR) "
    "or s3://bucket/prefix (object storage, read unchanged by Trino, Spark or ClickHouse).",
    group="warehouse",
)
WAREHOUSE_URL = _warehouse if "://" in _warehouse else str(VAR_DIR / _warehouse)
WAREHOUSE_BATCH_ROWS = config(
    "HCMGOV_WAREHOUSE_BATCH_ROWS",
    50000,
    help="Rows read from the database and written as one Parquet row group at a time (bounds the memory of a refresh).",
    group="warehouse",
)
WAREHOUSE_COMPRESSION = config(
    "HCMGOV_WAREHOUSE_COMPRESSION",
    "zstd",
    help="Parquet compression of the warehouse files: zstd or snappy (both read by every engine).",
    group="warehouse",
)
WAREHOUSE_OVERLAP_SECONDS = config(
    "HCMGOV_WAREHOUSE_OVERLAP_SECONDS",
    600,
    help="An incremental refresh also re-reads changes this many seconds before the last refresh started "
    "(transactions still open then commit later).",
    group="warehouse",
)
WAREHOUSE_QUERY_TIMEOUT = config(
    "HCMGOV_WAREHOUSE_QUERY_TIMEOUT",
    30.0,
    help="Seconds a DuckDB query over the warehouse may run before it is interrupted.",
    group="warehouse",
)
WAREHOUSE_QUERY_ROWS_MAX = config(
    "HCMGOV_WAREHOUSE_QUERY_ROWS_MAX",
    10000,
    help="Most rows a query over the warehouse returns (hcmgov warehouse query, dashboards).",
    group="warehouse",
)

# --- reporting (hcmgov.reporting: periodic reports, the plan's targets, the service-quality index) ---
REPORTING_NATIONAL_URL = config(
    "HCMGOV_REPORTING_NATIONAL_URL",
    "",
    help="The national reporting system's API base URL, where the city's approved reports are sent. "
    "Empty: nothing is queued (`hcmgov sim reporting` simulates it).",
    group="reporting",
)
REPORTING_NATIONAL_TOKEN = config(
    "HCMGOV_REPORTING_NATIONAL_TOKEN",
    "",
    help="The city's bearer token on the national reporting system.",
    group="reporting",
    secret=True,
)
REPORTING_NATIONAL_TIMEOUT = config(
    "HCMGOV_REPORTING_NATIONAL_TIMEOUT",
    10.0,
    help="Seconds to wait for the national reporting system before trying again later.",
    group="reporting",
)


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
        "pikepdf": {"level": "WARNING"},  # its logger bridge announces itself at INFO on import
        "fontTools.subset": {"level": "ERROR"},  # tables it drops from the stamp's font subset, each signature
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
    "payments-expire": {"task": "payments.transactions_expire", "schedule": 60.0},
    "payments-refunds": {"task": "payments.refunds_run", "schedule": 30.0},
    "payments-reconcile": {"task": "payments.reconcile", "schedule": crontab(hour=6, minute=0)},
    "documents-purge-drafts": {"task": "documents.blobs_purge_drafts", "schedule": 3600.0},
    "documents-results-sweep": {"task": "documents.results_sweep", "schedule": 900.0},
    "exchange-deliveries": {"task": "exchange.deliveries_send", "schedule": 5.0},
    "registry-lookups": {"task": "registry.lookups_retry", "schedule": 60.0},
    "exchange-log-seal": {"task": "exchange.log_seal", "schedule": 300.0},
    "exchange-log-archive": {"task": "exchange.log_archive", "schedule": crontab(hour=2, minute=30)},
    "portal-push": {"task": "exchange.portal_push", "schedule": 30.0},
    "portal-catalog-sync": {"task": "exchange.portal_catalog_sync", "schedule": crontab(hour=1, minute=15)},
    "portal-reconcile": {"task": "exchange.portal_reconcile", "schedule": crontab(hour=5, minute=30)},
    "opendata-harvest": {"task": "opendata.harvest_due", "schedule": 600.0},
    "opendata-publish": {"task": "opendata.publish_figures", "schedule": crontab(hour=3, minute=0)},
    "warehouse-refresh": {"task": "warehouse.refresh", "schedule": crontab(minute=20)},  # hourly, incremental
    "reporting-national-export": {"task": "reporting.national_export_send", "schedule": 60.0},  # with back-off
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_IGNORE_RESULT = True
# Long batch jobs go to a queue of their own, served by a worker of its own (``hcmgov worker``
# starts one beside itself; at city scale deploy/systemd/hcmgov-worker-bulk.service). On the
# default queue they held every thread for minutes at a time (warehouse.refresh and
# dossiers.stats_compact at a million dossiers, both hourly), and the outbox, the notifications
# and the national pushes waited behind them: 806 events at once, seen in a benchmark.
BULK_QUEUE = "bulk"
BULK_TASKS = (
    "warehouse.refresh",
    "dossiers.stats_compact",
    "payments.reconcile",
    "documents.blobs_purge_drafts",
    "documents.results_sweep",
    "drafts.purge",
    "exchange.log_archive",
    "exchange.portal_catalog_sync",
    "exchange.portal_reconcile",
    "opendata.harvest_due",
    "opendata.publish_figures",
    "iot.storage_maintain",
    "iot.opendata_daily",
)
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {name: {"queue": BULK_QUEUE} for name in BULK_TASKS}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's folder queue with its files written atomically (see hcmgov.core.fsqueue)
    CELERY_BROKER_TRANSPORT = "hcmgov.core.fsqueue:Transport"
    _queue = VAR_DIR / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue / "out"),
        "data_folder_out": str(_queue / "out"),
        "processed_folder": str(_queue / "processed"),
        "control_folder": str(_queue / "control"),  # kombu's default is "control" in the working directory
        "store_processed": False,
    }

# --- IoT platform (hcmgov.iot: devices, MQTT and HTTP ingestion, readings, rollups, VN_AQI) --------

IOT_MQTT_URL = config(
    "IOT_MQTT_URL",
    "mqtt://127.0.0.1:1883",
    help="MQTT broker of the IoT ingester and simulator (mqtt:// or mqtts://, user:password@ allowed).",
    group="iot",
)
IOT_MQTT_SHARE_GROUP = config(
    "IOT_MQTT_SHARE_GROUP",
    "hcmgov-ingest",
    help="Shared subscription group of the ingesters ($share/<group>/hcmgov/iot/+/readings): they split the load.",
    group="iot",
)
IOT_MQTT_CLIENT_ID = config(
    "IOT_MQTT_CLIENT_ID",
    "",
    help="Stable MQTT client id of this ingester (its persistent session). Empty: hcmgov-ingest-<host name>.",
    group="iot",
)
IOT_BATCH_READINGS = config(
    "IOT_BATCH_READINGS", 5000, help="The ingester commits a batch at this many readings…", group="iot"
)
IOT_BATCH_MILLISECONDS = config(
    "IOT_BATCH_MILLISECONDS", 100, help="…or this long after the batch's first message.", group="iot"
)
IOT_MESSAGE_MAX_BYTES = config(
    "IOT_MESSAGE_MAX_BYTES", 65536, help="Largest MQTT message or HTTP batch body accepted (bytes).", group="iot"
)
IOT_MESSAGE_MAX_OBSERVATIONS = config(
    "IOT_MESSAGE_MAX_OBSERVATIONS",
    1000,
    help="Most observations (time points) in one MQTT message or HTTP batch.",
    group="iot",
)
IOT_MAX_FUTURE_SECONDS = config(
    "IOT_MAX_FUTURE_SECONDS", 300, help="Readings timed further ahead than this (clock skew) are refused.", group="iot"
)
IOT_DEVICE_RATE_PER_SECOND = config(
    "IOT_DEVICE_RATE_PER_SECOND",
    50.0,
    help="Readings per second one device may send (per ingester process); above it they are quarantined.",
    group="iot",
)
IOT_DEVICE_BURST = config(
    "IOT_DEVICE_BURST", 1000, help="Readings one device may send at once above its rate.", group="iot"
)
IOT_QUARANTINE_PAYLOAD_BYTES = config(
    "IOT_QUARANTINE_PAYLOAD_BYTES", 4096, help="Refused payloads are kept up to this size.", group="iot"
)
IOT_QUARANTINE_MAX_PER_MINUTE = config(
    "IOT_QUARANTINE_MAX_PER_MINUTE",
    60,
    help="Quarantine rows kept per device and reason per minute (all are counted in the metrics).",
    group="iot",
)
IOT_RETENTION_RAW_DAYS = config(
    "IOT_RETENTION_RAW_DAYS",
    90,
    help="Raw readings are kept this many days (whole daily partitions dropped).",
    group="iot",
)
IOT_RETENTION_5M_DAYS = config(
    "IOT_RETENTION_5M_DAYS", 366, help="5-minute rollups are kept this many days.", group="iot"
)
IOT_RETENTION_1H_DAYS = config(
    "IOT_RETENTION_1H_DAYS", 1827, help="Hourly rollups are kept this many days (5 years).", group="iot"
)
IOT_RETENTION_1D_DAYS = config(
    "IOT_RETENTION_1D_DAYS", 0, help="Daily rollups are kept this many days; 0: forever.", group="iot"
)
IOT_PARTITIONS_AHEAD_DAYS = config(
    "IOT_PARTITIONS_AHEAD_DAYS", 3, help="Daily partitions of the readings created ahead (PostgreSQL).", group="iot"
)
CELERY_BEAT_SCHEDULE["iot-storage"] = {"task": "iot.storage_maintain", "schedule": 3600.0}

# --- application drafts (hcmgov.drafts) ------------------------------------------------------------
DRAFT_KEEP_DAYS = config(
    "HCMGOV_DRAFT_KEEP_DAYS",
    90,
    help="An application draft left untouched this many days is removed (the form says so).",
    group="portal",
)
CELERY_BEAT_SCHEDULE["drafts-purge"] = {"task": "drafts.purge", "schedule": 86400.0}


# --- NGSI-LD context broker (hcmgov.ngsi: /ngsi-ld/v1) ---------------------------------------------
NGSI_LD_CONTEXT_DIR = config(
    "NGSI_LD_CONTEXT_DIR",
    "",
    help="Folder of cached JSON-LD @contexts for the NGSI-LD API: index.json maps each context URL to a "
    "file there. A user context not found there (nor the core context) answers LdContextNotAvailable.",
    group="iot",
)
NGSI_LD_CONTEXT_FETCH = config(
    "NGSI_LD_CONTEXT_FETCH",
    False,
    help="Let the NGSI-LD API fetch an unknown remote @context over the network (once, then kept in "
    "memory). Off by default: no request-time fetches.",
    group="iot",
)
NGSI_LD_DEFAULT_LIMIT = config(
    "NGSI_LD_DEFAULT_LIMIT", 20, help="NGSI-LD queries: entities per page by default.", group="iot"
)
NGSI_LD_MAX_LIMIT = config("NGSI_LD_MAX_LIMIT", 1000, help="NGSI-LD queries: the largest `limit` allowed.", group="iot")
NGSI_LD_MAX_BATCH = config(
    "NGSI_LD_MAX_BATCH", 1000, help="NGSI-LD batch operations: most entities per request.", group="iot"
)
NGSI_LD_MAX_BODY = config(
    "NGSI_LD_MAX_BODY", 8 * 1024 * 1024, help="NGSI-LD: largest request body, in bytes.", group="iot"
)
NGSI_LD_NOTIFY_ALLOWED: list[str] = config(
    "NGSI_LD_NOTIFY_ALLOWED",
    [],
    cast=list,
    help="Private networks (CIDRs) or host names NGSI-LD subscriptions may notify (comma-separated); "
    "any public address is allowed, the platform's own machines are not (netguard).",
    group="iot",
)
NGSI_LD_NOTIFY_MAX_ATTEMPTS = config(
    "NGSI_LD_NOTIFY_MAX_ATTEMPTS",
    8,
    help="NGSI-LD notifications: attempts before a notification is given up (back-off doubles from 2 s).",
    group="iot",
)
NGSI_LD_NOTIFY_TIMEOUT = config(
    "NGSI_LD_NOTIFY_TIMEOUT", 5.0, help="NGSI-LD notifications: HTTP timeout, seconds.", group="iot"
)
NGSI_LD_TEMPORAL_MAX_INSTANCES = config(
    "NGSI_LD_TEMPORAL_MAX_INSTANCES",
    10000,
    help="NGSI-LD temporal API: most instances returned per attribute (lastN and ranges).",
    group="iot",
)
CELERY_BEAT_SCHEDULE["ngsi-notify"] = {"task": "ngsi.notify", "schedule": 2.0}

# --- electronic office (hcmgov.office: official documents, registers, work records) ----------------

# --- helper: office directory and mail ---
# City e-mail (hcmgov.citymail): the city runs its own mail system under one domain for every
# agency (addresses seen: ubnd@, ccvtlt.snv@, ubndxuanhoa@tphcm.gov.vn); we provision addresses on it.
CITYMAIL_DOMAIN = config(
    "HCMGOV_CITYMAIL_DOMAIN",
    "tphcm.gov.vn",
    help="Mail domain of the city's mailboxes (officials' and agencies'): the addresses the platform provisions.",
    group="mail",
)
# --- end helper: office directory and mail ---
# --- helper: iot alerts ---
IOT_OBSERVE_GRACE_SECONDS = config(
    "IOT_OBSERVE_GRACE_SECONDS",
    60,
    help="An interval (5 minutes, an hour) counts as closed this long after its end: readings arriving later "
    "are stored but no longer change the NGSI-LD entities or the alerts.",
    group="iot",
)
IOT_TRAFFIC_FREE_FLOW_KMH = config(
    "IOT_TRAFFIC_FREE_FLOW_KMH",
    40.0,
    help="Free-flow speed of a road segment (km/h) when its device declares none (attributes.speed.free_flow_kmh); "
    "the congestion level is the measured speed's ratio to it (HCM 2010).",
    group="iot",
)
IOT_ALERTS_LOOKBACK_HOURS = config(
    "IOT_ALERTS_LOOKBACK_HOURS",
    24,
    help="Alerts: intervals older than this are not evaluated (first run, or after the worker was down).",
    group="iot",
)
IOT_OPENDATA_RECOMPUTE_DAYS = config(
    "IOT_OPENDATA_RECOMPUTE_DAYS",
    2,
    help="Open data: the daily air quality and traffic aggregates of this many past days are recomputed each "
    "night (late readings), then the datasets republished.",
    group="iot",
)
CELERY_BEAT_SCHEDULE["iot-observe"] = {"task": "iot.observe", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["iot-opendata"] = {"task": "iot.opendata_daily", "schedule": crontab(hour=1, minute=30)}
# --- end helper: iot alerts ---
# --- helper: iot dashboard and broker ---
IOT_DASHBOARD_STALE_MINUTES = config(
    "IOT_DASHBOARD_STALE_MINUTES",
    90,
    help="The dashboard shows a sensor's AQI or congestion as current only if measured this recently (minutes).",
    group="iot",
)
IOT_TRAFFIC_FREE_FLOW_KMH = config(
    "IOT_TRAFFIC_FREE_FLOW_KMH",
    40.0,
    help="Free-flow speed of a road segment whose device does not declare one (attributes.speed.free_flow).",
    group="iot",
)
IOT_MAP_BOUNDS = config(
    "IOT_MAP_BOUNDS",
    "106.35,10.30,107.65,11.55",
    help="The city map's bounding box west,south,east,north (degrees; the city since 1 July 2025, without Côn Đảo).",
    group="iot",
)
IOT_BROKER_DYNSEC = config(
    "IOT_BROKER_DYNSEC",
    False,
    help="Provision per-device MQTT accounts on Mosquitto's dynamic security plugin (hcmgov iot broker-sync).",
    group="iot",
)
IOT_BROKER_ADMIN_URL = config(
    "IOT_BROKER_ADMIN_URL",
    "mqtt://127.0.0.1:1883",
    help="Broker address for the dynamic-security commands (mqtt:// or mqtts://; host and port only).",
    group="iot",
)
IOT_BROKER_ADMIN_USERNAME = config(
    "IOT_BROKER_ADMIN_USERNAME",
    "hcmgov-admin",
    help="Mosquitto client allowed to publish on $CONTROL/dynamic-security/# (made by mosquitto_ctrl dynsec init).",
    group="iot",
)
IOT_BROKER_ADMIN_PASSWORD = config("IOT_BROKER_ADMIN_PASSWORD", "", help="Its password.", group="iot", secret=True)
# --- end helper: iot dashboard and broker ---
# --- helper: catalogue-766 ---
TTHC_URL = config(
    "TTHC_URL", "", help="Base URL of the national database of administrative procedures (CSDL quốc gia về TTHC); "
    "empty: no sync of the procedures' publication decisions.", group="catalog",
)  # fmt: skip
TTHC_API_KEY = config("TTHC_API_KEY", "", help="Its API key (X-Api-Key).", group="catalog", secret=True)
TTHC_AGENCY = config("TTHC_AGENCY", "H29", help="The city's code as a publishing authority there.", group="catalog")
TTHC_TIMEOUT = config("TTHC_TIMEOUT", 10.0, help="Seconds to wait for its answer.", group="catalog")
CATALOG_PUBLISH_WORKING_DAYS = config(
    "CATALOG_PUBLISH_WORKING_DAYS", 5, help="Working days the Chairman has to publish a procedure after the "
    "ministry's decision (Decree 63/2010 as amended by 92/2017; confidence medium-low). Index 766, 1.1.",
    group="catalog",
)  # fmt: skip
CATALOG_NATIONAL_DB_WORKING_DAYS = config(
    "CATALOG_NATIONAL_DB_WORKING_DAYS", 5, help="Working days to put a published procedure on the national "
    "database (Decree 63/2010 Art. 24 as amended; confidence medium-low). Index 766, 1.2.", group="catalog",
)  # fmt: skip
# --- end helper: catalogue-766 ---
# --- helper: audit-chain ---
# The audit trail (hcmgov.audit.chain): hash-chained after commit, its head time-stamped (RFC 3161) by the
# authority that stamps signed results (HCMGOV_TSA_URL), each event also shipped after commit to a
# sink outside the database (hcmgov.audit.sink).
AUDIT_ANCHOR_SECONDS = config(
    "HCMGOV_AUDIT_ANCHOR_SECONDS",
    300.0,
    help="How often the audit chain's head is time-stamped (RFC 3161, through HCMGOV_TSA_URL): the most of "
    "the chain's tail that could be cut off unseen.",
    group="audit",
)
AUDIT_SINK_FILE = config(
    "HCMGOV_AUDIT_SINK_FILE",
    "",
    help="A JSON Lines file every audit event is also appended to after commit (relative: inside "
    "HCMGOV_VAR_DIR), ideally on another disk or shipped off the machine. Empty: no file sink.",
    group="audit",
)
if AUDIT_SINK_FILE:
    AUDIT_SINK_FILE = str(VAR_DIR / AUDIT_SINK_FILE)
AUDIT_SINK_SYSLOG = config(
    "HCMGOV_AUDIT_SINK_SYSLOG",
    "",
    help="A syslog receiver every audit event is also sent to after commit (one JSON message each, facility "
    "auth): host:port (UDP) or a local socket such as /dev/log. Empty: no syslog sink.",
    group="audit",
)
AUDIT_LINK_GRACE_SECONDS = config(
    "HCMGOV_AUDIT_LINK_GRACE_SECONDS",
    300.0,
    help="How long a committed audit event may stay unlinked (its transaction links it just after commit, "
    "the task audit.link every minute what was left) before `hcmgov audit verify` reports it.",
    group="audit",
)
_audit_link_background = config(
    "HCMGOV_AUDIT_LINK_BACKGROUND",
    "auto",
    help="How committed audit events are linked into the chain: 'on', one thread per process links them off "
    "the request's path, many at a time; 'off', each transaction links its own in a short transaction right "
    "after it commits; 'auto', on with PostgreSQL and off with SQLite (whose writers queue for one lock "
    "anyway). Either way the task audit.link links what a process left when it died.",
    group="audit",
)
if _audit_link_background not in ("auto", "on", "off"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"HCMGOV_AUDIT_LINK_BACKGROUND: 'auto', 'on' or 'off', not {_audit_link_background!r}")
AUDIT_LINK_BACKGROUND = _audit_link_background == "on" or (_audit_link_background == "auto" and bool(DATABASE_URL))
CELERY_BEAT_SCHEDULE["audit-anchor"] = {"task": "audit.anchor", "schedule": AUDIT_ANCHOR_SECONDS}
CELERY_BEAT_SCHEDULE["audit-link"] = {"task": "audit.link", "schedule": 60.0}
# --- end helper: audit-chain ---
# --- helper: asvs ---
# OWASP ASVS 5.0 level 2 (docs/security/asvs.md). Over HTTPS the session and CSRF cookies carry the
# __Host- prefix (V3.3.1, V3.3.3): the browser then keeps them only when Secure, for "/", and without a
# Domain, so no other host of the city's domain can set or overwrite them. Over plain HTTP (development)
# the prefix would make browsers drop them, so the names stay Django's.
if _https:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
CONTENT_SECURITY_POLICY = config(
    "HCMGOV_CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    help="Content-Security-Policy sent with every answer (hcmgov.common.headers; OWASP ASVS 5.0 V3.4.3, V3.4.6). "
    "Inline styles are allowed (templates and PDFs use style attributes), inline scripts are not; no form-action, "
    "so e-ID and OpenID Connect logins may redirect to another site after a form. Empty: no policy.",
    group="security",
)
# outermost: its headers reach the answers PlatformMiddleware makes (problem documents, early refusals)
MIDDLEWARE.insert(0, "hcmgov.common.headers.SecurityHeadersMiddleware")
# --- end helper: asvs ---
# --- helper: fuzz ---
# --- end helper: fuzz ---
# --- helper: quality766 ---
# --- end helper: quality766 ---
# --- helper: soak ---
# The shared cache degrades to a miss while Redis is unreachable (hcmgov.common.cache): the token cache
# in shared mode, the quality index and open data facets read the database instead of answering 500
# (docs/operations/degradation.md). Short socket timeouts: a Redis host that does not answer at all
# costs a request a quarter of a second once, then is left alone for a few seconds.
if REDIS_URL:
    CACHES["default"]["BACKEND"] = "hcmgov.common.cache.RedisCache"
    CACHES["default"]["OPTIONS"] = {"socket_connect_timeout": 0.25, "socket_timeout": 0.5}
# --- end helper: soak ---
# --- helper: a11y ---
# --- end helper: a11y ---
# --- helper: failover ---
# --- end helper: failover ---
# --- helper: ngsi-speed ---
NGSI_LD_FAST_PATH = config(
    "NGSI_LD_FAST_PATH",
    True,
    help="NGSI-LD: answer sensors' PATCH …/entities/{id}/attrs before Django's request cycle, in one SQL "
    "statement that also checks the bearer token (hcmgov.ngsi.fastpath, decision 0033; PostgreSQL only). "
    "Off: every request takes Django's path.",
    group="iot",
)
TRACKING_FAST_PATH = config(
    "HCMGOV_TRACKING_FAST_PATH",
    True,
    help="Answer the public status lookup GET /api/v1/tracking/{code}?secret= and its page GET "
    "/tra-cuu/?code=&secret= before Django's request cycle, with the views' own selector, body or template, "
    "and rate limit (hcmgov.dossiers.fastpath, hcmgov.web.fastpath; decisions 0038, 0039). Off: every "
    "request takes Django's path.",
    group="dossiers",
)
# --- end helper: ngsi-speed ---
