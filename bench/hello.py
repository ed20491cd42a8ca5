"""Calibration: the bare Django "hello" JSON view of shared/MEASUREMENTS.md (no middleware, no
database), served like the platform (granian WSGI, 2 workers). Its req/s on this machine against
the ~11,100 req/s recorded there says how fast this machine is; bench/run.py runs it first."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

settings.configure(DEBUG=False, ALLOWED_HOSTS=["127.0.0.1"], ROOT_URLCONF=__name__, SECRET_KEY="x" * 50, MIDDLEWARE=[])


def hello(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"hello": "world"})


urlpatterns = [path("", hello)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
