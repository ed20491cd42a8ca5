"""The portal as a relying party of the national electronic identity (VNeID): OpenID Connect.

Authorization code flow with PKCE S256 (OpenID Connect Core 1.0 §3.1, RFC 7636). The provider is
found through its discovery document (``EID_DISCOVERY_URL``); the document and the provider's
signing keys are kept ``CACHE_SECONDS`` in each process, and the keys are fetched again, once, when
an ID token names a key id the cached set lacks (the provider rotated its keys). Authlib speaks
the protocol (authorization URL, token request with ``client_secret_basic`` or
``client_secret_post``, ID-token claim checks), joserfc verifies the signatures
(docs/decisions/0010-oidc-libraries.md).

:func:`eid_authorization_url` keeps ``state``, ``nonce`` and the PKCE verifier in the session, one
entry per login started (a person may start in two tabs); :func:`eid_complete` takes the entry
matching the answer's ``state`` out of the session (a callback is used once), exchanges the code,
verifies the ID token — signature, ``iss``, ``aud``, ``azp``, ``exp``/``iat``/``nbf`` within
``EID_CLOCK_SKEW`` seconds, ``nonce``, ``at_hash`` — and reads ``/userinfo`` (whose ``sub`` must
be the token's). Every failure is an :class:`EidRefused` with a stable ``reason`` for the audit
trail and a message that tells the person nothing an attacker could use.

The real provider's claim names for the personal ID, the assurance level and the business a
person acts for are not public: the names below are the simulator's (:mod:`hcmgov.simulators.eid`)
and are all mapped here — ``personal_id``, ``acr`` through ``ACR_LEVELS``, ``business``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from django.conf import settings
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from hcmgov.common.errors import DomainError, Message

SCOPE = "openid profile address"
# The assurance levels of Decree 59/2022/NĐ-CP, Art. 12 (level 1: registered online; level 2:
# identity checked in person), as the provider's ``acr`` names them (the simulator's names).
ACR_LEVELS = {"urn:vn:eid:loa:1": 1, "urn:vn:eid:loa:2": 2}
ALGORITHMS = {"RS256", "PS256", "ES256"}  # asymmetric only: never "none" nor a shared-secret HMAC
CACHE_SECONDS = 300.0
TIMEOUT = 10.0
FLOW_SECONDS = 600  # a login not finished within this is forgotten
FLOWS_KEPT = 3
SESSION_FLOWS = "eid_flows"
SESSION_ID_TOKEN = "eid_id_token"  # noqa: S105 - a session key, not a secret: the logout's id_token_hint
PERSONAL_ID = re.compile(r"^\d{12}$")
TAX_CODE = re.compile(r"^\d{10}(-?\d{3})?$")
ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")

MESSAGES = {
    "refused": Message(
        "Không thể đăng nhập bằng định danh điện tử quốc gia. Vui lòng thử lại từ đầu; nếu lỗi lặp lại, "
        "hãy liên hệ bộ phận hỗ trợ và cung cấp mã tham chiếu.",
        "Logging in with the national e-ID failed. Please start again; if it happens again, contact "
        "support with the reference code.",
    ),
    "cancelled": Message("Bạn đã hủy đăng nhập bằng VNeID.", "You cancelled the VNeID login."),
    "unavailable": Message(
        "Hệ thống định danh điện tử quốc gia đang không phản hồi. Vui lòng thử lại sau ít phút.",
        "The national e-ID system is not answering. Please try again in a few minutes.",
    ),
    "not_configured": Message(
        "Đăng nhập bằng VNeID hiện chưa sẵn sàng trên cổng này; vui lòng dùng tài khoản của cổng.",
        "VNeID login is not available on this portal yet; please use a portal account.",
    ),
    "account": Message(
        "Tài khoản này không thể đăng nhập bằng VNeID. Vui lòng liên hệ bộ phận hỗ trợ.",
        "This account cannot log in with VNeID. Please contact support.",
    ),
}


class EidRefused(DomainError):
    """A login the platform refuses. ``reason`` (stable, for the audit trail): ``not_configured``,
    ``state_mismatch``, ``access_denied``, ``provider_error``, ``provider_unavailable``,
    ``issuer_mismatch``, ``token_error``, ``signature_invalid``, ``audience_mismatch``,
    ``token_expired``, ``token_not_yet_valid``, ``nonce_mismatch``, ``claims_invalid``,
    ``userinfo_error``, ``account_conflict``; ``detail`` says more to the operator, never to the user."""

    def __init__(self, reason: str, detail: str = "") -> None:
        kind = {
            "access_denied": "cancelled",
            "provider_unavailable": "unavailable",
            "not_configured": "not_configured",
            "account_conflict": "account",
        }.get(reason, "refused")
        status = {"unavailable": 502, "not_configured": 503}.get(kind, 400)
        super().__init__(code="eid_refused", message=MESSAGES[kind], status=status)
        self.reason = reason
        self.detail = detail[:200]


@dataclass(frozen=True)
class EidBusiness:
    """The business the person acts for in this login, as the provider vouches."""

    tax_code: str
    name: str
    role: str


@dataclass(frozen=True)
class EidIdentity:
    """What the provider vouched for in one login."""

    issuer: str
    subject: str
    personal_id: str
    level: int
    full_name: str
    date_of_birth: dt.date | None
    address: str
    business: EidBusiness | None
    id_token: str

    def vouched(self) -> list[str]:
        """The account fields this login vouches for (``User.verified_attributes``)."""
        fields: dict[str, object] = {"personal_id": self.personal_id, "full_name": self.full_name}
        fields.update(date_of_birth=self.date_of_birth, address=self.address)
        return sorted(name for name, value in fields.items() if value)


@dataclass(frozen=True)
class EidSettings:
    discovery_url: str
    client_id: str
    client_secret: str
    clock_skew: int


def eid_settings() -> EidSettings | None:
    """The provider's settings, or None when e-ID login is not configured."""
    url, client_id = settings.EID_DISCOVERY_URL, settings.EID_CLIENT_ID
    if not url or not client_id:
        return None
    return EidSettings(url, client_id, settings.EID_CLIENT_SECRET, int(settings.EID_CLOCK_SKEW))


