"""The edge's nginx configuration and registry, written from the registry's snapshot.

One ``location`` per REST service (``^~ /x/{member}/{system}/{service}``) with its own upstream,
timeouts, body limit and retries, so that routing is nginx's prefix tree and every per-service
setting is a plain directive; the Lua module (``gateway.lua``, lua-nginx-module on LuaJIT) decides
who calls and whether they may. Rate limits are ``limit_req`` zones, one per class of (rate, burst)
found among the systems, keyed by the calling system through a ``map`` of ``$gw_limit_key``
("class:client", set by the module in the rewrite phase, before ``limit_req`` reads it): a system
outside the class has an empty key, which nginx does not count. Daily quotas are counters shared
by the workers (``lua_shared_dict``), seeded from the message log's count of the day.

What the edge leaves to the Python gateway (``EXCHANGE_GATEWAY_URL``), by proxying the call there
unchanged: the metadata (``/x/_meta/...``), services of a peer platform (the city's own token is
fetched and added there), services whose bodies are kept in the log (encrypted), and any address
that is not a service (the Python gateway's precise refusal).
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hcmgov.exchange.gateway.app import MESSAGES
from hcmgov.exchange.selectors import Consumer, ServiceEntry, Snapshot
from hcmgov.identity.provider.exchange_tokens import AUDIENCE, header_segments

LUA = Path(__file__).with_name("gateway.lua")
MAX_FAILS = 5  # the breaker: failures (no connection, timeout, 502-504) before a service's calls pause
FAIL_SECONDS = 30  # ... for this long, then one trial call
REFUSED = (403, 413, 429, 502, 503, 504)  # nginx's own answers that become problem documents
# The message-log line: the record gateway.lua makes in the log phase ($gw_line), a row of
# PostgreSQL's COPY text format, hash included (control.Edge.ship checks its shape and copies it).
LOG_LINE = "$gw_line"
BODY_IN_MEMORY = 16 * 1024 * 1024  # bodies up to this size are hashed in memory, larger ones from their file


@dataclass(frozen=True)
class EdgeSettings:
    port: int
    workers: int
    directory: Path
    python_gateway: str  # http://host:port of the Python gateway
    modules: tuple[str, ...] = ()  # nginx's dynamic modules to load (ndk, then lua), in order
    host: str = "127.0.0.1"
    log_flush_ms: int = 50
    user: str = ""  # the workers' user when nginx starts as root ("": nginx's own choice)
    user_group: str = ""
    tls_certificate: str = ""  # HTTPS (files, PEM); with tls_client_ca, client certificates are asked for
    tls_key: str = ""
    tls_client_ca: str = ""

    @property
    def temp(self) -> Path:
        """Where nginx keeps large bodies: the workers write there, and must reach it. Under the
        working folder, unless the workers run as another user (the folder's parents may be
        closed to it): then a folder of their own in the system's temporary directory."""
        if not self.user:
            return self.directory / "tmp"
        tag = hashlib.sha256(str(self.directory.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"hcmgov-edge-{tag}"


def worker_user() -> tuple[str, str]:
    """Started as root, nginx runs its workers as an unprivileged user: Debian's www-data, else
    nobody. Not root: the workers are the caller's user, nothing to set."""
    if os.geteuid() != 0:
        return "", ""
    for user in ("www-data", "nobody"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        return user, grp.getgrgid(entry.pw_gid).gr_name
    return "", ""


# nginx's variables the module sets, that nginx reads (the rest of a call's state is the module's
# own, in ngx.ctx): declared (and emptied) for every call by the server block's ``set``
SET_BY_LUA = (
    "gw_service",
    "gw_request_id",
    "gw_consumer",
    "gw_limit_key",
    "gw_target",
    "gw_line",
)


# "-" for the line: one nginx wrote without the module's record is counted as malformed
START = {"gw_line": "-"}


def _lua_q(value: str) -> str:
    """A Lua string literal (inside nginx.conf's block: no quote of nginx's own to escape)."""
    plain = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:")
    return "'" + "".join(chr(b) if b in plain else f"\\{b:03d}" for b in value.encode()) + "'"


def _q(value: str) -> str:
    """A value quoted for nginx.conf."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "${dollar}") + '"'


def fast_path(service: ServiceEntry) -> bool:
    return service.peer is None and not service.log_bodies and urlsplit(service.upstream).scheme in ("http", "https")


def _classes(consumers: dict[str, Consumer]) -> dict[tuple[int, int], int]:
    pairs = sorted({(max(1, c.rate), max(c.burst, c.rate, 1)) for c in consumers.values()})
    return {pair: n for n, pair in enumerate(pairs, 1)}


def registry(
    snapshot: Snapshot, *, over_quota: set[str], used: dict[str, int] | None = None, day: str = "", node: str = "edge"
) -> dict[str, Any]:
    """What ``gateway.lua`` reads (``REG``): the token keys by the header each signs under, the
    systems, the services with their rights by calling client, the refusals' messages, and the
    calls of the day (``day``: Vietnam's day number since the epoch) the message log holds, and
    ``node``: what each worker's chain is named after (with its pid and the moment it started)."""
    classes = _classes(snapshot.consumers)
    by_id = {c.id: c for c in snapshot.consumers.values()}
    services: dict[str, Any] = {}
    for service in snapshot.services.values():
        if not fast_path(service):
            continue
        rights: dict[str, list[list[Any]]] = {}
        for (consumer_id, service_id), granted in snapshot.rights.items():
            if service_id != service.id or consumer_id not in by_id:
                continue
            rights[by_id[consumer_id].client_id] = [
                ["," + ",".join(sorted(r.methods)) + "," if r.methods else "", r.path_prefix] for r in granted
            ]
        services[str(service.id)] = {
            "path": service.path,
            "base": urlsplit(service.upstream).path.rstrip("/"),
            "rights": rights,
        }
    return {
        "audience": AUDIENCE,
        "heads": {head: key.decode() for head, key in header_segments().items()},
        "consumers": {
            c.client_id: {
                "name": c.name,
                "cls": classes[(max(1, c.rate), max(c.burst, c.rate, 1))],
                "over": c.client_id in over_quota,
                "quota": int(c.daily_quota or 0),
                "cert": c.certificate_sha256 or "",
            }
            for c in snapshot.consumers.values()
        },
        "services": services,
        "messages": {code: list(m) for code, m in MESSAGES.items()},
        "quota_day": day,
        "quota_used": {client: n for client, n in sorted((used or {}).items()) if n},
        "node": node,
    }


def _upstream(service: ServiceEntry) -> list[str]:
    url = urlsplit(service.upstream)
    port = url.port or (443 if url.scheme == "https" else 80)
    server = f"{url.hostname}:{port}"
    # the provider's address once per attempt (nginx retries on the next server of the group), and
    # a server that is never used: with a single server nginx would never count its failures
    lines = [f"upstream gw_s{service.id} {{"]
    lines += [f"    server {server} max_fails={MAX_FAILS} fail_timeout={FAIL_SECONDS}s;"] * (1 + service.retries)
    lines += ["    server unix:/nonexistent/hcmgov-edge down;", "    keepalive 64;", "}"]
    return lines


def _location(service: ServiceEntry, classes: dict[tuple[int, int], int], log: Path, flush: int) -> list[str]:
    url = urlsplit(service.upstream)
    host = url.netloc.rpartition("@")[2]
    timeout = max(0.001, service.timeout)
    body_buffer = min(service.max_body, BODY_IN_MEMORY)
    lines = [
        f"location ^~ /x/{service.path} {{",
        f"    set $gw_service {service.id};",
        f"    access_log {log} gw buffer=256k flush={flush}ms;",
        "    rewrite_by_lua_block { gw.check() }",
        *(f"    limit_req zone=gw_rate_{n} burst={burst - 1} nodelay;" for (rate, burst), n in classes.items()),
        f"    client_max_body_size {service.max_body};",
        f"    client_body_buffer_size {body_buffer};",
        "    client_body_in_single_buffer on;",
        "    body_filter_by_lua_block { gw.response_body() }",
        "    log_by_lua_block { gw.log() }",
        "    add_header X-Request-Id $gw_request_id always;",
        f"    proxy_pass {url.scheme}://gw_s{service.id}$gw_target;",
        # (a location's proxy_set_header replaces every one of the levels above: all of them here)
        f"    proxy_set_header Host {_q(host)};",
        '    proxy_set_header Connection "";',
        '    proxy_set_header Authorization "";',
        '    proxy_set_header Proxy-Authorization "";',
        "    proxy_set_header X-Request-Id $gw_request_id;",
        "    proxy_set_header X-Hcmgov-Client $gw_consumer;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        f"    proxy_connect_timeout {round(min(5.0, timeout) * 1000)}ms;",
        f"    proxy_read_timeout {round(timeout * 1000)}ms;",
        f"    proxy_send_timeout {round(timeout * 1000)}ms;",
        "    proxy_next_upstream error timeout http_502 http_503 http_504;",
        f"    proxy_next_upstream_tries {1 + service.retries};",
    ]
    if url.scheme == "https":
        lines += ["    proxy_ssl_server_name on;", f"    proxy_ssl_name {_q(url.hostname or '')};"]
    return [*lines, "}"]


def _tls(edge: EdgeSettings) -> list[str]:
    if not edge.tls_certificate:
        return []
    lines = [
        f"        ssl_certificate {edge.tls_certificate};",
        f"        ssl_certificate_key {edge.tls_key};",
        "        ssl_protocols TLSv1.2 TLSv1.3;",
        "        ssl_session_cache shared:gw_tls:10m;",
    ]
    if edge.tls_client_ca:
        # optional: a system bound to a certificate is refused without it (gateway.js), others may
        # still call with their token alone
        lines += [
            f"        ssl_client_certificate {edge.tls_client_ca};",
            "        ssl_verify_client optional;",
            "        ssl_verify_depth 3;",
        ]
    return lines


def nginx_conf(snapshot: Snapshot, edge: EdgeSettings) -> str:
    d = edge.directory
    log = d / "access.log"
    classes = _classes(snapshot.consumers)
    fast = [s for s in sorted(snapshot.services.values(), key=lambda s: s.path) if fast_path(s)]
    python = urlsplit(edge.python_gateway)
    out: list[str] = []
    out += [f"load_module {module};" for module in edge.modules]
    if edge.user:
        out.append(f"user {edge.user} {edge.user_group};")
    out += [
        f"worker_processes {edge.workers or 'auto'};",
        "daemon off;",
        f"pid {d / 'nginx.pid'};",
        f"error_log {d / 'error.log'} warn;",
        "events { worker_connections 4096; }",
        "http {",
        "    server_tokens off;",
        "    access_log off;",
        "    default_type application/octet-stream;",
        *(f"    {kind}_temp_path {edge.temp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
        f'    lua_package_path "{LUA.parent}/?.lua;/usr/share/lua/5.1/?.lua;;";',
        "    lua_shared_dict gw_quota 8m;",
        "    lua_code_cache on;",
        f"    init_by_lua_block {{ gw = require('gateway'); gw.load({_lua_q(str(d / 'registry.json'))}) }}",
        f"    log_format gw escape=none '{LOG_LINE}';",
        '    geo $dollar { default "$"; }',
        "    limit_req_status 429;",
        "    limit_req_log_level warn;",
    ]
    for (rate, _burst), n in classes.items():
        out += [
            f'    map $gw_limit_key $gw_rate_key_{n} {{ ~^{n}:(.+)$ $1; default ""; }}',
            f"    limit_req_zone $gw_rate_key_{n} zone=gw_rate_{n}:10m rate={rate}r/s;",
        ]
    out += [
        "    proxy_http_version 1.1;",
        "    proxy_request_buffering on;",
        "    proxy_max_temp_file_size 0;",
        "    proxy_intercept_errors off;",
        "    proxy_hide_header X-Request-Id;",
        "    proxy_pass_header Server;",
        "    proxy_pass_header Date;",
        # the refusal's named location knows nginx's status by its name ($status is not set there)
        *(f"    error_page {n} = @refused_{n};" for n in REFUSED),
    ]
    for service in fast:
        out += ["    " + line for line in _upstream(service)]
    out += [
        f"    upstream gw_python {{ server {python.hostname}:{python.port or 80}; keepalive 16; }}",
        "    server {",
        f"        listen {edge.host}:{edge.port}{' ssl' if edge.tls_certificate else ''} backlog=4096;",
        *_tls(edge),
        # the variables the module sets and the log line reads: empty until it does
        *(f'        set ${name} "{START.get(name, "")}";' for name in SET_BY_LUA),
        '        location = /healthz { default_type application/json; return 200 \'{"status":"ok"}\'; }',
    ]
    for service in fast:
        out += ["        " + line for line in _location(service, classes, log, edge.log_flush_ms)]
    out += [
        *(
            line
            for n in REFUSED
            for line in (
                f"        location @refused_{n} {{",
                f"            access_log {log} gw buffer=256k flush={edge.log_flush_ms}ms;",
                f"            content_by_lua_block {{ gw.refused({n}) }}",
                "            log_by_lua_block { gw.log() }",
                "        }",
            )
        ),
        "        location / {",
        "            # the metadata, peers' services, services whose bodies are logged, anything else:",
        "            # the Python gateway, unchanged (it authenticates, checks and logs these itself)",
        "            error_page 403 413 429 502 503 504 =502 /x/_edge_down;",
        "            proxy_set_header Host $http_host;",
        "            proxy_set_header Authorization $http_authorization;",
        "            proxy_set_header X-Request-Id $http_x_request_id;",
        "            proxy_set_header X-Hcmgov-Client $http_x_hcmgov_client;",
        "            set_by_lua_block $gw_certificate { return gw.certificate() }",
        "            proxy_set_header X-Hcmgov-Client-Certificate $gw_certificate;",
        "            proxy_pass_request_headers on;",
        "            proxy_pass_header X-Request-Id;",
        "            client_max_body_size 0;",
        "            proxy_request_buffering off;",
        "            proxy_pass http://gw_python;",
        "        }",
        "        location = /x/_edge_down {",
        "            internal;",
        "            default_type application/problem+json;",
        '            return 502 \'{"code":"exchange_provider_down","status":502,'
        '"title":"Cổng trung gian tạm thời không hoạt động. / The gateway is down for now."}\';',
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(out) + "\n"


def registry_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True)
