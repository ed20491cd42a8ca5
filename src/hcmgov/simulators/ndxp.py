"""Simulator of the national data exchange platform (NDXP, Nền tảng chia sẻ, tích hợp dữ liệu quốc
gia), as the city's gateway (``hcmgov.exchange``) reaches it: a peer platform speaking the same
protocol as the city's own gateway, in the spirit of X-Road.

The ministries' real interfaces are not public: **the paths, field names and error bodies below
are ours**, mirroring the city's gateway (``/{member}/{system}/{service}/...``, OAuth2 client
credentials, ``X-Request-Id``), and must be checked against the national platform's integration
documents before production. The records are derived from their keys (``_ndxp_data``).

**Token.** ``POST /token`` — OAuth 2.0 client credentials (RFC 6749 §4.4): form
``grant_type=client_credentials`` (optional ``scope``, echoed), the client authenticated with HTTP
Basic (``client_secret_basic``) or ``client_id``/``client_secret`` in the form (never both, §2.3.1).
Answers ``{"access_token", "token_type": "Bearer", "expires_in"}`` (``Cache-Control: no-store``);
errors as §5.2: ``invalid_client`` (401), ``unsupported_grant_type``, ``invalid_request`` (400).
The well-known test account is :data:`CLIENT_ID` / :data:`CLIENT_SECRET`.

**Services.** ``GET /{member}/{system}/{service}/{path}`` with ``Authorization: Bearer <token>``
(RFC 6750: without one → 401 ``invalid_request``-less challenge, a wrong or expired one → 401
``invalid_token``; a JSON body either way). Every answer carries the request's ``X-Request-Id``
back (a new one when it had none). Errors are ``{"error": code, "message": "Tiếng Việt / English"}``.

* ``/VN/BCA/CSDLQGDC/citizens/{personal_id}`` — the national population database (Ministry of
  Public Security): a 12-digit personal ID → full name, date of birth, sex, nationality,
  ethnicity, the province of birth registration and the permanent address (a ward of Hồ Chí Minh
  City); 400 ``invalid_personal_id`` when not 12 digits, 404 ``not_found`` when no one has it;
* ``/VN/BKHDT/CSDLQGDKDN/enterprises/{tax_code}`` — the national business registration database
  (Ministry of Planning and Investment): a tax code of 10 digits (or 13: a branch) with its check
  digit → name, English name, address, legal representative, registration date, status, business
  lines (VSIC), charter capital; 400 ``invalid_tax_code``, 404 ``not_found``;
* ``/{member}/{system}/{service}/openapi.json`` — each service's OpenAPI 3.1 document.

An unknown service is 404 ``unknown_service``; a method other than GET is 405.

**Test endpoints** (not the platform's): ``GET /`` the simulator and its account; ``GET
/_sim/stats`` ``{"requests", "tokens_issued", "token_refused", "unauthorized", "by_service",
"by_status", "recent": [{"method", "path", "status", "request_id", "client_id"}…], "mode",
"delay"}`` (``DELETE`` resets the counters); ``POST /_sim/mode`` ``{"mode": "ok"|"down"|"slow",
"delay": seconds}`` — ``down``: every request but ``/_sim/…`` is answered 503 ``unavailable``
(``Retry-After``), ``slow``: each waits ``delay`` seconds (default 2) before it is answered;
``DELETE /_sim/tokens`` forgets every access token issued (the gateway must get a new one).

Factory options: ``clients`` ({client_id: secret}), ``token_lifetime`` (seconds).
"""

from __future__ import annotations

import base64
import html
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, unquote_plus
from wsgiref.util import application_uri

from hcmgov.simulators import StartResponse, WSGIApp
from hcmgov.simulators import _ndxp_data as data
from hcmgov.simulators._http import Request, json_answer, page

CLIENT_ID = "hcmgov-lgsp"
CLIENT_SECRET = "sim-ndxp-secret-0123456789"  # noqa: S105 - the simulator's well-known test account
TOKEN_LIFETIME = 3600
MODES = ("ok", "down", "slow")
MAX_DELAY = 120.0
RECENT = 100

