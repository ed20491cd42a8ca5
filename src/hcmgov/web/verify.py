"""Public verification of results (xác thực kết quả điện tử): anyone uploads a PDF, or scans the QR
code printed on a result, and learns whether it is valid, invalid or altered, who signed it, for
which agency, when, and which dossier and result it is. Works without JavaScript. Thin: parse,
call, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from hcmgov.common.access import public
from hcmgov.documents import verification


def _verdict(request: HttpRequest) -> tuple[verification.Verdict | None, str]:
    upload = request.FILES.get("file")
    if upload is None:
        return None, "missing"
    if (upload.size or 0) > verification.MAX_BYTES:
        return None, "too_large"
    return verification.pdf_verify(data=upload.read()), ""


@public
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Upload a PDF and see what its signatures say."""
    verdict, problem = _verdict(request) if request.method == "POST" else (None, "")
    status = 413 if problem == "too_large" else 400 if problem == "missing" else 200
    return render(request, "web/verify.html", {"verdict": verdict, "problem": problem}, status=status)


@public
@require_http_methods(["GET", "POST"])
def verify_token(request: HttpRequest, token: str) -> HttpResponse:
    """Where a result's QR code leads: the facts of the result the city issued (not the document
    itself, which carries personal data), and a form to check the copy one holds against it."""
    result = verification.result_by_token(token)
    verdict, problem = _verdict(request) if request.method == "POST" else (None, "")
    matches = verdict is not None and result is not None and verdict.sha256 == result.signed_sha256
    context = {"result": result, "verdict": verdict, "problem": problem, "matches": matches, "token": token}
    return render(request, "web/verify.html", context, status=404 if result is None else 200)
