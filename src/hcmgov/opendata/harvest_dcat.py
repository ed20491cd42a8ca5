"""Reading a DCAT catalogue for ``opendata.harvest``: its pages (Hydra's ``hydra:next``, or
ckanext-dcat's ``hydra:nextPage``), each ``dcat:Dataset`` mapped to the CKAN dict that
``services.dataset_upsert`` takes — the reverse of ``opendata.dcat``, and of ckanext-dcat's
``euro_dcat_ap`` profile."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, RDFS, SKOS

from hcmgov.opendata import dcat

if TYPE_CHECKING:
    from hcmgov.opendata.harvest import Record

ACCEPT = "text/turtle, application/rdf+xml;q=0.9, application/ld+json;q=0.8"
PARSERS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
}
EXTENSIONS = {".ttl": "turtle", ".rdf": "xml", ".xml": "xml", ".jsonld": "json-ld", ".json": "json-ld"}
FILE_TYPES = {code: fmt for fmt, (code, _) in dcat.MEDIA.items()}
LANGUAGE_CODES = {code: iso for iso, code in dcat.LANGUAGES.items()}
SCHEMA_START = URIRef("http://schema.org/startDate")
SCHEMA_END = URIRef("http://schema.org/endDate")


def _parse(raw: bytes, content_type: str, url: str, error: type[Exception]) -> Graph:
    kind = PARSERS.get(content_type.split(";")[0].strip().lower())
    if kind is None:
        path = urlsplit(url).path.lower()
        kind = next((k for ext, k in EXTENSIONS.items() if path.endswith(ext)), "turtle")
    try:
        return Graph().parse(data=raw, format=kind, publicID=url)
    except Exception as exc:
        raise error(
            f"Catalogue DCAT không đọc được ({kind}): {str(exc)[:200]}",
            f"The DCAT catalogue cannot be parsed ({kind}): {str(exc)[:200]}",
        ) from exc


def _next_page(g: Graph, url: str) -> str:
    for node in g.subjects(RDF.type, dcat.HYDRA.PagedCollection):
        for prop in (dcat.HYDRA.next, dcat.HYDRA.nextPage):
            target = g.value(node, prop)
            if target is not None and str(target).strip():
                return urljoin(url, str(target).strip())
    return ""


def _texts(g: Graph, node: Any, prop: URIRef) -> tuple[str, str]:
    """(Vietnamese or untagged, English) values of a property."""
    vi = en = other = ""
    for value in g.objects(node, prop):
        if not isinstance(value, Literal):
            continue
        lang = (value.language or "").lower()
        if lang.startswith("en"):
            en = en or str(value)
        elif lang.startswith("vi") or not lang:
            vi = vi or str(value)
        else:
            other = other or str(value)
    return vi or other or en, en


def _label(g: Graph, node: Any) -> str:
    if node is None:
        return ""
    if isinstance(node, Literal):
        return str(node)
    for prop in (SKOS.prefLabel, RDFS.label, DCTERMS.title):
        vi, en = _texts(g, node, prop)
        if vi or en:
            return vi or en
    return str(node) if isinstance(node, URIRef) else ""


def _last_segment(node: Any) -> str:
    return str(node).rstrip("/").rsplit("/", 1)[-1] if isinstance(node, URIRef) else ""


def _license(g: Graph, node: Any) -> str:
    """A licence id: its ``dct:identifier``, or the id our catalogue writes in its URI."""
    if node is None:
        return ""
    identifier = g.value(node, DCTERMS.identifier)
    if identifier is not None:
        return str(identifier)
    from hcmgov.opendata.models import License

    found = License.objects.filter(url=str(node)).exclude(url="").values_list("id", flat=True).first()
    return found or (_last_segment(node) if "/licenses/" in str(node) else "")


def _distribution(g: Graph, node: Any) -> dict[str, str]:
    name, name_en = _texts(g, node, DCTERMS.title)
    url = g.value(node, DCAT.downloadURL) or g.value(node, DCAT.accessURL)
    fmt_node = g.value(node, DCTERMS.format)
    fmt = FILE_TYPES.get(_last_segment(fmt_node), "") if isinstance(fmt_node, URIRef) else _label(g, fmt_node)
    mime = g.value(node, DCAT.mediaType)
    out = {
        "name": name or _last_segment(url) or "Tài nguyên",
        "name_en": name_en,
        "description": _texts(g, node, DCTERMS.description)[0],
        "url": str(url or ""),
        "format": fmt or (_last_segment(fmt_node) if isinstance(fmt_node, URIRef) else ""),
        "mimetype": str(mime).split("/media-types/", 1)[-1] if mime is not None else "",
    }
    return {k: v for k, v in out.items() if v}


def dataset_record(g: Graph, node: Any, record_type: Callable[..., Record]) -> Record | None:
    identifier = g.value(node, DCTERMS.identifier)
    guid = str(identifier) if identifier is not None else (str(node) if isinstance(node, URIRef) else "")
    if not guid:
        return None
    title, title_en = _texts(g, node, DCTERMS.title)
    notes, notes_en = _texts(g, node, DCTERMS.description)
    landing = g.value(node, DCAT.landingPage)
    hint = _last_segment(landing) if "/dataset/" in str(landing or "") else title
    data: dict[str, Any] = {"title": title or title_en, "title_en": title_en, "notes": notes, "notes_en": notes_en}
    if landing is not None:
        data["url"] = str(landing)
    contact = g.value(node, DCAT.contactPoint)
    if contact is not None:
        data["maintainer"] = _label(g, g.value(contact, dcat.VCARD.fn))
        email = g.value(contact, dcat.VCARD.hasEmail)
        if email is not None:
            data["maintainer_email"] = str(email).removeprefix("mailto:")
    version = g.value(node, dcat.DCAT_VERSION) or g.value(node, OWL.versionInfo)
    if version is not None:
        data["version"] = str(version)
    frequency = g.value(node, DCTERMS.accrualPeriodicity)
    if frequency is not None:
        data["frequency"] = _last_segment(frequency) or str(frequency)
    period = g.value(node, DCTERMS.temporal)
    if period is not None:
        start = g.value(period, DCAT.startDate) or g.value(period, SCHEMA_START)
        end = g.value(period, DCAT.endDate) or g.value(period, SCHEMA_END)
        data["temporal_start"] = str(start)[:10] if start is not None else None
        data["temporal_end"] = str(end)[:10] if end is not None else None
    spatial = g.value(node, DCTERMS.spatial)
    if spatial is not None:
        data["spatial"] = _label(g, spatial)
    language = g.value(node, DCTERMS.language)
    if language is not None:
        data["language"] = LANGUAGE_CODES.get(_last_segment(language), str(language)[:2].lower())
    data["tags"] = sorted({str(k) for k in g.objects(node, DCAT.keyword) if str(k).strip()})
    data["groups"] = [_last_segment(t) for t in g.objects(node, DCAT.theme) if _last_segment(t)]
    distributions = sorted(g.objects(node, DCAT.distribution), key=str)
    data["resources"] = [_distribution(g, d) for d in distributions]
    lic = g.value(node, DCTERMS.license) or next(
        (g.value(d, DCTERMS.license) for d in distributions if g.value(d, DCTERMS.license) is not None), None
    )
    data["license_id"] = _license(g, lic)
    publisher = g.value(node, DCTERMS.publisher)
    modified = g.value(node, DCTERMS.modified) or g.value(node, DCTERMS.issued)
    return record_type(
        guid=guid,
        name_hint=hint,
        modified=str(modified or ""),
        data=data,
        organization=_label(g, g.value(publisher, FOAF.name)) if publisher is not None else "",
    )


def dcat_records(
    url: str, *, fetch: Callable[..., tuple[int, str, bytes]], error: type[Any], max_pages: int
) -> tuple[list[Record], list[dict[str, str]]]:
    """Every dataset of the catalogue at ``url``, following its pages."""
    from hcmgov.opendata.harvest import Record

    records: dict[str, Record] = {}
    skipped: list[dict[str, str]] = []
    visited: set[str] = set()
    while url and url not in visited:
        if len(visited) >= max_pages:
            raise error(f"Quá {max_pages} trang", f"More than {max_pages} pages")
        visited.add(url)
        status, content_type, raw = fetch(url, accept=ACCEPT)
        if status != 200:
            raise error(f"Nguồn trả lời HTTP {status} cho {url}", f"The source answered HTTP {status} for {url}")
        g = _parse(raw, content_type, url, error)
        datasets = set(g.subjects(RDF.type, DCAT.Dataset))
        if not datasets and not set(g.subjects(RDF.type, DCAT.Catalog)):
            raise error("Không phải catalogue DCAT", "Not a DCAT catalogue (no dcat:Catalog, no dcat:Dataset)")
        for node in sorted(datasets, key=str):
            record = dataset_record(g, node, Record)
            if record is None:
                skipped.append({"guid": str(node) if not isinstance(node, BNode) else "",
                                "reason": "không có dct:identifier / no dct:identifier"})  # fmt: skip
            elif record.data["title"]:
                records.setdefault(record.guid, record)
            else:
                skipped.append({"guid": record.guid, "reason": "không có dct:title / no dct:title"})
        url = _next_page(g, url)
    return list(records.values()), skipped
