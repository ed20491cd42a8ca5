"""Small helpers the page modules share: a PDF answer, a dossier the user may see or a 404."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse

from hcmgov.common.errors import NotFound
from hcmgov.dossiers import selectors


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def visible_dossier(request: HttpRequest, code: str) -> Any:
    """The dossier ``code`` if the user may see it (its applicant, or an official taking part), else 404."""
    try:
        return selectors.dossier_visible_to(user=request.user, code=code)
    except NotFound:
        raise Http404(code) from None
