"""The platform's 404 answer (``handler404``): in the error shape each kind of client reads.

A path no route matches is answered by Django's handler, which renders a page; under NGSI-LD and
CKAN's Action API the clients read their own JSON error shapes only (STYLE.md rule 12), so a
mistyped or undecodable path there (an entity id with an encoded slash, say) answers as those APIs
answer an unknown resource.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from hcmgov.common.errors import Message
from hcmgov.common.middleware import CKAN_PREFIXES, NGSI_PREFIX, ckan_error, ngsi_problem


def page_not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if request.path.startswith(NGSI_PREFIX):  # hcmgov.ngsi.errors.ResourceNotFound's ProblemDetails
        title = Message("Không tìm thấy", "Resource not found")
        detail = Message("Không có tài nguyên NGSI-LD tại địa chỉ này.", "No NGSI-LD resource at this address.")
        return ngsi_problem(404, "ResourceNotFound", title, detail)
    if request.path.startswith(CKAN_PREFIXES):  # hcmgov.opendata.ckan's envelope
        return ckan_error(404, "Not Found Error", "Không tìm thấy / Not found")
    return defaults.page_not_found(request, exception)