POPULATION = ("VN", "BCA", "CSDLQGDC")
BUSINESS_REGISTRY = ("VN", "BKHDT", "CSDLQGDKDN")
SERVICES = {
    POPULATION: ("Cơ sở dữ liệu quốc gia về dân cư", "National population database"),
    BUSINESS_REGISTRY: ("Cơ sở dữ liệu quốc gia về đăng ký doanh nghiệp", "National business registration database"),
}


class Platform:
    """The platform's state: clients, tokens issued, the misbehaviour mode and the counters."""

    def __init__(self, *, clients: Mapping[str, str] | None = None, token_lifetime: int = TOKEN_LIFETIME) -> None:
        self.clients = dict(clients if clients is not None else {CLIENT_ID: CLIENT_SECRET})
        self.token_lifetime = token_lifetime
        self.lock = threading.Lock()
        self.tokens: dict[str, dict[str, Any]] = {}
        self.mode, self.delay = "ok", 2.0
        self._reset()

    def _reset(self) -> None:
        self.requests = self.tokens_issued = self.token_refused = self.unauthorized = 0
        self.by_service: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT)

    # --- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.read(environ)
        if request.path.startswith("/_sim/"):
            return self._sim(request, start_response)
        if request.path in ("", "/"):
            return self._root(start_response)
        request_id = request.header("X-Request-Id")[:200] or uuid.uuid4().hex
        client_id = ""
        with self.lock:
            mode, delay = self.mode, self.delay
            self.requests += 1
        if mode == "down":
            status, body, headers = "503 Service Unavailable", _error("unavailable"), {"retry_after": "30"}
        else:
            if mode == "slow":
                time.sleep(delay)
            if request.path == "/token":
                status, body, headers = self._token(request)
            else:
                status, body, headers, client_id = self._service(request)
        with self.lock:
            self.by_status[status.split()[0]] += 1
            self.recent.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "status": int(status.split()[0]),
                    "request_id": request_id,
                    "client_id": client_id,
                }
            )
        return json_answer(start_response, status, body, x_request_id=request_id, **headers)

    # --- the token endpoint ------------------------------------------------------------------

    def _token(self, request: Request) -> tuple[str, Any, dict[str, str]]:
        if request.method != "POST":
            return "405 Method Not Allowed", _error("invalid_request", "chỉ POST", "POST only"), {"allow": "POST"}
        client_id, error = self._client_auth(request)
        if error is not None:
            with self.lock:
                self.token_refused += 1
            status = "401 Unauthorized" if error == "invalid_client" else "400 Bad Request"
            headers = {"www_authenticate": 'Basic realm="ndxp"'} if request.header("Authorization") else {}
            return status, {"error": error}, {**headers, "cache_control": "no-store"}
        if request.form.get("grant_type") != "client_credentials":
            with self.lock:
                self.token_refused += 1
            return "400 Bad Request", {"error": "unsupported_grant_type"}, {"cache_control": "no-store"}
        token = secrets.token_urlsafe(32)
        scope = request.form.get("scope", "")
        with self.lock:
            now = time.time()
            self.tokens = {t: v for t, v in self.tokens.items() if v["expires_at"] > now}  # forget expired ones
            self.tokens[token] = {"client_id": client_id, "expires_at": now + self.token_lifetime, "scope": scope}
            self.tokens_issued += 1
        body: dict[str, Any] = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        if scope:
            body["scope"] = scope
        return "200 OK", body, {"cache_control": "no-store", "pragma": "no-cache"}

    def _client_auth(self, request: Request) -> tuple[str, str | None]:
        """client_secret_basic or client_secret_post (never both) → (client_id, error or None)."""
        authorization = request.header("Authorization")
        if authorization and "client_secret" in request.form:
            return "", "invalid_request"
        if authorization:
            scheme, _, value = authorization.partition(" ")
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except ValueError:
                return "", "invalid_client"
            if scheme.lower() != "basic" or ":" not in decoded:
                return "", "invalid_client"
            raw_id, _, raw_secret = decoded.partition(":")
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)  # RFC 6749 §2.3.1
        else:
            client_id, secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
            if not client_id:
                return "", "invalid_client"
        expected = self.clients.get(client_id)
        if expected is None or not secrets.compare_digest(secret.encode(), expected.encode()):
            return "", "invalid_client"
        return client_id, None

    # --- the services ------------------------------------------------------------------------

    def _service(self, request: Request) -> tuple[str, Any, dict[str, str], str]:
        client_id, challenge = self._bearer(request)
        if challenge is not None:
            with self.lock:
                self.unauthorized += 1
            error = "invalid_token" if "invalid_token" in challenge else "unauthorized"
            return "401 Unauthorized", _error(error), {"www_authenticate": challenge}, ""
        parts = [unquote(part) for part in request.path.strip("/").split("/")]
        if len(parts) < 4 or (parts[0], parts[1], parts[2]) not in SERVICES:
            return "404 Not Found", _error("unknown_service"), {}, client_id
        key = (parts[0], parts[1], parts[2])
        with self.lock:
            self.by_service["/".join(key)] += 1
        if request.method != "GET":
            return "405 Method Not Allowed", _error("method_not_allowed"), {"allow": "GET"}, client_id
        rest = parts[3:]
        if rest == ["openapi.json"]:
            base = application_uri(request.environ).rstrip("/")
            return "200 OK", openapi(key, base), {}, client_id
        if key == POPULATION and len(rest) == 2 and rest[0] == "citizens":
            return (*_citizen(rest[1]), {}, client_id)
        if key == BUSINESS_REGISTRY and len(rest) == 2 and rest[0] == "enterprises":
            return (*_enterprise(rest[1]), {}, client_id)
        return "404 Not Found", _error("not_found"), {}, client_id

    def _bearer(self, request: Request) -> tuple[str, str | None]:
        """(client_id, None) for a live token, else ("", the WWW-Authenticate challenge)."""
        scheme, _, token = request.header("Authorization").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "", 'Bearer realm="ndxp"'
        with self.lock:
            grant = self.tokens.get(token.strip())
        if grant is None or grant["expires_at"] <= time.time():
            return "", 'Bearer realm="ndxp", error="invalid_token", error_description="unknown or expired token"'
        return str(grant["client_id"]), None

    # --- pages and test endpoints ------------------------------------------------------------

    def _root(self, start_response: StartResponse) -> Iterable[bytes]:
        services = "".join(
            f"<li><code>/{'/'.join(key)}/</code> — {html.escape(vi)} / {html.escape(en)} "
            f"(<code>/{'/'.join(key)}/openapi.json</code>)</li>"
            for key, (vi, en) in SERVICES.items()
        )
        body = (
            "<p>Nền tảng chia sẻ, tích hợp dữ liệu quốc gia (mô phỏng) / "
            "national data exchange platform (simulator).</p>"
            f"<p><code>POST /token</code> (client credentials): client_id <code>{html.escape(CLIENT_ID)}</code>, "
            f"client_secret <code>{html.escape(CLIENT_SECRET)}</code>.</p><ul>{services}</ul>"
        )
        return page(start_response, "200 OK", "NDXP (mô phỏng / simulator)", body)

    def _sim(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        if request.path == "/_sim/stats":
            with self.lock:
                if request.method == "DELETE":
                    self._reset()
                stats = {
                    "requests": self.requests,
                    "tokens_issued": self.tokens_issued,
                    "token_refused": self.token_refused,
                    "unauthorized": self.unauthorized,
                    "by_service": dict(self.by_service),
                    "by_status": dict(self.by_status),
                    "recent": list(self.recent),
                    "mode": self.mode,
                    "delay": self.delay,
                }
            return json_answer(start_response, "200 OK", stats)
        if request.path == "/_sim/mode":
            if request.method == "POST":
                wanted = request.json()
                mode, delay = wanted.get("mode"), wanted.get("delay", 2.0)
                if (
                    mode not in MODES
                    or not isinstance(delay, int | float)
                    or isinstance(delay, bool)
                    or not 0 <= delay <= MAX_DELAY
                ):
                    return json_answer(
                        start_response,
                        "400 Bad Request",
                        {"error": f"mode: {'|'.join(MODES)}; delay: 0–{MAX_DELAY:g} seconds"},
                    )
                with self.lock:
                    self.mode, self.delay = str(mode), float(delay)
            with self.lock:
                return json_answer(start_response, "200 OK", {"mode": self.mode, "delay": self.delay})
        if request.path == "/_sim/tokens" and request.method == "DELETE":
            with self.lock:
                forgotten = len(self.tokens)
                self.tokens.clear()
            return json_answer(start_response, "200 OK", {"forgotten": forgotten})
        return json_answer(start_response, "404 Not Found", {"error": "not_found"})


def make_app(**options: Any) -> WSGIApp:
    """The platform with the well-known client, unless ``clients`` says otherwise."""
    return Platform(**options)


# --- answers -------------------------------------------------------------------------------------

MESSAGES = {
    "unavailable": ("Hệ thống đang gián đoạn, vui lòng thử lại sau", "The platform is unavailable, try again later"),
    "unauthorized": ("Cần mã truy cập (Bearer)", "A bearer access token is required"),
    "invalid_token": ("Mã truy cập không hợp lệ hoặc đã hết hạn", "The access token is unknown or expired"),
    "unknown_service": ("Không có dịch vụ này trên nền tảng", "No such service on the platform"),
    "method_not_allowed": ("Dịch vụ chỉ nhận GET", "The service takes GET only"),
    "not_found": ("Không tìm thấy", "Not found"),
    "invalid_personal_id": ("Số định danh cá nhân phải gồm 12 chữ số", "A personal ID has 12 digits"),
    "invalid_tax_code": (
        "Mã số thuế phải gồm 10 hoặc 13 chữ số với chữ số kiểm tra đúng",
        "A tax code has 10 or 13 digits and a correct check digit",
    ),
}


def _error(code: str, vi: str = "", en: str = "") -> dict[str, str]:
    default_vi, default_en = MESSAGES.get(code, (code, code))
    return {"error": code, "message": f"{vi or default_vi} / {en or default_en}"}


def _citizen(personal_id: str) -> tuple[str, Any]:
    if not data.personal_id_valid(personal_id):
        return "400 Bad Request", _error("invalid_personal_id")
    record = data.citizen(personal_id)
    if record is None:
        return "404 Not Found", _error(
            "not_found", "Không có công dân với số định danh này", "No citizen has this personal ID"
        )
    return "200 OK", record


def _enterprise(tax_code: str) -> tuple[str, Any]:
    if data.tax_code_check(tax_code) is None:
        return "400 Bad Request", _error("invalid_tax_code")
    record = data.enterprise(tax_code)
    if record is None:
        return "404 Not Found", _error(
            "not_found", "Không có doanh nghiệp với mã số thuế này", "No enterprise has this tax code"
        )
    return "200 OK", record


# --- OpenAPI 3.1 documents -----------------------------------------------------------------------

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}
_ADDRESS = {
    "type": "object",
    "required": ["formatted", "street_address", "ward_code", "ward", "province_code", "province", "country"],
    "properties": {
        "formatted": {"type": "string"},
        "street_address": {"type": "string"},
        "ward_code": {"type": "string", "pattern": "^[0-9]{5}$"},
        "ward": {"type": "string"},
        "province_code": {"type": "string"},
        "province": {"type": "string"},
        "country": {"type": "string", "const": "VN"},
    },
}
_CITIZEN = {
    "type": "object",
    "required": ["personal_id", "full_name", "date_of_birth", "sex", "nationality", "permanent_address"],
    "properties": {
        "personal_id": {"type": "string", "pattern": "^[0-9]{12}$"},
        "full_name": {"type": "string"},
        "family_name": {"type": "string"},
        "middle_name": {"type": "string"},
        "given_name": {"type": "string"},
        "date_of_birth": {"type": "string", "format": "date"},
        "sex": {"type": "string", "enum": ["male", "female"]},
        "sex_vi": {"type": "string", "enum": ["Nam", "Nữ"]},
        "nationality": {"type": "string", "description": "ISO 3166-1 alpha-2"},
        "nationality_name": {"type": "string"},
        "ethnicity": {"type": "string"},
        "place_of_birth_registration": {
            "type": "object",
            "properties": {"province_code": {"type": "string"}, "province": {"type": "string"}},
        },
        "permanent_address": {"$ref": "#/components/schemas/Address"},
    },
}
_ENTERPRISE = {
    "type": "object",
    "required": ["tax_code", "name", "name_en", "address", "legal_representative", "registration_date", "status"],
    "properties": {
        "tax_code": {"type": "string", "pattern": "^[0-9]{10}(-[0-9]{3})?$"},
        "name": {"type": "string"},
        "name_en": {"type": "string"},
        "unit_type": {"type": "string", "enum": ["enterprise", "branch"]},
        "parent_tax_code": {"type": "string", "pattern": "^[0-9]{10}$"},
        "address": {"$ref": "#/components/schemas/Address"},
        "legal_representative": {
            "type": "object",
            "required": ["full_name", "personal_id", "title"],
            "properties": {
                "full_name": {"type": "string"},
                "personal_id": {"type": "string", "pattern": "^[0-9]{12}$"},
                "title": {"type": "string"},
            },
        },
        "registration_date": {"type": "string", "format": "date"},
        "status": {"type": "string", "enum": list(data.STATUSES)},
        "status_vi": {"type": "string"},
        "status_en": {"type": "string"},
        "charter_capital_vnd": {"type": "integer", "minimum": 0},
        "business_lines": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "name", "main"],
                "properties": {
                    "code": {"type": "string", "description": "VSIC 2018"},
                    "name": {"type": "string"},
                    "main": {"type": "boolean"},
                },
            },
        },
    },
}


