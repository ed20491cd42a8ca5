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
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from oauth2_provider.models import get_grant_model, get_refresh_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator

# oauthlib's error classes, through DOT (oauthlib is DOT's dependency, not the platform's)
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
        if super().validate_code(client_id, code, client, request, *args, **kwargs):
            return True
        if not get_grant_model().objects.filter(code=code, application=client).exists():
            _revoke_code_tokens(code=code, client=client)  # a code exchanged before: a replay
        return False

    def invalidate_authorization_code(self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any) -> None:
        deleted, _ = get_grant_model().objects.filter(code=code, application=request.client).delete()
        if not deleted:  # two exchanges of one code at once: this one lost, both lose their tokens
            _revoke_code_tokens(code=code, client=request.client)
            raise oauth_errors.InvalidGrantError(request=request)


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