def eid_enabled() -> bool:
    return eid_settings() is not None


def _configured() -> EidSettings:
    config = eid_settings()
    if config is None:
        raise EidRefused("not_configured")
    return config


# --- the provider's discovery document and keys, cached briefly ---------------------------------

_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def provider_cache_clear() -> None:
    """Forget the discovery documents and keys this process holds."""
    with _cache_lock:
        _cache.clear()


def _fetch_json(url: str) -> Any:
    try:
        with OAuth2Session() as http:
            response = http.get(url, timeout=TIMEOUT, withhold_token=True)
            response.raise_for_status()
            return response.json()
    except (OSError, ValueError) as exc:  # requests' errors are OSErrors; a body that is not JSON
        raise EidRefused("provider_unavailable", f"{url}: {type(exc).__name__}") from exc


def _cached(key: str, load: Any, *, force: bool = False) -> Any:
    now = time.monotonic()
    with _cache_lock:
        kept = _cache.get(key)
    if kept is not None and kept[0] > now and not force:
        return kept[1]
    value = load()
    with _cache_lock:
        _cache[key] = (now + CACHE_SECONDS, value)
    return value


def provider_metadata(config: EidSettings) -> dict[str, Any]:
    """The discovery document, checked: its issuer is the address it was found under (Discovery §4.3)."""

    def load() -> dict[str, Any]:
        data = _fetch_json(config.discovery_url)
        required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in required):
            raise EidRefused("provider_unavailable", "discovery document incomplete")
        if config.discovery_url != data["issuer"].rstrip("/") + "/.well-known/openid-configuration":
            raise EidRefused("issuer_mismatch", "discovery issuer differs from its address")
        return data

    return dict(_cached("metadata:" + config.discovery_url, load))