def openapi(key: tuple[str, str, str], base: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of one national service, its server under ``base``."""
    vi, en = SERVICES[key]
    if key == POPULATION:
        path, name, pattern, schema, what = (
            "/citizens/{personal_id}",
            "personal_id",
            "^[0-9]{12}$",
            "Citizen",
            "công dân",
        )
    else:
        path, name, pattern, schema, what = (
            "/enterprises/{tax_code}",
            "tax_code",
            "^[0-9]{10}(-?[0-9]{3})?$",
            "Enterprise",
            "doanh nghiệp",
        )
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{vi} / {en} (NDXP simulator)",
            "version": "1.0.0",
            "description": "Simulated: field names are the simulator's own, not the ministry's.",
        },
        "servers": [{"url": f"{base}/{'/'.join(key)}"}],
        "security": [{"ndxp": []}],
        "paths": {
            path: {
                "get": {
                    "operationId": f"{schema[0].lower()}{schema[1:]}Get",
                    "summary": f"Tra cứu {what} / look up one {schema.lower()}",
                    "parameters": [
                        {
                            "name": name,
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": pattern},
                        },
                        {"name": "X-Request-Id", "in": "header", "required": False, "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "Found",
                            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
                        },
                        "400": {"description": "Malformed key", **error},
                        "401": {"description": "No or bad access token", **error},
                        "404": {"description": "Not found", **error},
                        "503": {"description": "Unavailable", **error},
                    },
                }
            }
        },
        "components": {
            "securitySchemes": {
                "ndxp": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": f"{base}/token", "scopes": {}}}}
            },
            "schemas": {
                "Error": _ERROR,
                "Address": _ADDRESS,
                schema: _CITIZEN if key == POPULATION else _ENTERPRISE,
            },
        },
    }
