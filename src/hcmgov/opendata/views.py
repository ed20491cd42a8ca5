"""The catalogue as DCAT-AP (``opendata.dcat``) at ckanext-dcat's addresses: ``/catalog.{ttl,jsonld,rdf}``
paged with ``?page=N`` (and ``?fq=organization:NAME`` for one publisher's datasets),
``/catalog`` choosing the format from ``Accept``, and ``/dataset/{name}.{ttl,jsonld,rdf}``. Public:
open data is for anyone."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from hcmgov.common.access import public
from hcmgov.opendata import dcat, selectors
from hcmgov.opendata.dictize import site_url
from hcmgov.opendata.models import State

FQ = re.compile(r'^organization:"?(?P<name>[a-z0-9_-]{2,100})"?$')
BY_TYPE = {content_type: fmt for fmt, (_, content_type) in dcat.FORMATS.items()}
BY_TYPE.update({"application/json": "jsonld", "application/x-turtle": "ttl", "application/xml": "rdf"})


def _text(status: int, vi: str, en: str) -> HttpResponse:
    return HttpResponse(f"{vi}\n{en}\n", status=status, content_type="text/plain; charset=utf-8")


def _rdf(body: bytes, fmt: str) -> HttpResponse:
    response = HttpResponse(body, content_type=f"{dcat.FORMATS[fmt][1]}; charset=utf-8")
    response["Vary"] = "Accept"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def negotiate(accept: str) -> str | None:
    """The format ``Accept`` prefers among ours (Turtle for ``*/*`` or no header); None: none fits."""
    if not accept.strip():
        return "ttl"
    choices: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        fmt = BY_TYPE.get(media.lower()) or ("ttl" if media in ("*/*", "text/*") else None)
        if fmt and q > 0:
            choices.append((-q, order, fmt))
    return min(choices)[2] if choices else None


@public
@require_GET
def catalog_view(request: HttpRequest, fmt: str | None = None) -> HttpResponse:
    """The public catalogue, one page (``page``, from 1) of ``dcat.PAGE_SIZE`` datasets."""
    if fmt is None:
        fmt = negotiate(request.headers.get("Accept", ""))
        if fmt is None:
            return _text(406, "Chỉ có Turtle, JSON-LD và RDF/XML.", "Only Turtle, JSON-LD and RDF/XML are offered.")
    raw_page = request.GET.get("page", "1")
    if not raw_page.isdigit() or int(raw_page) < 1:
        return _text(400, "Số trang không hợp lệ.", "Invalid page number.")
    organization = ""
    fq = request.GET.get("fq", "").strip()
    if fq:
        match = FQ.match(fq)
        if match is None:
            return _text(400, "Chỉ lọc được theo tổ chức (organization:TÊN).", "Only organization:NAME is supported.")
        organization = match["name"]
    base = f"{site_url()}/catalog.{fmt}" + (f"?fq=organization:{organization}" if organization else "")
    graph, page = dcat.catalog_page(number=int(raw_page), organization=organization, base=base)
    if page.number > page.last:
        return _text(404, "Không có trang này.", "No such page.")
    return _rdf(dcat.serialize(graph, fmt), fmt)


@public
@require_GET
def dataset_view(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    """One public dataset (by name or id) as DCAT-AP."""
    dataset = selectors.dataset_by_id_or_name(name)
    if dataset is None or dataset.state != State.ACTIVE or dataset.private:
        return _text(404, "Không tìm thấy bộ dữ liệu.", "Dataset not found.")
    return _rdf(dcat.serialize(dcat.dataset_graph(dataset), fmt), fmt)
