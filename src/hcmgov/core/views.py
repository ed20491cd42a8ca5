"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from hcmgov.common import metrics
from hcmgov.common.access import public
from hcmgov.core import selectors


@public
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up (no dependency checked)."""
    return JsonResponse({"status": "ok"})


@public
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: the database answers and the worker beat within the last minute."""
    checks = {"database": selectors.database_ok(), "worker": False}
    if checks["database"]:
        checks["worker"] = selectors.worker_alive()
    ready = all(checks.values())
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)


@public
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics.scrape_allowed(request.headers.get("Authorization", "")):
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
