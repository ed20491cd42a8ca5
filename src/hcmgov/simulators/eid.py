"""Simulator of the national electronic identity (VNeID-like): an OpenID Connect provider.

The protocol is OpenID Connect Core 1.0 with the authorization code flow only
(https://openid.net/specs/openid-connect-core-1_0.html §3.1), PKCE with S256 (RFC 7636),
discovery (OpenID Connect Discovery 1.0), RP-initiated logout (OpenID Connect RP-Initiated Logout
1.0) and the ``iss`` authorization-response parameter (RFC 9207). The Ministry of Public Security
does not publish VNeID's relying-party interface: **the claim names and values below for the
personal ID, the assurance level and the business a person acts for are ours**, chosen to be
plain OIDC where a standard claim exists; they must be checked against the real provider's
integration documents before production (``hcmgov.identity.eid`` keeps the mapping in one place).

Endpoints (the issuer is the simulator's own base URL, taken from the request's ``Host``, unless
the factory is given ``issuer=``):

* ``GET /.well-known/openid-configuration`` — the discovery document;
* ``GET /jwks`` — the public signing keys (RS256, generated at start; rotated keys stay published);
* ``GET /authorize`` — validates ``client_id`` and the exact registered ``redirect_uri`` first (an
  unknown one gets an error page, never a redirect), then ``response_type=code``, ``scope`` with
  ``openid``, ``state``, ``nonce`` and ``code_challenge`` with ``code_challenge_method=S256``
  (errors there are redirected back as ``error=…&state=…``); shows the login form, where a person
  types their 12-digit personal ID and password and, if they represent a business, may choose to
  act for it. ``POST /authorize`` takes that form: the same parameters plus ``personal_id``,
  ``password``, optional ``act_for`` (a tax code) and ``action=deny`` to refuse
  (→ ``error=access_denied``). Tests post it directly;
* ``POST /token`` — ``grant_type=authorization_code`` with ``client_secret_basic`` or
  ``client_secret_post``; a code lives ``code_lifetime`` seconds, is bound to its client,
  ``redirect_uri`` and ``code_verifier``, and is used once: a second use answers ``invalid_grant``
  and revokes the access token the first use obtained (RFC 6749 §4.1.2);
* ``GET|POST /userinfo`` — ``Authorization: Bearer …``;
* ``GET /logout`` — the end-session endpoint: ``id_token_hint`` (one this provider signed, expired
  or not), ``post_logout_redirect_uri`` (registered for the hint's client) and ``state``.

Claims. The ID token carries ``iss sub aud azp exp iat nbf auth_time nonce acr amr at_hash sid``
and our ``personal_id`` (12 digits) and, when the person chose to act for a business, ``business``:
``{"tax_code": "0312345673", "name": "…", "role": "legal_representative"}``. ``acr`` is the
assurance level of the account (Decree 59/2022/NĐ-CP, Art. 12: level 1 registered online, level 2
verified in person): ``urn:vn:eid:loa:1`` or ``urn:vn:eid:loa:2``; ``amr`` is ``["pwd"]``.
``sub`` is an opaque, stable identifier (not the personal ID). ``/userinfo`` answers ``sub``,
``personal_id``, ``business`` and, for scope ``profile``, ``name family_name given_name birthdate
gender`` and, for scope ``address``, ``address`` (OIDC's address object, ``formatted`` first).

Seeded people (``PEOPLE`` in ``_eid_people``, all with password ``SIM_PASSWORD``) have realistic
personal IDs — province 079 (Hồ Chí Minh City), century/sex digit, year of birth — and one of them
is the legal representative of the business in ``BUSINESSES``. The default client (``CLIENT_ID``) is registered
for the portal at ``http://127.0.0.1:8000`` and ``http://localhost:8000``.

Extra endpoints, for tests and demos only (not part of any provider's interface):

* ``GET /`` — what the simulator is, its clients, people and password;
* ``GET /_sim/state`` — counts of codes and token requests, the logouts received, pending faults,
  the published key ids;
* ``POST /_sim/faults`` with ``{"fault": F, "times": N}``: the next N ID tokens (or token
  requests) are faulty — ``unknown_key`` (signed by a key never published), ``forged_signature``
  (signed by another key under a published ``kid``), ``wrong_audience``, ``wrong_issuer``,
  ``expired``, ``not_yet_valid``, ``wrong_nonce``, ``unavailable`` (the token endpoint answers
  503); ``DELETE /_sim/faults`` forgets them;
* ``POST /_sim/rotate`` — a new signing key signs from now on; the old one stays in ``/jwks``;
* ``POST /_sim/clock`` with ``{"offset": seconds}`` — the provider's clock runs that far ahead
  (negative: behind), to test clock skew.

Factory options: ``clients`` ({client_id: {"client_secret", "redirect_uris",
"post_logout_redirect_uris"}}), ``people``, ``businesses``, ``issuer``, ``clock_offset``,
``id_token_lifetime``, ``access_token_lifetime``, ``code_lifetime``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit
from wsgiref.util import application_uri

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from hcmgov.simulators import StartResponse, WSGIApp
from hcmgov.simulators._eid_people import BUSINESSES, PEOPLE, SIM_PASSWORD, Business, Person
from hcmgov.simulators._http import Request, json_answer, page, redirect

CLIENT_ID = "hcmgov-portal"
CLIENT_SECRET = "sim-eid-secret-0123456789"  # noqa: S105 - the simulator's well-known test client
ACR = {1: "urn:vn:eid:loa:1", 2: "urn:vn:eid:loa:2"}
FAULTS = {
    "unknown_key",
    "forged_signature",
    "wrong_audience",
    "wrong_issuer",
    "expired",
    "not_yet_valid",
    "wrong_nonce",
    "unavailable",
}
CLAIMS_SUPPORTED = [
    *("sub", "iss", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "sid"),
    *("name", "family_name", "given_name", "birthdate", "gender", "address", "personal_id", "business"),
]
CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256, no padding
VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 §4.1
AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)


DEFAULT_CLIENTS: dict[str, dict[str, Any]] = {
    CLIENT_ID: {
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [
            f"{base}/dang-nhap/vneid/callback/" for base in ("http://127.0.0.1:8000", "http://localhost:8000")
        ],
        "post_logout_redirect_uris": ["http://127.0.0.1:8000/", "http://localhost:8000/"],
    }
}


def _new_key(kid: str | None = None) -> RSAKey:
    kid = kid or "sim-" + secrets.token_hex(6)
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


class EidProvider:
    """The provider's state: signing keys, registered clients, people, codes and tokens issued."""

    def __init__(
        self,
        *,
        clients: Mapping[str, Mapping[str, Any]] | None = None,
        people: Iterable[Person] = PEOPLE,
        businesses: Iterable[Business] = BUSINESSES,
        issuer: str | None = None,
        clock_offset: float = 0.0,
        id_token_lifetime: int = 300,
        access_token_lifetime: int = 600,
        code_lifetime: int = 60,
    ) -> None:
        self.clients = {cid: dict(c) for cid, c in (clients if clients is not None else DEFAULT_CLIENTS).items()}
        self.people = {p.personal_id: p for p in people}
        self.businesses = {b.tax_code: b for b in businesses}
        self.fixed_issuer = issuer.rstrip("/") if issuer else None
        self.clock_offset = clock_offset
        self.id_token_lifetime = id_token_lifetime
        self.access_token_lifetime = access_token_lifetime
        self.code_lifetime = code_lifetime
        self.lock = threading.Lock()
        self.keys: list[RSAKey] = [_new_key()]
        self.codes: dict[str, dict[str, Any]] = {}
        self.spent_codes: dict[str, str] = {}  # code → the access token its first use obtained
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.faults: deque[str] = deque()
        self.logouts: list[dict[str, Any]] = []
        self.codes_issued = 0
        self.token_requests = 0

    def now(self) -> int:
        return int(time.time() + self.clock_offset)

    def issuer(self, request: Request) -> str:
        return self.fixed_issuer or application_uri(request.environ).rstrip("/")

    # --- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.read(environ)
        route = {
            "/.well-known/openid-configuration": self._discovery,
            "/jwks": self._jwks,
            "/authorize": self._authorize,
            "/token": self._token,
            "/userinfo": self._userinfo,
            "/logout": self._logout,
            "/": self._root,
        }.get(request.path)
        if route is not None:
            return route(request, start_response)
        if request.path.startswith("/_sim/"):
            return self._sim(request, start_response)
        return json_answer(start_response, "404 Not Found", {"error": "not_found"})

    def _discovery(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        base = self.issuer(request)
        return json_answer(
            start_response,
            "200 OK",
            {
                "issuer": base,
                "authorization_endpoint": base + "/authorize",
                "token_endpoint": base + "/token",
                "userinfo_endpoint": base + "/userinfo",
                "jwks_uri": base + "/jwks",
                "end_session_endpoint": base + "/logout",
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "address"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "code_challenge_methods_supported": ["S256"],
                "acr_values_supported": list(ACR.values()),
                "claims_supported": CLAIMS_SUPPORTED,
                "authorization_response_iss_parameter_supported": True,
                "claims_parameter_supported": False,
                "request_parameter_supported": False,
            },
        )

    def _jwks(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        with self.lock:
            keys = KeySet(list(self.keys))
        return json_answer(start_response, "200 OK", keys.as_dict(private=False), cache_control="max-age=60")

    # --- authorization ------------------------------------------------------------------------

    def _authorize(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        if request.method not in {"GET", "POST"}:
            return json_answer(start_response, "405 Method Not Allowed", {"error": "method_not_allowed"})
        params = {name: request.param(name) for name in AUTHORIZE_PARAMS}
        client = self.clients.get(params["client_id"])
        if client is None or params["redirect_uri"] not in client.get("redirect_uris", ()):
            # RFC 6749 §4.1.2.1: never redirect to an address not registered for a known client
            return page(
                start_response,
                "400 Bad Request",
                "Yêu cầu đăng nhập không hợp lệ / Invalid login request",
                "<p>Ứng dụng hoặc địa chỉ chuyển hướng chưa được đăng ký.</p>"
                "<p lang='en'>Unknown client or unregistered redirect address.</p>",
            )
        problem = _authorize_problem(params)
        if problem is not None:
            return self._back(start_response, request, params, {"error": problem[0], "error_description": problem[1]})
        if request.method == "GET":
            return self._form(start_response, params, error="")
        if request.param("action") == "deny":
            return self._back(start_response, request, params, {"error": "access_denied"})
        person = self.people.get(request.param("personal_id").strip())
        if person is None or not secrets.compare_digest(request.param("password"), person.password):
            return self._form(start_response, params, error="credentials", status="401 Unauthorized")
        act_for = request.param("act_for").strip()
        if act_for and (act_for not in person.represents or act_for not in self.businesses):
            return self._form(start_response, params, error="act_for", status="403 Forbidden")
        code = secrets.token_urlsafe(32)
        with self.lock:
            self.codes[code] = {
                **params,
                "personal_id": person.personal_id,
                "act_for": act_for,
                "auth_time": self.now(),
                "expires_at": self.now() + self.code_lifetime,
            }
            self.codes_issued += 1
        return self._back(start_response, request, params, {"code": code})

    def _back(
        self, start_response: StartResponse, request: Request, params: dict[str, str], answer: dict[str, str]
    ) -> Iterable[bytes]:
        """Redirect to the client's (registered) redirect URI with the answer, ``state`` and ``iss``."""
        answer = {**answer, "iss": self.issuer(request)}
        if params["state"]:
            answer["state"] = params["state"]
        uri = params["redirect_uri"]
        return redirect(start_response, uri + ("&" if urlsplit(uri).query else "?") + urlencode(answer))

    def _form(
        self, start_response: StartResponse, params: dict[str, str], *, error: str, status: str = "200 OK"
    ) -> Iterable[bytes]:
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value)}">' for name, value in params.items()
        )
        message = {
            "credentials": "Số định danh cá nhân hoặc mật khẩu không đúng. / Wrong personal ID or password.",
            "act_for": "Bạn không đại diện cho tổ chức này. / You do not represent this organisation.",
        }.get(error, "")
        businesses = "".join(
            f'<option value="{html.escape(b.tax_code)}">{html.escape(b.name)} (MST {html.escape(b.tax_code)})</option>'
            for b in self.businesses.values()
        )
        body = f"""{f'<p role="alert" class="error">{html.escape(message)}</p>' if message else ""}
<form method="post" action="authorize">{hidden}
<label for="personal_id">Số định danh cá nhân (12 số) / Personal ID (12 digits)</label>
<input id="personal_id" name="personal_id" inputmode="numeric" pattern="[0-9]{{12}}" maxlength="12" required
 autocomplete="username">
<label for="password">Mật khẩu / Password</label>
<input id="password" name="password" type="password" required autocomplete="current-password">
<label for="act_for">Đăng nhập với tư cách / Log in as</label>
<select id="act_for" name="act_for"><option value="">Cá nhân / Myself</option>{businesses}</select>
<button type="submit" name="action" value="login">Đăng nhập / Log in</button>
<button type="submit" name="action" value="deny" formnovalidate>Hủy / Cancel</button>
</form>"""
        return page(start_response, status, "Đăng nhập định danh điện tử / e-ID login (simulator)", body)

    # --- tokens -------------------------------------------------------------------------------

    def _token(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        if request.method != "POST":
            return json_answer(start_response, "405 Method Not Allowed", {"error": "invalid_request"})
        with self.lock:
            self.token_requests += 1
        client_id, error = self._client_auth(request)
        if error is not None:
            headers = {"www_authenticate": 'Basic realm="eid"'} if request.header("Authorization") else {}
            return json_answer(start_response, "401 Unauthorized", {"error": error}, **headers)
        if request.form.get("grant_type") != "authorization_code":
            return _token_error(start_response, "unsupported_grant_type")
        code = request.form.get("code", "")
        with self.lock:
            grant = self.codes.pop(code, None)
            if grant is None:
                revoked = self.spent_codes.get(code)
                if revoked:  # a replayed code: what its first use obtained is withdrawn
                    self.access_tokens.pop(revoked, None)
                return _token_error(
                    start_response, "invalid_grant", "Mã đã dùng hoặc không hợp lệ / code used or unknown"
                )
        if grant["expires_at"] < self.now():
            return _token_error(start_response, "invalid_grant", "Mã đã hết hạn / code expired")
        if grant["client_id"] != client_id or grant["redirect_uri"] != request.form.get("redirect_uri"):
            return _token_error(start_response, "invalid_grant", "redirect_uri or client mismatch")
        verifier = request.form.get("code_verifier", "")
        if not VERIFIER.match(verifier) or not secrets.compare_digest(_s256(verifier), grant["code_challenge"]):
            return _token_error(start_response, "invalid_grant", "PKCE verification failed")
        with self.lock:
            fault = self.faults.popleft() if self.faults else None
        if fault == "unavailable":
            return page(start_response, "503 Service Unavailable", "503", "<p>Service Unavailable</p>")
        access_token = secrets.token_urlsafe(32)
        now = self.now()
        with self.lock:
            self.access_tokens[access_token] = {**grant, "expires_at": now + self.access_token_lifetime}
            self.spent_codes[code] = access_token
        id_token = self._id_token(request, grant, access_token, fault)
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.access_token_lifetime,
            "id_token": id_token,
            "scope": grant["scope"],
        }
        return json_answer(start_response, "200 OK", body, cache_control="no-store", pragma="no-cache")

    def _client_auth(self, request: Request) -> tuple[str, str | None]:
        """client_secret_basic or client_secret_post (never both); → (client_id, error or None)."""
        authorization = request.header("Authorization")
        in_body = "client_secret" in request.form
        if authorization and in_body:
            return "", "invalid_request"
        if authorization:
            scheme, _, value = authorization.partition(" ")
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except ValueError:
                return "", "invalid_client"
            if scheme.lower() != "basic" or ":" not in decoded:
                return "", "invalid_client"
            raw_id, _, raw_secret = decoded.partition(":")
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)  # RFC 6749 §2.3.1
        else:
            client_id, secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(secret, str(client.get("client_secret", ""))):
            return "", "invalid_client"
        return client_id, None

    def _id_token(self, request: Request, grant: dict[str, Any], access_token: str, fault: str | None) -> str:
        person = self.people[grant["personal_id"]]
        now = self.now()
        claims: dict[str, Any] = {
            "iss": self.issuer(request),
            "sub": person.subject,
            "aud": grant["client_id"],
            "azp": grant["client_id"],
            "iat": now,
            "nbf": now,
            "exp": now + self.id_token_lifetime,
            "auth_time": grant["auth_time"],
            "nonce": grant["nonce"],
            "acr": ACR[person.level],
            "amr": ["pwd"],
            "at_hash": _at_hash(access_token),
            "sid": hashlib.sha256(access_token.encode()).hexdigest()[:16],
            "personal_id": person.personal_id,
            "name": person.name,
        }
        business = self._business_claim(grant)
        if business:
            claims["business"] = business
        with self.lock:
            key = self.keys[-1]
        if fault == "wrong_audience":
            claims["aud"] = claims["azp"] = "another-client"
        elif fault == "wrong_issuer":
            claims["iss"] = "https://eid.example.invalid"
        elif fault == "expired":
            claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
        elif fault == "not_yet_valid":
            claims.update(iat=now + 3600, nbf=now + 3600, exp=now + 7200)
        elif fault == "wrong_nonce":
            claims["nonce"] = secrets.token_urlsafe(16)
        elif fault == "unknown_key":
            key = _new_key("never-published-" + secrets.token_hex(4))
        elif fault == "forged_signature":
            key = _new_key(str(key.kid))
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)

    def _business_claim(self, grant: dict[str, Any]) -> dict[str, str] | None:
        business = self.businesses.get(grant.get("act_for") or "")
        if business is None:
            return None
        return {"tax_code": business.tax_code, "name": business.name, "role": "legal_representative"}

    def _userinfo(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        scheme, _, token = request.header("Authorization").partition(" ")
        with self.lock:
            grant = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if grant is None or grant["expires_at"] < self.now():
            challenge = 'Bearer error="invalid_token"'
            return json_answer(
                start_response, "401 Unauthorized", {"error": "invalid_token"}, www_authenticate=challenge
            )
        person = self.people[grant["personal_id"]]
        scopes = set(grant["scope"].split())
        claims: dict[str, Any] = {"sub": person.subject, "personal_id": person.personal_id}
        if "profile" in scopes:
            claims.update(
                name=person.name,
                family_name=person.family_name,
                given_name=person.given_name,
                birthdate=person.birthdate,
                gender=person.gender,
            )
        if "address" in scopes:
            claims["address"] = person.address()
        business = self._business_claim(grant)
        if business:
            claims["business"] = business
        return json_answer(start_response, "200 OK", claims, cache_control="no-store")

    # --- logout -------------------------------------------------------------------------------

    def _logout(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        hint = request.param("id_token_hint")
        redirect_to = request.param("post_logout_redirect_uri")
        with self.lock:
            keys = KeySet(list(self.keys))
        try:
            claims = jwt.decode(hint, keys, algorithms=["RS256"]).claims if hint else None
        except (JoseError, ValueError):
            claims = None
        if hint and claims is None:
            return page(start_response, "400 Bad Request", "Đăng xuất / Logout", "<p>id_token_hint không hợp lệ.</p>")
        client_id = str(claims["aud"]) if claims else request.param("client_id")
        client = self.clients.get(client_id, {})
        if redirect_to and (claims is None or redirect_to not in client.get("post_logout_redirect_uris", ())):
            return page(
                start_response,
                "400 Bad Request",
                "Đăng xuất / Logout",
                "<p>Địa chỉ quay lại chưa được đăng ký. / Unregistered post-logout address.</p>",
            )
        with self.lock:
            self.logouts.append(
                {
                    "sub": claims["sub"] if claims else None,
                    "client_id": client_id,
                    "post_logout_redirect_uri": redirect_to,
                    "state": request.param("state"),
                }
            )
        if redirect_to:
            state = request.param("state")
            return redirect(start_response, redirect_to + (("?" + urlencode({"state": state})) if state else ""))
        return page(start_response, "200 OK", "Đăng xuất / Logout", "<p>Bạn đã đăng xuất. / You are logged out.</p>")

    # --- the simulator's own endpoints --------------------------------------------------------

    def _root(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        return json_answer(
            start_response,
            "200 OK",
            {
                "simulator": "eid",
                "protocol": "OpenID Connect (authorization code + PKCE S256)",
                "discovery": self.issuer(request) + "/.well-known/openid-configuration",
                # test data, not secrets: what EID_CLIENT_ID / EID_CLIENT_SECRET are set to against it
                "clients": self.clients,
                "password": SIM_PASSWORD,
                "people": [
                    {"personal_id": p.personal_id, "name": p.name, "acr": ACR[p.level], "represents": p.represents}
                    for p in self.people.values()
                ],
                "businesses": [{"tax_code": b.tax_code, "name": b.name} for b in self.businesses.values()],
            },
        )

    def _sim(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        path, method = request.path, request.method
        if path == "/_sim/state" and method == "GET":
            with self.lock:
                body = {
                    "codes_issued": self.codes_issued,
                    "token_requests": self.token_requests,
                    "logouts": list(self.logouts),
                    "faults": list(self.faults),
                    "kids": [str(k.kid) for k in self.keys],
                    "clock_offset": self.clock_offset,
                }
            return json_answer(start_response, "200 OK", body)
        if path == "/_sim/faults" and method == "DELETE":
            with self.lock:
                self.faults.clear()
            return json_answer(start_response, "200 OK", {"cleared": True})
        if path == "/_sim/faults" and method == "POST":
            data = request.json()
            fault, times = data.get("fault"), data.get("times", 1)
            if fault not in FAULTS or not isinstance(times, int) or not 0 < times <= 100:
                return json_answer(
                    start_response, "400 Bad Request", {"error": "invalid_request", "faults": sorted(FAULTS)}
                )
            with self.lock:
                self.faults.extend([fault] * times)
            return json_answer(start_response, "200 OK", {"queued": times})
        if path == "/_sim/rotate" and method == "POST":
            key = _new_key()
            with self.lock:
                self.keys.append(key)
                kids = [str(k.kid) for k in self.keys]
            return json_answer(start_response, "200 OK", {"kid": key.kid, "kids": kids})
        if path == "/_sim/clock" and method == "POST":
            offset = request.json().get("offset")
            if isinstance(offset, bool) or not isinstance(offset, int | float):
                return json_answer(start_response, "400 Bad Request", {"error": "invalid_request"})
            self.clock_offset = float(offset)
            return json_answer(start_response, "200 OK", {"offset": self.clock_offset})
        return json_answer(start_response, "404 Not Found", {"error": "not_found"})


def make_app(**options: Any) -> WSGIApp:
    """The provider with the seeded people and the default client, unless ``options`` say otherwise."""
    return EidProvider(**options)


# --- helpers -----------------------------------------------------------------------------------


def _authorize_problem(params: dict[str, str]) -> tuple[str, str] | None:
    """The first error of an authorization request from a known client (redirected back to it)."""
    if params["response_type"] != "code":
        return "unsupported_response_type", "only the authorization code flow"
    if "openid" not in params["scope"].split():
        return "invalid_scope", "scope must include openid"
    if not params["state"]:
        return "invalid_request", "state is required"
    if not params["nonce"]:
        return "invalid_request", "nonce is required"
    if params["code_challenge_method"] != "S256" or not CODE_CHALLENGE.match(params["code_challenge"]):
        return "invalid_request", "PKCE with S256 is required"
    return None


def _token_error(start_response: StartResponse, error: str, description: str = "") -> Iterable[bytes]:
    body = {"error": error, **({"error_description": description} if description else {})}
    return json_answer(start_response, "400 Bad Request", body, cache_control="no-store")
