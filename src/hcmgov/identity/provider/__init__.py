"""The city's own OpenID Connect provider, on django-oauth-toolkit (DOT), for officials and the
information systems of departments (ARCHITECTURE: ``/o/``, ``/.well-known/openid-configuration``).

- ``keys``: the RS256 signing key (configured, or generated once into ``HCMGOV_VAR_DIR/keys``) and
  the previous keys still published in the JWKS during a rotation;
- ``hashers``: the hasher of client secrets (random, high-entropy: no key stretching needed);
- ``validator``: DOT's request validator with the platform's claims by scope, silent
  authentication (``prompt=none``) and the revocation of tokens issued from a reused code;
- ``scopes``: which client may ask for which scope;
- ``views`` / ``urls``: the authorization (consent) and logout pages in the portal's look, and the
  endpoints mounted under ``/o/`` with discovery at the issuer.

A machine client (a department's information system calling ``/api/v1``) is a DOT application of
grant type client credentials whose ``user`` is a *service account*: a user of kind official,
without a usable password, holding role assignments in the agency that runs the system. Its
tokens act as that account, so everything the API decides for officials (which agencies' dossiers,
which actions) applies unchanged (``services.machine_client_register``).
"""
