"""Small helpers the page modules share: a PDF answer, a dossier the user may see or a 404."""

from __future__ import annotations

from typing import IO, Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse

from hcmgov.common.errors import NotFound
from hcmgov.dossiers import selectors


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def file_response(handle: IO[bytes], *, content_type: str, filename: str) -> FileResponse:
    """A stored file, streamed, shown in the browser when it can (PDF, image): its type is the one
    sniffed from the content when it was stored, never the uploader's claim, and ``nosniff`` keeps
    the browser to it. The name is sent both ASCII-safe and in full (RFC 6266 ``filename*``)."""
    response = FileResponse(handle, content_type=content_type, filename=filename or "tep")
    response["X-Content-Type-Options"] = "nosniff"
    return response


def visible_dossier(request: HttpRequest, code: str) -> Any:
    """The dossier ``code`` if the user may see it (its applicant, or an official taking part), else 404."""
    try:
        return selectors.dossier_visible_to(user=request.user, code=code)
    except NotFound:
        raise Http404(code) from None
