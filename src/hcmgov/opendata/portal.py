"""The open data portal for people (``/du-lieu-mo/``): server-rendered pages that work without
JavaScript, Vietnamese first. The search page is ``package_search`` (``opendata.search``) with
its facets as links; a dataset's page shows its resources, and for a datastore table a preview
(``datastore_search``) and its chart drawn as SVG (``common.svgchart``); downloads are in
``portal_downloads``. Public: open data is for anyone; private and withdrawn datasets are not here.

The query string follows CKAN's own portal (``q``, ``organization``, ``groups``, ``tags``,
``res_format``, ``license_id``, ``sort``, ``page``), so links made for a CKAN site work here."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from hcmgov.common.access import public
from hcmgov.common.svgchart import chart_for
from hcmgov.opendata import datastore, search, selectors
from hcmgov.opendata.ckan import CkanError, Context
from hcmgov.opendata.models import State

# facet → (Vietnamese, English) heading, in the order the page shows them
FACETS = {
    "organization": ("Tổ chức", "Organisations"),
    "groups": ("Chủ đề", "Themes"),
    "tags": ("Từ khóa", "Tags"),
    "res_format": ("Định dạng", "Formats"),
    "license_id": ("Giấy phép", "Licences"),
}
# the sorts offered: CKAN's values → (Vietnamese, English). By name, not ``title_string``: names are
# the titles folded (no diacritics), so they sort as a Vietnamese reader expects ("Chất" after
# "Cấp"), which the titles' code points do not
SORTS = {
    "score desc, metadata_modified desc": ("Phù hợp nhất", "Relevance"),
    "name asc": ("Tên (A–Z)", "Name (A–Z)"),
    "name desc": ("Tên (Z–A)", "Name (Z–A)"),
    "metadata_modified desc": ("Mới cập nhật", "Last modified"),
}
PAGE_SIZE = 20
ROWS_MAX = 100
PAGE_MAX = 10_000
FACET_LIMIT = 30  # values shown per facet
FILTERS_MAX = 20  # facet values selected at once
VALUE_MAX = 200  # characters of one facet value
Q_MAX = 500
PREVIEW_ROWS = 20
PREVIEWS_MAX = 5  # datastore tables previewed on one dataset page


class BadInput(Exception):
    """A query the page cannot answer: shown as a bilingual error with ``status``."""

    def __init__(self, vi: str, en: str, status: int = 400) -> None:
        super().__init__(f"{vi} / {en}")
        self.vi, self.en, self.status = vi, en, status


def text(value: Any) -> str:
    """A datastore value as text (a preview's cell, a CSV field): empty for none, ``true``/``false``,
    JSON for structures."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def error_page(request: HttpRequest, exc: BadInput) -> HttpResponse:
    return render(request, "opendata/error.html", {"vi": exc.vi, "en": exc.en}, status=exc.status)


@dataclass
class Query:
    """The search page's parameters, checked."""

    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = next(iter(SORTS))
    page: int = 1
    rows: int = PAGE_SIZE

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """The query string's pairs (without ``page``), with ``changes`` applied."""
        q, filters, sort = (
            changes.get("q", self.q),
            changes.get("filters", self.filters),
            changes.get("sort", self.sort),
        )
        pairs = [("q", q)] if q else []
        pairs += [(name, value) for name in FACETS for value in filters.get(name, [])]
        if sort != next(iter(SORTS)):
            pairs.append(("sort", sort))
        if self.rows != PAGE_SIZE:
            pairs.append(("rows", str(self.rows)))
        return pairs

    def toggled(self, name: str, value: str) -> str:
        """The query string with ``value`` of facet ``name`` added, or removed when selected."""
        values = self.filters.get(name, [])
        changed = [v for v in values if v != value] if value in values else [*values, value]
        return urlencode(self.params(filters={**self.filters, name: changed}))


def _int(raw: str, *, name_vi: str, name_en: str, low: int, high: int) -> int:
    # ASCII digits only ("²".isdigit() is true, int() refuses it) and few of them (int() of
    # thousands of digits refuses too): either would be a 500
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not low <= int(raw) <= high:
        raise BadInput(
            f"{name_vi} phải là số nguyên từ {low} đến {high}.",
            f"{name_en} must be a whole number from {low} to {high}.",
        )
    return int(raw)


def read_query(request: HttpRequest) -> Query:
    """The search page's query string, checked (``BadInput`` for what cannot be read)."""
    get = request.GET
    q = " ".join(get.get("q", "").split())
    if len(q) > Q_MAX:
        raise BadInput(f"Từ khóa dài quá {Q_MAX} ký tự.", f"The search text is longer than {Q_MAX} characters.")
    filters: dict[str, list[str]] = {}
    for name in FACETS:
        values = list(dict.fromkeys(v.strip() for v in get.getlist(name) if v.strip()))
        for value in values:
            if len(value) > VALUE_MAX or not value.isprintable():
                raise BadInput("Giá trị bộ lọc không hợp lệ.", "A filter value is not valid.")
        if values:
            filters[name] = values
    if sum(len(v) for v in filters.values()) > FILTERS_MAX:
        raise BadInput(f"Chọn tối đa {FILTERS_MAX} bộ lọc.", f"Choose at most {FILTERS_MAX} filters.")
    sort = get.get("sort", "") or next(iter(SORTS))
    if sort not in SORTS:
        raise BadInput("Cách sắp xếp không hợp lệ.", "Unknown sort order.")
    page = _int(get.get("page", "1"), name_vi="Số trang", name_en="The page number", low=1, high=PAGE_MAX)
    rows = _int(get.get("rows", str(PAGE_SIZE)), name_vi="Số dòng", name_en="Rows", low=1, high=ROWS_MAX)
    return Query(q=q, filters=filters, sort=sort, page=page, rows=rows)


def _quoted(value: str) -> str:
    """``value`` as a Solr phrase (``opendata.search`` reads backslash escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_search(request: HttpRequest, query: Query) -> dict[str, Any]:
    """``package_search`` for the page: the text as one phrase of free-text words (never Solr
    syntax: people type colons and brackets), each selected facet value a filter (all required)."""
    data = {
        "q": _quoted(query.q) if query.q else "",
        "fq_list": [f"{name}:{_quoted(v)}" for name, values in query.filters.items() for v in values],
        "sort": query.sort,
        "rows": query.rows,
        "start": (query.page - 1) * query.rows,
        "facet.field": list(FACETS),
        "facet.limit": FACET_LIMIT,
    }
    try:
        result: dict[str, Any] = search.package_search(Context(user=None, request=request), data)
    except CkanError:  # what read_query let through and the search still refuses
        raise BadInput("Không tìm được với điều kiện này.", "This search cannot be run.") from None
    for found in result["results"]:  # CKAN's UTC timestamps, for the page to show in local time
        found["modified"] = dt.datetime.fromisoformat(found["metadata_modified"]).replace(tzinfo=dt.UTC)
    return result


def _facets(query: Query, result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, (vi, en) in FACETS.items():
        items = result["search_facets"].get(name, {}).get("items", [])
        selected = query.filters.get(name, [])
        shown = [{**item, "selected": item["name"] in selected, "link": query.toggled(name, item["name"])}
                 for item in sorted(items, key=lambda i: (-i["count"], i["display_name"]))]  # fmt: skip
        # a selected value that matches nothing any more still needs its "remove" link
        shown += [{"name": v, "display_name": v, "count": 0, "selected": True, "link": query.toggled(name, v)}
                  for v in selected if v not in {i["name"] for i in items}]  # fmt: skip
        out.append({"name": name, "vi": vi, "en": en, "items": shown})
    return out


def _heading(query: Query) -> Any:
    """The organisation or theme the page is about, when exactly one is selected (its page)."""
    orgs, groups = query.filters.get("organization", []), query.filters.get("groups", [])
    found: Any = None
    if len(orgs) == 1 and not groups:
        found = selectors.organization_by_id_or_name(orgs[0])
    elif len(groups) == 1 and not orgs:
        found = selectors.group_by_id_or_name(groups[0])
    return found if found is not None and found.state == State.ACTIVE else None


@public
@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    """Find datasets: free text, facets, sort, pages."""
    try:
        query = read_query(request)
        result = run_search(request, query)
    except BadInput as exc:
        return error_page(request, exc)
    page_list = Paginator(range(result["count"]), query.rows)
    if query.page > page_list.num_pages:
        return error_page(request, BadInput("Không có trang này.", "There is no such page.", 404))
    return render(request, "opendata/search.html", {
        "query": query, "result": result, "datasets": result["results"], "facets": _facets(query, result),
        "page": page_list.page(query.page), "querystring": urlencode(query.params()),
        "sorts": [(value, vi, en) for value, (vi, en) in SORTS.items()], "heading": _heading(query),
        "selected": [(name, v, query.toggled(name, v)) for name, values in query.filters.items() for v in values],
        "hidden": [(k, v) for k, v in query.params() if k not in ("q", "sort")],
    })  # fmt: skip


def web_url(url: str) -> str:
    """``url`` if it is a web address, else "" (a harvested ``javascript:`` link is never a link here)."""
    return url if url.lower().startswith(("https://", "http://")) else ""


def public_dataset(name: str) -> Any:
    """An active, public dataset by name (with what its page reads), or None."""
    dataset = selectors.dataset_by_id_or_name(name)
    if dataset is None or dataset.state != State.ACTIVE or dataset.private:
        return None
    return dataset


def _preview(request: HttpRequest, resource_id: str) -> dict[str, Any] | None:
    """The first rows of a datastore table, its columns (without ``_id``) and its chart."""
    try:
        found = datastore.datastore_search(
            Context(user=None, request=request), {"resource_id": resource_id, "limit": PREVIEW_ROWS}
        )
    except CkanError:
        return None
    fields = [f for f in found["fields"] if f["id"] != "_id"]
    rows = [[None if record.get(f["id"]) is None else text(record.get(f["id"])) for f in fields]
            for record in found["records"]]  # fmt: skip
    return {"id": f"t-{resource_id}", "fields": fields, "rows": rows, "total": found.get("total"),
            "chart": chart_for(fields, found["records"])}  # fmt: skip


@public
@require_GET
def dataset_page(request: HttpRequest, name: str) -> HttpResponse:
    """One dataset: what it is, who publishes it, under which licence, and its resources."""
    dataset = public_dataset(name)
    if dataset is None:
        return error_page(request, BadInput("Không tìm thấy bộ dữ liệu.", "Dataset not found.", 404))
    resources = []
    previews = 0
    for resource in dataset.resources.all():  # the active ones, prefetched in order
        preview = None
        if resource.datastore_active and previews < PREVIEWS_MAX:
            preview = _preview(request, str(resource.pk))
            previews += 1
        resources.append({"resource": resource, "preview": preview, "url": web_url(resource.url)})
    tags, groups = sorted(dataset.tags.all(), key=lambda t: t.name), sorted(dataset.groups.all(), key=lambda g: g.name)
    license_url = web_url(dataset.license.url) if dataset.license else ""
    context = {"dataset": dataset, "resources": resources, "tags": tags, "groups": groups,
               "source_url": web_url(dataset.url), "license_url": license_url}  # fmt: skip
    return render(request, "opendata/dataset.html", context)


@public
@require_GET
def organization_list(request: HttpRequest) -> HttpResponse:
    """The publishers, each with how many public datasets it has (a link to them)."""
    rows = [o for o in selectors.organizations_with_counts().order_by("title") if getattr(o, "package_count", 0)]
    return render(request, "opendata/list.html", {"rows": rows, "facet": "organization", "kind": "organization"})


@public
@require_GET
def group_list(request: HttpRequest) -> HttpResponse:
    """The themes, each with how many public datasets it has (a link to them)."""
    rows = [g for g in selectors.groups_with_counts().order_by("title") if getattr(g, "package_count", 0)]
    return render(request, "opendata/list.html", {"rows": rows, "facet": "groups", "kind": "group"})
