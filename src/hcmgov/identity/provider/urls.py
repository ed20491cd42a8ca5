"""The provider's endpoints, in DOT's URL namespace (its views reverse ``oauth2_provider:…``).

The issuer is the portal's origin (``OIDC_ISSUER``, or the address the request came to): the
discovery document sits at ``/.well-known/openid-configuration`` (OpenID Connect Discovery §4),
with the RFC 8414 metadata beside it; every endpoint is under ``/o/``. DOT's application
management pages and dynamic registration are not mounted: administrators manage clients in the
admin site.
"""

from __future__ import annotations

from django.urls import path
from oauth2_provider import views as dot

from hcmgov.identity.provider.views import CityAuthorizationView, CityLogoutView, CityTokenView

app_name = "oauth2_provider"
urlpatterns = [
    path(
        ".well-known/openid-configuration", dot.ConnectDiscoveryInfoView.as_view(), name="oidc-connect-discovery-info"
    ),
    path(".well-known/oauth-authorization-server", dot.OAuthServerMetadataView.as_view(), name="oauth-server-metadata"),
    path("o/authorize/", CityAuthorizationView.as_view(), name="authorize"),
    path("o/token/", CityTokenView.as_view(), name="token"),
    path("o/revoke_token/", dot.RevokeTokenView.as_view(), name="revoke-token"),
    path("o/introspect/", dot.IntrospectTokenView.as_view(), name="introspect"),
    path("o/userinfo/", dot.UserInfoView.as_view(), name="user-info"),
    path("o/jwks/", dot.JwksInfoView.as_view(), name="jwks-info"),
    path("o/logout/", CityLogoutView.as_view(), name="rp-initiated-logout"),
]
