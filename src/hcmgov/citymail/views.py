"""The directory of agencies and officials (danh bạ): officials only, server-rendered, no
JavaScript. Thin: parse the query, call the selectors, render."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from hcmgov.citymail import selectors
from hcmgov.common.access import official_required
from hcmgov.core import selectors as core

QUERY_MAX = 100


@official_required
@require_http_methods(["GET"])
def directory(request: HttpRequest) -> HttpResponse:
    """The agencies as a tree by level; with ``?co-quan=ID`` an agency's officials (title and
    city mailbox); with ``?q=`` the mailboxes and agencies whose name holds the words."""
    query = request.GET.get("q", "").strip()[:QUERY_MAX]
    agency = None
    entries: list[selectors.DirectoryEntry] = []
    raw_id = request.GET.get("co-quan", "")
    if raw_id:
        if not raw_id.isdigit():
            raise Http404(raw_id)
        agency = core.agency_list().filter(pk=int(raw_id)).first()
        if agency is None:
            raise Http404(raw_id)
        entries = selectors.directory_agency(agency_id=agency.pk)
    found = selectors.directory_search(query=query) if query else []
    return render(
        request,
        "citymail/directory.html",
        {
            "query": query,
            "tree": selectors.directory_tree(query=query),
            "agency": agency,
            "entries": entries,
            "found": found,
            "cap": selectors.SEARCH_CAP,
        },
    )
