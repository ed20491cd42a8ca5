"""City scale: nothing a request needs lives in one process or on one disk (issue 16, item 1).

Two checks. The system check (``hcmgov.core.scale``) refuses, with ``HCMGOV_SCALE=city``, every
setting that keeps state local: each is tested on its own. And a grep-able check reads the source
(Python's own parser, not regular expressions) for every way a process can keep something of its
own — memoised functions, module-level containers filled at run time, ``global`` rebinding,
thread-locals, process-local caches and limiters — and holds each to the list below, with why it is
safe when many processes serve the city. A new one fails the test until someone writes down why it
is safe or moves it to the shared cache; one that is gone fails it too, so the list stays true.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
from django.core.cache import caches
from django.test import override_settings

from hcmgov.core.scale import city_scale_problems

SRC = Path(__file__).resolve().parents[2]  # src/hcmgov
# Code that never answers a request: tests, migrations, the simulators of outside systems, and
# management commands (run by an operator or a process manager).
NOT_ON_REQUEST_PATHS = ("tests", "migrations", "simulators", "commands")
MUTABLE_CALLS = {"dict", "list", "set", "deque", "defaultdict", "OrderedDict", "Counter"}
PURE = "a memo of a pure function of its arguments: every process computes the same answer"
SQL = "SQL text built once from the models' table names: the same in every process"
IMPORT = "filled once at import by declarations in the code: the same in every process"
TLS = "a client object (connection, session) to an outside system; holds no answer of its own"

# (file under src/, name) → why it is safe when many stateless processes serve the city
ALLOWED: dict[tuple[str, str], str] = {
    ("hcmgov/audit/chain.py", "_LINK_SQL"): SQL,
    ("hcmgov/audit/sink.py", "failures"): "a count for the operator's command; the metric is per node by nature",
    ("hcmgov/audit/sink.py", "_syslog"): TLS + " (the syslog handler)",
    ("hcmgov/catalog/flows.py", "_parse_cached"): PURE + " (the BPMN file's bytes)",
    ("hcmgov/catalog/selectors.py", "_flow_spec"): "keyed by a ProcessFlow's id: a stored flow is never edited",
    ("hcmgov/common/config.py", "REGISTRY"): IMPORT + " (the settings' descriptions)",
    ("hcmgov/common/crypto.py", "_keyring"): PURE + " (the key settings' text)",
    ("hcmgov/common/crypto.py", "_index_key"): PURE + " (the key settings' text)",
    ("hcmgov/common/db.py", "_INSERTS"): SQL,
    ("hcmgov/common/ratelimit.py", "_limiters"): "each named limit's buckets are in Redis when REDIS_URL is set "
    "(SharedRateLimiter; check hcmgov.E102 requires it at city scale); the dict holds only the limiter objects",
    ("hcmgov/core/services.py", "_HANDLERS"): IMPORT + " (the outbox's event handlers)",
    ("hcmgov/core/workcalendar/__init__.py", "default_calendar"): "the calendar file shipped with the code, "
    "the same on every node (a new year's holidays are a release)",
    ("hcmgov/documents/pdfparse.py", "_original"): "pypdf's own function, kept once when the parser is wrapped",
    ("hcmgov/documents/pki.py", "_cache"): "the demo CA's files, re-read when they change; at city scale agencies "
    "sign with PKCS#11 keys (documents.models, source pkcs11)",
    ("hcmgov/documents/pki.py", "_signers"): "signer objects keyed by key id and certificate digest (immutable)",
    ("hcmgov/documents/signing.py", "_subset"): PURE + " (a font subset for a set of characters)",
    ("hcmgov/documents/signing.py", "_issuer_name_cached"): PURE + " (a certificate's bytes)",
    ("hcmgov/documents/signing.py", "_reservations"): "a size estimate of signatures by key size; only a guess that "
    "is corrected when wrong",
    ("hcmgov/documents/signing.py", "_timestampers"): TLS + " (the time-stamping authority)",
    ("hcmgov/documents/verification.py", "_roots_cache"): "trusted roots keyed by the files' modification times",
    ("hcmgov/dossiers/engine.py", "_SPEC_JSON"): "keyed by the flow's content hash (immutable)",
    ("hcmgov/dossiers/selectors.py", "_track_sql_postgresql"): SQL,
    ("hcmgov/exchange/bodies.py", "_fernet"): PURE + " (the key settings)",
    ("hcmgov/exchange/events.py", "_validator"): PURE + " (a channel's JSON Schema text)",
    ("hcmgov/exchange/events.py", "_channels"): IMPORT + " (the catalogue of event channels in the code)",
    ("hcmgov/identity/eid.py", "_cache"): "the national e-ID's published discovery document and keys, kept "
    "minutes: the outside system's data, refreshed on an unknown key id",
    ("hcmgov/identity/provider/exchange_tokens.py", "_keys"): PURE + " (the key settings)",
    ("hcmgov/identity/provider/services.py", "_refusals"): "how many refused tokens this process recorded this "
    "minute: a bound on audit writes per process, not a limit callers meet",
    ("hcmgov/identity/provider/services.py", "oauth_tokens"): "hcmgov.common.tokencache: in the shared cache at "
    "city scale (check hcmgov.E109)",
    ("hcmgov/identity/services.py", "api_tokens"): "hcmgov.common.tokencache: in the shared cache at city scale "
    "(check hcmgov.E109)",
    ("hcmgov/identity/services.py", "_user_columns"): PURE + " (the model's columns)",
    ("hcmgov/iot/services.py", "_auth_cache"): "a memo of a password check, compared on every use with the hash "
    "stored in the database: a reset on any node is refused at once everywhere",
    ("hcmgov/iot/storage.py", "_known_partitions"): "partitions known to exist (they are only created, and "
    "creation is idempotent); dropped ones are forgotten by the process that drops them",
    ("hcmgov/reporting/selectors.py", "_plan_memo"): "used only while the shared cache holds the same token for "
    "the figures (each read asks it): figures computed again on any node, or a cleared cache, are seen at once",
    ("hcmgov/iot/views.py", "_limiter"): "the device's bucket is in Redis when REDIS_URL is set (SharedRateLimiter; "
    "check hcmgov.E102 requires it at city scale)",
    ("hcmgov/ngsi/fastwrite.py", "_SQL"): SQL,
    ("hcmgov/ngsi/fastwrite.py", "_ONE"): SQL,
    ("hcmgov/ngsi/http.py", "_bearer"): "the authenticator object; the tokens it accepts are in "
    "hcmgov.common.tokencache",
    ("hcmgov/ngsi/jsonld.py", "core_document"): "the NGSI-LD core context shipped with the code",
    ("hcmgov/ngsi/jsonld.py", "_build"): PURE + " (a context's JSON text)",
    ("hcmgov/ngsi/jsonld.py", "_remote"): "published @context documents by URL, which do not change once published",
    ("hcmgov/opendata/ckan.py", "ACTIONS"): IMPORT + " (the CKAN actions)",
    ("hcmgov/opendata/datastore.py", "COUNTS"): "totals keyed by the table's version, which every write moves",
    ("hcmgov/opendata/datastore_db.py", "_fold"): PURE + " (text folding)",
    ("hcmgov/opendata/datastore_db.py", "SqliteStore"): "SQLite connections per thread: the embedded default only "
    "(check hcmgov.E101 refuses SQLite at city scale)",
    ("hcmgov/registry/services.py", "_token"): "the national registry's access token for this client, fetched "
    "again when it expires: a credential of ours at an outside system, not an answer",
    ("hcmgov/reporting/targets.py", "REASONS_VI"): IMPORT + " (texts)",
    ("hcmgov/web/templatetags/bilingual.py", "_BADGES"): PURE + " (a status's badge per language, from the code)",
    ("hcmgov/web/templatetags/bilingual.py", "_MEANINGS"): PURE + " (a status's plain meaning per language)",
    ("hcmgov/warehouse/selectors.py", "_SUMMER"): "an in-memory DuckDB whose cursors sum the rows handed to them;"
    " it keeps no table between calls",
    ("hcmgov/web/templatetags/static_urls.py", "static_url"): PURE + " (the static manifest shipped in the build)",
    ("hcmgov/web/templatetags/url_cache.py", "view_url"): PURE + " (the URL configuration in the code)",
}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    return ""


def process_local_state() -> set[tuple[str, str]]:
    """Every place in request-path code where a process can keep something of its own."""
    found: set[tuple[str, str]] = set()
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).parts
        if any(part in NOT_ON_REQUEST_PATHS for part in parts) or path.name == "settings.py":
            continue
        rel = path.relative_to(SRC.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        owner: dict[int, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                for child in ast.walk(node):
                    owner.setdefault(id(child), node.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if any(_name(d) in {"cache", "lru_cache"} for d in node.decorator_list):
                    found.add((rel, node.name))  # a memo
            elif isinstance(node, ast.Global):
                found.update((rel, name) for name in node.names)  # module state rebound at run time
            elif (
                isinstance(node, ast.Call)
                and _name(node) == "local"
                and _name(getattr(node.func, "value", None)) == ("threading")
            ):
                found.add((rel, owner.get(id(node), "<module>")))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "LocMemCache" in node.value:
                found.add((rel, "LocMemCache"))
        for node in tree.body:
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            empty_literal = isinstance(value, ast.Dict | ast.List | ast.Set) and not (
                getattr(value, "keys", None) or getattr(value, "elts", None)
            )
            empty_call = isinstance(value, ast.Call) and _name(value) in MUTABLE_CALLS and not value.args
            a_cache = isinstance(value, ast.Call) and any(w in _name(value) for w in ("Cache", "Limiter", "Counts"))
            if empty_literal or empty_call or a_cache:
                found.update((rel, _name(t)) for t in targets)
    return found


def test_every_process_local_state_on_request_paths_is_listed_with_why_it_is_safe():
    found = process_local_state()
    unlisted = sorted(found - set(ALLOWED))
    gone = sorted(set(ALLOWED) - found)
    assert not unlisted, (
        f"process-local state not listed in ALLOWED (move it to the shared cache, or say why it is safe): {unlisted}"
    )
    assert not gone, f"listed in ALLOWED but no longer in the code (remove them): {gone}"


def test_the_scan_finds_what_it_looks_for(tmp_path, monkeypatch):
    """The scanner itself: each pattern in a module of its own is found, so an empty result means
    something."""
    package = tmp_path / "hcmgov" / "probe"
    package.mkdir(parents=True)
    (package / "views.py").write_text(
        "import functools, threading\n"
        "_seen = {}\n"
        "_limit = LocalLimiter()\n"
        "CACHES = {'default': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}\n"
        "@functools.lru_cache\ndef memo(x): return x\n"
        "def count():\n    global hits\n    hits = 1\n"
        "def per_thread():\n    return threading.local()\n",
        encoding="utf-8",
    )
    (package / "tests").mkdir()
    (package / "tests" / "test_x.py").write_text("_ignored = {}\n", encoding="utf-8")
    monkeypatch.setattr(__import__(__name__, fromlist=["_"]), "SRC", tmp_path / "hcmgov")
    assert process_local_state() == {
        ("hcmgov/probe/views.py", name) for name in ("_seen", "_limit", "LocMemCache", "memo", "hits", "per_thread")
    }


CITY = {
    "SCALE": "city",
    "DATABASES": {"default": {"ENGINE": "django.db.backends.postgresql"}},
    "CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}},
    "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
    "STORAGES": {"documents": {"BACKEND": "storages.backends.s3.S3Storage"}},
    "WAREHOUSE_URL": "s3://hcmgov/warehouse",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "OIDC_RSA_PRIVATE_KEY": "/etc/hcmgov/oidc.pem",
    "EXCHANGE_REDIS_URL": "redis://127.0.0.1:6379/2",
    "TOKEN_CACHE": "shared",
    "AUDIT_SINK_FILE": "",
    "SESSION_ENGINE": "django.contrib.sessions.backends.cached_db",
}


def _codes(**overrides) -> set[str]:
    # check only reads settings: override them without touching the test database's connection
    from django.conf import settings

    values = {**CITY, **overrides}
    with override_settings(**{k: v for k, v in values.items() if k != "DATABASES"}):
        real = settings.DATABASES["default"]["ENGINE"]
        settings.DATABASES["default"]["ENGINE"] = values["DATABASES"]["default"]["ENGINE"]
        try:
            return {p.id for p in city_scale_problems()}
        finally:
            settings.DATABASES["default"]["ENGINE"] = real


def test_city_settings_with_every_shared_engine_pass_the_check():
    assert _codes() == set()


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3"}}}, "hcmgov.E101"),
        ({"CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}}, "hcmgov.E102"),
        ({"CELERY_BROKER_URL": "filesystem://"}, "hcmgov.E103"),
        ({"STORAGES": {"documents": {"BACKEND": "hcmgov.documents.storage.BlobFileSystemStorage"}}}, "hcmgov.E104"),
        ({"WAREHOUSE_URL": "/var/lib/hcmgov/warehouse"}, "hcmgov.E105"),
        ({"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend"}, "hcmgov.E106"),
        ({"OIDC_RSA_PRIVATE_KEY": ""}, "hcmgov.E107"),
        ({"EXCHANGE_REDIS_URL": ""}, "hcmgov.E108"),
        ({"TOKEN_CACHE": "process"}, "hcmgov.E109"),
        ({"AUDIT_SINK_FILE": "/var/log/hcmgov/audit.jsonl"}, "hcmgov.E110"),
        ({"SESSION_ENGINE": "django.contrib.sessions.backends.file"}, "hcmgov.E111"),
    ],
)
def test_each_local_setting_is_refused_at_city_scale(override, code):
    assert _codes(**override) == {code}


def test_the_embedded_default_is_left_alone():
    with override_settings(SCALE="one", CELERY_BROKER_URL="filesystem://", TOKEN_CACHE="process"):
        assert city_scale_problems() == []


REDIS = "redis://127.0.0.1:6379/12"
SHARED = {
    "TOKEN_CACHE": "shared",
    "CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS}},
}


def _redis_or_skip() -> None:
    import os

    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=0.5).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("HCMGOV_CI"):
            raise
        pytest.skip("no Redis at 127.0.0.1:6379")


@pytest.mark.django_db
def test_a_shared_token_cache_is_read_by_every_node_and_a_revoked_token_is_refused_at_once():
    from hcmgov.identity import services
    from hcmgov.identity.tests.factories import UserFactory

    _redis_or_skip()
    with override_settings(**SHARED):
        caches["default"].clear()
        token = services.api_token_issue(user=UserFactory(), name="node")
        assert services.api_token_user(raw=token.raw) is not None
        key = services.api_tokens._key(services.token_digest(token.raw))
        assert caches["default"].get(key) is not None  # kept where every node reads it
        assert services.token_digest(token.raw) not in services.api_tokens._kept  # and not in this process
        token.revoked = True
        token.save(update_fields=["revoked"])
        assert caches["default"].get(key) is None
        assert services.api_token_user(raw=token.raw) is None  # refused at once, not after 30 s


def test_a_device_flooding_through_two_nodes_is_refused_at_its_rate_not_twice_it():
    from hcmgov.common.ratelimit import RateLimiter, SharedRateLimiter

    _redis_or_skip()
    import redis

    redis.Redis.from_url(REDIS).delete("hcmgov:test:rate:424242")
    nodes = [SharedRateLimiter(REDIS, rate=0.001, burst=10, prefix="hcmgov:test:rate:") for _ in range(2)]
    taken = sum(nodes[i % 2].take(424242, 1) for i in range(40))
    assert taken == 10  # the burst, across both nodes
    local = [RateLimiter(rate=0.001, burst=10) for _ in range(2)]
    now = time.monotonic()
    assert sum(local[i % 2].take(424242, 1, now) for i in range(40)) == 20  # what per-process limits allowed


def test_the_shared_limiter_counts_on_its_own_while_redis_is_down():
    from hcmgov.common.ratelimit import SharedRateLimiter

    limiter = SharedRateLimiter(
        "redis://127.0.0.1:1/0", rate=0.001, burst=3, prefix="hcmgov:test:rate:"
    )  # nothing listens on port 1
    assert [limiter.take(7, 1) for _ in range(4)] == [True, True, True, False]