def provider_keys(metadata: Mapping[str, Any], *, force: bool = False) -> KeySet:
    def load() -> KeySet:
        try:
            return KeySet.import_key_set(_fetch_json(metadata["jwks_uri"]))
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise EidRefused("provider_unavailable", "unreadable key set") from exc

    keys: KeySet = _cached("jwks:" + metadata["jwks_uri"], load, force=force)
    return keys


def _client(config: EidSettings, metadata: Mapping[str, Any], redirect_uri: str) -> OAuth2Session:
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
    return OAuth2Session(
        client_id=config.client_id,
        client_secret=config.client_secret,
        token_endpoint_auth_method=method,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        default_timeout=TIMEOUT,
    )


# --- the flow -------------------------------------------------------------------------------------


def eid_authorization_url(*, session: MutableMapping[str, Any], redirect_uri: str, next_url: str = "") -> str:
    """Start a login: remember state, nonce and PKCE verifier in ``session``; the provider's URL."""
    config = _configured()
    metadata = provider_metadata(config)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    with _client(config, metadata, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
        )
    now = int(time.time())
    flows = {s: f for s, f in session.get(SESSION_FLOWS, {}).items() if f["started"] > now - FLOW_SECONDS}
    flows[state] = {
        "nonce": nonce,
        "verifier": verifier,
        "redirect_uri": redirect_uri,
        "next": next_url,
        "started": now,
    }
    session[SESSION_FLOWS] = dict(sorted(flows.items(), key=lambda kv: kv[1]["started"])[-FLOWS_KEPT:])
    return str(url)


def eid_complete(*, session: MutableMapping[str, Any], params: Mapping[str, str]) -> tuple[EidIdentity, str]:
    """Finish a login from the provider's answer ``params``: (what it vouches for, the page to go to)."""
    config = _configured()
    flows = dict(session.get(SESSION_FLOWS, {}))
    flow = flows.pop(str(params.get("state", "")), None)
    session[SESSION_FLOWS] = flows
    if flow is None or flow["started"] <= time.time() - FLOW_SECONDS:
        raise EidRefused("state_mismatch")
    metadata = provider_metadata(config)
    if "iss" in params and params["iss"] != metadata["issuer"]:  # RFC 9207: an answer from another provider
        raise EidRefused("issuer_mismatch", "iss parameter")
    if "error" in params:
        error = params["error"] if ERROR_CODE.match(params["error"]) else "other"
        raise EidRefused("access_denied" if error == "access_denied" else "provider_error", error)
    code = params.get("code", "")
    if not code:
        raise EidRefused("provider_error", "no code")
    with _client(config, metadata, flow["redirect_uri"]) as client:
        try:
            token = client.fetch_token(
                metadata["token_endpoint"], grant_type="authorization_code", code=code, code_verifier=flow["verifier"]
            )
        except OAuthError as exc:
            raise EidRefused("token_error", str(exc.error)) from exc
        except (OSError, ValueError) as exc:
            raise EidRefused("provider_unavailable", f"token endpoint: {type(exc).__name__}") from exc
        if not isinstance(token.get("id_token"), str) or not isinstance(token.get("access_token"), str):
            raise EidRefused("token_error", "no id_token")
        claims = _verify_id_token(token["id_token"], config=config, metadata=metadata, token=token, nonce=flow["nonce"])
        userinfo = _userinfo(client, metadata, subject=claims["sub"])
    return _identity(metadata["issuer"], claims, userinfo, token["id_token"]), flow["next"]


