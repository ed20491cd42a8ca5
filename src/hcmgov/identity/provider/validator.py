"""DOT's request validator, with what the platform adds:

- claims by scope (``profile``: name, user name, language, and for officials their agencies and
  roles; ``email``; ``phone``), empty claims left out;
- silent authentication (``prompt=none``): oauthlib asks the validator, DOT leaves it
  unimplemented (a 500). The authorization view decides: no session → ``login_required`` (DOT),
  no consent on record → ``consent_required`` (``views.CityAuthorizationView``);
- a reused authorization code revokes the tokens issued with it (RFC 6749 §4.1.2: the server
  "SHOULD revoke (when possible) all tokens previously issued based on that authorization code").
  DOT deletes the code when it is exchanged and answers a second exchange ``invalid_grant``, but
  keeps the tokens. Here the refresh tokens issued for a code get a *family* derived from the
  code, which rotation carries on; a second exchange of the code revokes that family (the
  refresh tokens, and the access tokens issued with them), as DOT does itself for a reused
  refresh token (``REFRESH_TOKEN_REUSE_PROTECTION``).

And fewer statements at the token endpoint (decision 0012, "Speed"): DOT reads the grant of a code
seven times in one exchange (scopes, code, PKCE challenge and method, redirect URI, nonce,
resources), the client's account once more for the scopes of a machine client, and loads the ID
token it has just signed back from its JWT (parse, a client read, an RSA verification, a read by
``jti``). Here each is read once per request: the grant with its user, the client with its account,
the ID token kept from signing. What DOT checks stays as it is; only where the rows come from
changes. The code exchange runs in one transaction (``views.CityTokenView``), so DOT's own
transactions inside it are not nested as savepoints.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from typing import Any

from django.db import router, transaction
from oauth2_provider import cimd
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

# DOT's validator; oauthlib's error classes and jwcrypto's JWT through DOT (its dependencies, not
# the platform's)
from oauth2_provider.oauth2_validators import OAuth2Validator, jwt
from oauth2_provider.oauth2_validators import errors as oauth_errors

CODE_FAMILY = uuid.UUID("6f0c1c52-7d4e-4d0e-9a57-0c6f3a1e5b21")  # namespace of the families of codes


def code_family(code: str) -> uuid.UUID:
    """The token family of the refresh tokens issued for authorization code ``code``."""
    return uuid.uuid5(CODE_FAMILY, hashlib.sha256(code.encode()).hexdigest())


def _claim(value: Any) -> Any:
    return value if value not in ("", None, []) else None


class CityOAuth2Validator(OAuth2Validator):
    # which scope releases which claim (OpenID Connect Core §5.4, plus the platform's own)
    oidc_claim_scope = {
        "sub": "openid",
        "name": "profile",
        "preferred_username": "profile",
        "locale": "profile",
        "hcmgov_agencies": "profile",
        "hcmgov_roles": "profile",
        "email": "email",
        "phone_number": "phone",
    }

    def get_additional_claims(self) -> dict[str, Any]:
        # request-agnostic form (callables): discovery lists every claim in claims_supported
        return {
            "name": lambda r: _claim(r.user.full_name or r.user.get_username()),
            "preferred_username": lambda r: r.user.get_username(),
            "locale": lambda r: _claim(r.user.preferred_language),
            "email": lambda r: _claim(r.user.email),
            "phone_number": lambda r: _claim(r.user.phone),
            "hcmgov_agencies": lambda r: _claim(sorted({a for a, _, _ in _roles(r)})),
            "hcmgov_roles": lambda r: _claim([{"agency": a, "role": role, "field": f} for a, role, f in _roles(r)]),
        }

    def get_oidc_claims(self, token: Any, token_handler: Any, request: Any) -> dict[str, Any]:
        claims = super().get_oidc_claims(token, token_handler, request)
        return {name: value for name, value in claims.items() if value is not None}

    def is_pkce_required(self, client_id: str, request: Any) -> bool:
        # oauthlib takes an empty code_challenge for one given; such a code could never be
        # redeemed ("Challenge not found"), but the request is refused here, where it is wrong
        if getattr(request, "code_challenge", None) == "":
            request.code_challenge = None
        return bool(super().is_pkce_required(client_id, request))

    # --- prompt=none ----------------------------------------------------------------------------

    def validate_silent_login(self, request: Any) -> bool:
        # Only reached with a session: DOT answers login_required itself when there is none.
        return True

    def validate_silent_authorization(self, request: Any) -> bool:
        # The user is not known here (oauthlib validates before DOT adds them); the view answers
        # consent_required when it would have to show the consent page.
        return True

    # --- each row read once per request ---------------------------------------------------------

    def _load_application(self, client_id: str, request: Any) -> Any:
        # The client with its account in one statement (the scopes of a machine client read the
        # account: scopes.CityScopes); DOT's method then takes it as its per-request cache and
        # keeps every check (same client id, usable). An unknown client falls through to DOT.
        if not request.client and isinstance(client_id, str) and client_id:
            Application = get_application_model()
            try:  # .get(), not .first(): no ORDER BY to compile (a third of the lookup's CPU)
                client = Application.objects.select_related("user").get(client_id=client_id)
            except (Application.DoesNotExist, ValueError):  # ValueError: a NUL byte (PostgreSQL)
                client = None
            if client is not None:
                request.client = cimd.refresh_if_stale(client, request=request)
        return super()._load_application(client_id, request)

    def _grant(self, code: str, request: Any, client: Any = "any") -> Any:
        """The grant of ``code`` (with its user), read once per request; with ``client``, only when it
        was issued to that client (DOT's ``Grant.objects.get(code=code, application=client)``)."""
        kept = getattr(request, "_hcmgov_grant", None)
        if kept is None or kept[0] != code:
            Grant = get_grant_model()
            try:
                grant = Grant.objects.select_related("user").get(code=code)  # unique
            except Grant.DoesNotExist:
                grant = None
            request._hcmgov_grant = kept = (code, grant)
        grant = kept[1]
        if grant is None or client == "any":
            return grant
        return grant if client is not None and grant.application_id == client.pk else None

    def get_authorization_code_scopes(self, client_id: str, code: str, redirect_uri: str, request: Any) -> list[str]:
        grant = self._grant(code, request)
        return grant.scope.split(" ") if grant is not None else []

    def get_authorization_code_nonce(self, client_id: str, code: str, redirect_uri: str, request: Any) -> Any:
        grant = self._grant(code, request)
        return (grant.nonce or None) if grant is not None else None

    def get_code_challenge(self, code: str, request: Any) -> Any:
        grant = self._grant(code, request, request.client)
        if grant is None:
            raise get_grant_model().DoesNotExist  # as DOT's .get()
        return grant.code_challenge or None

    def get_code_challenge_method(self, code: str, request: Any) -> Any:
        grant = self._grant(code, request, request.client)
        if grant is None:
            raise get_grant_model().DoesNotExist
        return grant.code_challenge_method or None

    def confirm_redirect_uri(
        self, client_id: str, code: str, redirect_uri: str, client: Any, *args: Any, **kwargs: Any
    ) -> bool:
        request = kwargs.get("request", args[0] if args else None)
        if request is None:
            return bool(super().confirm_redirect_uri(client_id, code, redirect_uri, client, *args, **kwargs))
        grant = self._grant(code, request, client)
        if grant is None:
            raise get_grant_model().DoesNotExist
        return bool(grant.redirect_uri_allowed(redirect_uri))

    def _check_and_set_request_resource(self, request: Any) -> None:
        code = request.grant_type == "authorization_code"
        grant = self._grant(request.code, request, request.client) if code else None
        if grant is None or grant.resource:  # resources to narrow or inherit: DOT's own, reading the grant again
            return super()._check_and_set_request_resource(request)
        # DOT's (django-oauth-toolkit 3.4) when the grant names no resource (RFC 8707), the usual
        # case, without its second read of the grant: the request's own resources, normalised and
        # validated; nothing to narrow or inherit
        resource = getattr(request, "resource", None)
        if isinstance(resource, str):  # oauthlib keeps the last of repeated parameters
            values = [value for key, value in (getattr(request, "decoded_body", None) or []) if key == "resource"]
            if len(values) > 1:
                resource = values
        if isinstance(resource, list):
            request.resource = resource or []
        elif resource and isinstance(resource, str) and resource.strip():
            request.resource = [resource]
        else:
            request.resource = []
        self._validate_resource_uris(request, request.resource)
        return None

    def finalize_id_token(self, id_token: Any, token: Any, token_handler: Any, request: Any) -> str:
        # DOT's (django-oauth-toolkit 3.4), with two changes: its transaction around the one INSERT
        # only when the request holds none (else a savepoint: two more statements), and the row
        # kept for the access token (``_create_access_token``)
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:  # oauthlib bug #746, as DOT
            id_token["nonce"] = request.nonce
        header = {"typ": "JWT", "alg": request.client.algorithm}
        key = request.client.jwk_key  # DOT keeps the key parsed from its PEM (utils.jwk_from_pem)
        if request.client.algorithm == get_application_model().RS256_ALGORITHM:
            header["kid"] = key.thumbprint()
        jwt_token = jwt.JWT(header=json.dumps(header, default=str), claims=json.dumps(id_token, default=str))
        jwt_token.make_signed_token(key)
        with _transaction(get_id_token_model()):
            row = self._save_id_token(id_token["jti"], request, expiration_time)
        request.access_token = row  # as DOT: django-rest-framework reads it
        request.id_token = row
        signed = str(jwt_token.serialize())
        request._hcmgov_id_token = (signed, row)
        return signed

    def _create_access_token(self, expires: Any, request: Any, token: Any, source_refresh_token: Any = None) -> Any:
        issued = getattr(request, "_hcmgov_id_token", None)
        if issued is None or token.get("id_token") != issued[0]:
            return super()._create_access_token(expires, request, token, source_refresh_token)
        # DOT's own creation (django-oauth-toolkit 3.4), with the ID token signed in this request
        # rather than loaded back from its JWT
        access_token = get_access_token_model()(
            user=request.user,
            scope=token["scope"],
            expires=expires,
            id_token=issued[1],
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", []),
        )
        self._set_token_value(access_token, token["access_token"])
        access_token.save()
        return access_token

    def save_bearer_token(self, token: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        # DOT's transaction, unless there is a single INSERT to make (client credentials: no
        # refresh token)
        if request.grant_type == "client_credentials":
            return self._save_bearer_token(token, request, *args, **kwargs)
        with _transaction(get_access_token_model()):
            return self._save_bearer_token(token, request, *args, **kwargs)

    # --- a reused authorization code revokes its tokens ---------------------------------------------

    def _create_refresh_token(
        self, request: Any, refresh_token_code: str, access_token: Any, previous_refresh_token: Any
    ) -> Any:
        if previous_refresh_token is not None or request.grant_type != "authorization_code" or not request.code:
            return super()._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)
        # DOT's own creation (django-oauth-toolkit 3.4), with the family of the code
        refresh_token = get_refresh_token_model()(
            user=request.user,
            application=request.client,
            access_token=access_token,
            token_family=code_family(request.code),
            resource=getattr(request, "resource", []),
        )
        self._set_token_value(refresh_token, refresh_token_code)
        refresh_token.save()
        return refresh_token

    def validate_code(self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any) -> bool:
        grant = self._grant(code, request, client)
        if grant is None:
            _revoke_code_tokens(code=code, client=client)  # a code exchanged before: a replay
            return False
        if grant.is_expired():
            return False
        # DOT's validate_code (django-oauth-toolkit 3.4), on the grant read once
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        return True

    def invalidate_authorization_code(self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any) -> None:
        deleted, _ = get_grant_model().objects.filter(code=code, application=request.client).delete()
        if not deleted:  # two exchanges of one code at once: this one lost, both lose their tokens
            _revoke_code_tokens(code=code, client=request.client)
            raise oauth_errors.InvalidGrantError(request=request)


def _transaction(model: Any) -> Any:
    """DOT's transaction for writing ``model``, or nothing when the request's own transaction
    (``views.CityTokenView``) already holds it: a nested one would be a savepoint, two statements
    more, for atomicity the outer transaction gives."""
    database = router.db_for_write(model)
    if transaction.get_connection(database).in_atomic_block:
        return contextlib.nullcontext()
    return transaction.atomic(using=database)


def _roles(request: Any) -> list[tuple[str, str, str]]:
    """(agency code, role, field) of the official's current role assignments, read once per request."""
    kept = getattr(request, "_hcmgov_roles", None)
    if kept is None:
        from hcmgov.identity.selectors import user_current_roles

        kept = user_current_roles(user=request.user)
        request._hcmgov_roles = kept
    return kept


def _revoke_code_tokens(*, code: str, client: Any) -> None:
    from hcmgov.identity.provider.services import oauth_code_reuse_revoke

    oauth_code_reuse_revoke(family=code_family(code), application=client)
