"""The data sharing platform's access tokens: JWTs (RFC 9068) signed with HMAC-SHA256.

A machine client that asks for ``hcmgov.exchange`` by client credentials gets a token its gateway
can check on its own: the edge (nginx with its Lua module, ``hcmgov.exchange.edge``) verifies the
signature and the expiry in a few microseconds, with no database read and no call back to the provider, on
every call. Every other token (people's, ``hcmgov.api`` alone, refresh tokens) stays an opaque
random string, as before. The token is still stored by the provider like any other (its SHA-256),
so the introspection, the revocation and the Python gateway's check read it as they always did.

HS256, not the provider's RSA key: one HMAC (OpenSSL's, through LuaJIT's FFI) costs a microsecond
where an RSA verification costs tens, and the edge's first design (njs, decision 0024) could not
verify RSA synchronously at all. The keys are the
provider's and the edge's alone (``EXCHANGE_TOKEN_KEYS``, newest first: the first signs, all
verify, so a key rotates without a token refused); a resource server never sees them.

Claims: ``iss`` (the provider), ``sub`` and ``client_id`` (the client), ``aud``
(``hcmgov.exchange``), ``scope``, ``iat``, ``exp``, ``jti``; header ``typ: at+jwt`` and ``kid``.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from functools import lru_cache
from typing import Any

from django.conf import settings
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from hcmgov.identity.provider.scopes import EXCHANGE_SCOPE

AUDIENCE = EXCHANGE_SCOPE
# oauthlib's own tokens (its random_token_generator): 30 letters and digits from the system's randomness
OPAQUE_ALPHABET = string.ascii_letters + string.digits
OPAQUE_LENGTH = 30
MIN_KEY_LENGTH = 32


@lru_cache(maxsize=4)
def _keys(spec: str, secret: str) -> tuple[tuple[str, bytes], ...]:
    from hcmgov.common.crypto import derived_key

    raw = [k.strip().encode() for k in spec.split(",") if k.strip()]
    if not raw:
        raw = [derived_key(secret, "hcmgov exchange access token").hex().encode()]
    short = [k for k in raw if len(k) < MIN_KEY_LENGTH]
    if short:
        raise ValueError(f"EXCHANGE_TOKEN_KEYS: every key needs at least {MIN_KEY_LENGTH} characters")
    return tuple((hashlib.sha256(k).hexdigest()[:12], k) for k in raw)


def signing_keys() -> tuple[tuple[str, bytes], ...]:
    """``(kid, key)`` newest first: the first signs, all verify."""
    return _keys(settings.EXCHANGE_TOKEN_KEYS, settings.SECRET_KEY)


def _header(kid: str) -> dict[str, str]:
    return {"alg": "HS256", "typ": "at+jwt", "kid": kid}


def header_segments() -> dict[str, bytes]:
    """Each key by the first segment of the tokens it signs (the encoded header, one per key): the
    edge finds a token's key from the header as sent, with nothing to decode."""
    return {jwt.encode(_header(kid), {}, OctKey.import_key(key)).split(".", 1)[0]: key for kid, key in signing_keys()}


def exchange_token_issue(*, client_id: str, scopes: list[str], lifetime: int, issuer: str = "") -> str:
    kid, key = signing_keys()[0]
    now = int(time.time())
    claims: dict[str, Any] = {
        **({"iss": issuer} if issuer else {}),
        "sub": client_id,
        "client_id": client_id,
        "aud": AUDIENCE,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + int(lifetime),
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(_header(kid), claims, OctKey.import_key(key))


def exchange_token_client(raw: str, *, now: float | None = None) -> str | None:
    """The client a gateway token was issued to, if its signature, audience, scope and expiry hold
    (the edge's check, in Python: for tests and tools)."""
    keys = dict(signing_keys())
    try:
        header = jws.extract_compact(raw.encode()).headers()
        key = keys.get(str(header.get("kid", "")))
        if key is None or header.get("alg") != "HS256":
            return None
        token = jwt.decode(raw, OctKey.import_key(key), algorithms=["HS256"])
    except (JoseError, ValueError):  # malformed, a bad signature
        return None
    claims = token.claims
    if claims.get("aud") != AUDIENCE or EXCHANGE_SCOPE not in str(claims.get("scope", "")).split():
        return None
    if float(claims.get("exp", 0)) <= (time.time() if now is None else now):
        return None
    client = claims.get("client_id")
    return str(client) if client else None


def access_token_generate(request: Any) -> str:
    """DOT's ``ACCESS_TOKEN_GENERATOR``: a signed JWT for a machine client's gateway token, a random
    string for everything else."""
    scopes = list(request.scopes or [])
    client = getattr(request, "client", None)
    if request.grant_type != "client_credentials" or EXCHANGE_SCOPE not in scopes or client is None:
        return "".join(secrets.choice(OPAQUE_ALPHABET) for _ in range(OPAQUE_LENGTH))
    issuer = str(settings.OAUTH2_PROVIDER.get("OIDC_ISS_ENDPOINT") or "")
    return exchange_token_issue(
        client_id=client.client_id, scopes=scopes, lifetime=int(request.expires_in), issuer=issuer
    )