def _verify_id_token(
    raw: str, *, config: EidSettings, metadata: Mapping[str, Any], token: Mapping[str, Any], nonce: str
) -> dict[str, Any]:
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [a for a in offered if a in ALGORITHMS] or ["RS256"]
    try:
        try:
            decoded = jwt.decode(raw, provider_keys(metadata), algorithms=algorithms)
        except InvalidKeyIdError:  # perhaps rotated since we cached the keys: fetch them once more
            decoded = jwt.decode(raw, provider_keys(metadata, force=True), algorithms=algorithms)
    except InvalidKeyIdError as exc:
        raise EidRefused("signature_invalid", "unknown key id") from exc
    except (JoseError, ValueError, TypeError) as exc:
        raise EidRefused("signature_invalid", type(exc).__name__) from exc
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {
            "iss": {"essential": True, "value": metadata["issuer"]},
            "aud": {"essential": True, "value": config.client_id},
            "sub": {"essential": True},
            "nonce": {"essential": True},
        },
        {"nonce": nonce, "client_id": config.client_id, "access_token": token["access_token"]},
    )
    try:
        claims.validate(leeway=config.clock_skew)
    except ExpiredTokenError as exc:
        raise EidRefused("token_expired") from exc
    except ClaimError as exc:
        reason = {
            "iss": "issuer_mismatch",
            "aud": "audience_mismatch",
            "azp": "audience_mismatch",
            "nbf": "token_not_yet_valid",
            "iat": "token_not_yet_valid",
            "nonce": "nonce_mismatch",
        }.get(exc.claim, "claims_invalid")
        raise EidRefused(reason, f"claim {exc.claim}") from exc
    return dict(claims)


def _userinfo(client: OAuth2Session, metadata: Mapping[str, Any], *, subject: str) -> dict[str, Any]:
    try:
        response = client.get(metadata["userinfo_endpoint"], headers={"Accept": "application/json"})
        response.raise_for_status()
        data = response.json()
    except (OAuthError, OSError, ValueError) as exc:
        raise EidRefused("userinfo_error", type(exc).__name__) from exc
    if not isinstance(data, dict) or data.get("sub") != subject:  # Core §5.3.2: same subject, or discard
        raise EidRefused("userinfo_error", "subject differs")
    return data


def _identity(issuer: str, claims: Mapping[str, Any], userinfo: Mapping[str, Any], id_token: str) -> EidIdentity:
    personal_id = claims.get("personal_id") or userinfo.get("personal_id")
    if not isinstance(personal_id, str) or not PERSONAL_ID.match(personal_id):
        raise EidRefused("claims_invalid", "personal_id")
    level = ACR_LEVELS.get(str(claims.get("acr")))
    if level is None:
        raise EidRefused("claims_invalid", "acr")
    name = userinfo.get("name") or " ".join(
        str(part) for part in (userinfo.get("family_name"), userinfo.get("given_name")) if part
    )
    try:
        born = dt.date.fromisoformat(str(userinfo["birthdate"])) if userinfo.get("birthdate") else None
    except ValueError:
        born = None
    return EidIdentity(
        issuer=issuer,
        subject=str(claims["sub"]),
        personal_id=personal_id,
        level=level,
        full_name=str(name or "")[:150],
        date_of_birth=born,
        address=_address(userinfo.get("address"))[:300],
        business=_business(claims.get("business")),  # from the signed token, not the userinfo answer
        id_token=id_token,
    )


def _address(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    if value.get("formatted"):
        return str(value["formatted"])
    parts = (value.get(k) for k in ("street_address", "locality", "region"))
    return ", ".join(str(p) for p in parts if p)


def _business(value: Any) -> EidBusiness | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not TAX_CODE.match(str(value.get("tax_code", ""))):
        raise EidRefused("claims_invalid", "business")
    return EidBusiness(
        tax_code=str(value["tax_code"]),
        name=str(value.get("name") or value["tax_code"])[:150],
        role=str(value.get("role") or "legal_representative")[:40],
    )


def eid_logout_url(*, id_token: str, post_logout_redirect_uri: str) -> str | None:
    """The provider's end-session address for the login that gave ``id_token`` (None: it has none,
    or it cannot be reached — the local logout has happened anyway)."""
    config = eid_settings()
    if config is None or not id_token:
        return None
    try:
        metadata = provider_metadata(config)
    except EidRefused:
        return None
    endpoint = metadata.get("end_session_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        return None
    params = {
        "id_token_hint": id_token,
        "post_logout_redirect_uri": post_logout_redirect_uri,
        "client_id": config.client_id,
    }
    return str(add_params_to_uri(endpoint, params))
