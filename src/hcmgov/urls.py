from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve

from hcmgov.api import api
from hcmgov.core import views as ops

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics_view, name="metrics"),
    path("api/v1/", api.urls),
    # sensors update at thousands a second: matched before the includes at "" (each tried in turn)
    path("ngsi-ld/v1/", include("hcmgov.ngsi.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # the city's OpenID provider: /.well-known/openid-configuration at the issuer, endpoints under /o/
    path("", include("hcmgov.identity.provider.urls")),
    path("", include("hcmgov.feedback.urls")),
    path("", include("hcmgov.opendata.urls")),
    path("", include("hcmgov.reporting.urls_dashboard")),
    path("", include("hcmgov.reporting.urls_reports")),
    path("", include("hcmgov.iot.urls")),
    path("", include("hcmgov.office.urls")),
    path("", include("hcmgov.citymail.urls")),
    path("", include("hcmgov.documents.urls")),
    path("", include("hcmgov.web.urls")),
]

if settings.DEBUG:  # uploaded files are never public; in debug only, for the admin
    urlpatterns.append(path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}))

handler404 = "hcmgov.web.errors.page_not_found"
