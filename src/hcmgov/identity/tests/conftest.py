"""Fixtures of the identity tests: the OpenID provider's (``oidc_support``)."""

from hcmgov.identity.tests.oidc_support import _client_secret_hasher, rp  # noqa: F401 - fixtures
