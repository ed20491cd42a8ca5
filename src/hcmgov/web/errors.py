"""The platform's 404 answer (``handler404``): in the error shape each kind of client reads.

A path no route matches is answered by Django's handler, which renders a page; under NGSI-LD and
CKAN's Action API the clients read their own JSON error shapes only (STYLE.md rule 12), so a
mistyped or undecodable path there (an entity id with an encoded slash, say) answers as those APIs
answer an unknown resource.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from hcmgov.common.middleware import CKAN_PREFIXES, NGSI_PREFIX


def page_not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if request.path.startswith(NGSI_PREFIX):  # hcmgov.ngsi.errors.ResourceNotFound's ProblemDetails
        problem = {
            "type": "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound",
            "title": "Không tìm thấy",
            "status": 404,
            "detail": "Không có tài nguyên NGSI-LD tại địa chỉ này. / No NGSI-LD resource at this address.",
            "title_en": "Resource not found",
            "detail_en": "No NGSI-LD resource at this address.",
        }
        response = HttpResponse(json.dumps(problem, ensure_ascii=False), status=404, content_type="application/json")
        response["Content-Language"] = "vi"
        return response
    if request.path.startswith(CKAN_PREFIXES):  # hcmgov.opendata.ckan's envelope
        error = {"__type": "Not Found Error", "message": "Không tìm thấy / Not found"}
        body = {"help": "/api/3/action/help_show", "success": False, "error": error}
        return HttpResponse(json.dumps(body, ensure_ascii=False), status=404, content_type="application/json")
    return defaults.page_not_found(request, exception)
