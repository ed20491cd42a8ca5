"""The catalogue as DCAT-AP 3.0.0 (https://semiceu.github.io/DCAT-AP/releases/3.0.0/), built with
rdflib the way ckanext-dcat's ``euro_dcat_ap`` profile builds it, so that European portals and
CKAN harvesters read ours: a ``dcat:Catalog`` paged with Hydra, its ``dcat:Dataset``s and their
``dcat:Distribution``s. The views (``opendata.views``) only choose the page and the format.

URIs: ``{site}/`` is the catalogue, ``{site}/dataset/{id}`` a dataset,
``{site}/dataset/{id}/resource/{id}`` a distribution (ckanext-dcat's defaults), ``{site}/organization/{id}``
a publisher, ``{site}/group/{name}`` a theme. Controlled vocabularies are the EU Publications
Office's (frequency, language, file type) and IANA's media types.

What DCAT-AP's shapes need and our model lacks is derived and said here: the dataset's landing
page is its source's page (``url``) or else its page on this portal; its contact point is the
maintainer, else the author, else the organisation; a licence without a URL of its own is named
by its page on this portal (``{site}/licenses/{id}``); the catalogue's publisher is the city's
People's Committee, which runs the portal (Decree 47/2020/NĐ-CP, Art. 18 names the agency that
publishes open data; the portal is the city's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from hcmgov.opendata.dictize import resource_dict, site_url
from hcmgov.opendata.models import Dataset, Group, License, Organization, Resource

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
DCAT_VERSION = URIRef("http://www.w3.org/ns/dcat#version")  # DCAT 3; rdflib's closed DCAT lacks it
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
FREQUENCY = Namespace("http://publications.europa.eu/resource/authority/frequency/")
LANGUAGE = Namespace("http://publications.europa.eu/resource/authority/language/")
FILE_TYPE = Namespace("http://publications.europa.eu/resource/authority/file-type/")
IANA = "https://www.iana.org/assignments/media-types/"

PAGE_SIZE = 100

# RDF serialisations: format name → (rdflib's name, content type)
FORMATS = {
    "ttl": ("turtle", "text/turtle"),
    "jsonld": ("json-ld", "application/ld+json"),
    "rdf": ("xml", "application/rdf+xml"),
}

# ISO 639-1 as the catalogue stores it → the EU language authority's code
LANGUAGES = {"vi": "VIE", "en": "ENG", "fr": "FRA", "zh": "ZHO", "km": "KHM"}

# the EU frequency authority's codes (what ``Dataset.frequency`` holds)
FREQUENCIES = {
    "CONT", "UPDATE_CONT", "1MIN", "5MIN", "10MIN", "15MIN", "30MIN", "HOURLY", "BIHOURLY", "TRIHOURLY",
    "12HRS", "DAILY", "DAILY_2", "WEEKLY", "BIWEEKLY", "WEEKLY_2", "WEEKLY_3", "MONTHLY", "BIMONTHLY",
    "MONTHLY_2", "MONTHLY_3", "QUARTERLY", "ANNUAL", "ANNUAL_2", "ANNUAL_3", "BIENNIAL", "TRIENNIAL",
    "QUADRENNIAL", "QUINQUENNIAL", "DECENNIAL", "IRREG", "NEVER", "OTHER", "UNKNOWN", "AS_NEEDED", "NOT_PLANNED",
}  # fmt: skip

# a resource's format as publishers write it → (EU file type code, IANA media type)
MEDIA = {
    "CSV": ("CSV", "text/csv"),
    "JSON": ("JSON", "application/json"),
    "GEOJSON": ("GEOJSON", "application/geo+json"),
    "XML": ("XML", "application/xml"),
    "XLSX": ("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "XLS": ("XLS", "application/vnd.ms-excel"),
    "ODS": ("ODS", "application/vnd.oasis.opendocument.spreadsheet"),
    "PDF": ("PDF", "application/pdf"),
    "DOCX": ("DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "DOC": ("DOC", "application/msword"),
    "ZIP": ("ZIP", "application/zip"),
    "TXT": ("TXT", "text/plain"),
    "HTML": ("HTML", "text/html"),
    "KML": ("KML", "application/vnd.google-earth.kml+xml"),
    "RDF": ("RDF_XML", "application/rdf+xml"),
    "TTL": ("RDF_TURTLE", "text/turtle"),
    "JSONLD": ("JSON_LD", "application/ld+json"),
    "PNG": ("PNG", "image/png"),
    "JPEG": ("JPEG", "image/jpeg"),
}
# the publisher of the catalogue itself
CITY = {
    "vi": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "en": "People's Committee of Ho Chi Minh City",
}
CATALOG_TITLE = {"vi": "Cổng dữ liệu mở Thành phố Hồ Chí Minh", "en": "Ho Chi Minh City open data portal"}
CATALOG_DESCRIPTION = {
    "vi": "Dữ liệu mở của các cơ quan nhà nước Thành phố Hồ Chí Minh.",
    "en": "Open data published by the agencies of Ho Chi Minh City.",
}


@dataclass(frozen=True)
class Page:
    """Which slice of the catalogue a graph holds, for Hydra's paging triples."""

    number: int
    total: int
    size: int = PAGE_SIZE
    base: str = ""  # the page's address without ``page`` (``{site}/catalog.ttl?fq=…``)

    @property
    def last(self) -> int:
        return max(1, -(-self.total // self.size))

    def url(self, number: int) -> str:
        return f"{self.base}{'&' if '?' in self.base else '?'}page={number}"


def dataset_uri(ds: Dataset) -> URIRef:
    return URIRef(f"{site_url()}/dataset/{ds.id}")


def _new_graph() -> Graph:
    g = Graph()
    for prefix, ns in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("vcard", VCARD), ("skos", SKOS),
                       ("hydra", HYDRA), ("xsd", XSD)):  # fmt: skip
        g.bind(prefix, ns)
    return g


def _texts(g: Graph, node: URIRef | BNode, prop: URIRef, vi: str, en: str = "") -> None:
    if vi:
        g.add((node, prop, Literal(vi, lang="vi")))
    if en:
        g.add((node, prop, Literal(en, lang="en")))


def _datetime(value: dt.datetime) -> Literal:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return Literal(value.isoformat(), datatype=XSD.dateTime)


def _language(g: Graph, code: str) -> URIRef:
    node = LANGUAGE[LANGUAGES.get(code.lower()[:2], "MUL")]
    g.add((node, RDF.type, DCTERMS.LinguisticSystem))
    return node


def _agent(g: Graph, org: Organization) -> URIRef:
    node = URIRef(f"{site_url()}/organization/{org.id}")
    g.add((node, RDF.type, FOAF.Agent))
    g.add((node, RDF.type, FOAF.Organization))
    _texts(g, node, FOAF.name, org.title, org.title_en)
    return node


def _license(g: Graph, lic: License) -> URIRef:
    node = URIRef(lic.url or f"{site_url()}/licenses/{lic.id}")
    g.add((node, RDF.type, DCTERMS.LicenseDocument))
    _texts(g, node, DCTERMS.title, lic.title, lic.title_en)
    g.add((node, DCTERMS.identifier, Literal(lic.id)))
    return node


def _theme(g: Graph, group: Group) -> URIRef:
    node = URIRef(f"{site_url()}/group/{group.name}")
    g.add((node, RDF.type, SKOS.Concept))
    _texts(g, node, SKOS.prefLabel, group.title, group.title_en)
    g.add((node, SKOS.inScheme, URIRef(f"{site_url()}/group")))
    return node


def _contact(g: Graph, ds: Dataset) -> BNode:
    node = BNode()
    g.add((node, RDF.type, VCARD.Kind))
    g.add((node, RDF.type, VCARD.Organization))
    name = ds.maintainer or ds.author or ds.organization.title
    email = ds.maintainer_email or ds.author_email
    g.add((node, VCARD.fn, Literal(name)))
    if email:
        g.add((node, VCARD.hasEmail, URIRef(f"mailto:{email}")))
    return node


def media(fmt: str, mimetype: str = "") -> tuple[str, str]:
    """The EU file type code and the IANA media type of a resource's format ('' when unknown)."""
    key = fmt.strip().upper().lstrip(".")
    code, mime = MEDIA.get(key, ("", ""))
    return code, (mimetype or mime)


def _distribution(g: Graph, ds: Dataset, res: Resource, lic_node: URIRef | None) -> URIRef:
    node = URIRef(f"{site_url()}/dataset/{ds.id}/resource/{res.id}")
    g.add((node, RDF.type, DCAT.Distribution))
    _texts(g, node, DCTERMS.title, res.name, res.name_en)
    if res.description:
        g.add((node, DCTERMS.description, Literal(res.description, lang="vi")))
    url = resource_dict(res)["url"] or f"{site_url()}/dataset/{ds.name}"
    g.add((node, DCAT.accessURL, URIRef(url)))
    # every IRI is an rdfs:Resource under RDFS entailment; said outright for validators without it
    g.add((URIRef(url), RDF.type, RDFS.Resource))
    code, mime = media(res.format, res.mimetype)
    # a file (an upload, a datastore table's export, a link to a file of a known type) is downloadable
    if res.url_type in ("upload", "datastore") or code:
        g.add((node, DCAT.downloadURL, URIRef(url)))
    if code:
        g.add((node, DCTERMS.format, FILE_TYPE[code]))
        g.add((FILE_TYPE[code], RDF.type, DCTERMS.MediaTypeOrExtent))
    elif res.format:
        fmt = BNode()
        g.add((node, DCTERMS.format, fmt))
        g.add((fmt, RDF.type, DCTERMS.MediaTypeOrExtent))
        g.add((fmt, RDFS.label, Literal(res.format)))
    if mime and "/" in mime:
        g.add((node, DCAT.mediaType, URIRef(IANA + mime)))
        g.add((URIRef(IANA + mime), RDF.type, DCTERMS.MediaType))
    if lic_node is not None:
        g.add((node, DCTERMS.license, lic_node))
    if res.size is not None and res.size >= 0:
        g.add((node, DCAT.byteSize, Literal(res.size, datatype=XSD.nonNegativeInteger)))
    if res.last_modified:
        g.add((node, DCTERMS.modified, _datetime(res.last_modified)))
    g.add((node, DCTERMS.issued, _datetime(res.created)))
    return node


def dataset_add(g: Graph, ds: Dataset) -> URIRef:
    """Add one dataset, its publisher, contact point and distributions to ``g``. Reads the related
    rows through prefetches when the caller made them (``selectors.datasets_for_dicts``)."""
    node = dataset_uri(ds)
    site = site_url()
    g.add((node, RDF.type, DCAT.Dataset))
    _texts(g, node, DCTERMS.title, ds.title, ds.title_en)
    # DCAT-AP requires a description: a dataset published without one is described by its title
    _texts(g, node, DCTERMS.description, ds.notes or ds.title, ds.notes_en)
    g.add((node, DCTERMS.identifier, Literal(str(ds.id))))
    g.add((node, DCTERMS.publisher, _agent(g, ds.organization)))
    g.add((node, DCAT.contactPoint, _contact(g, ds)))
    for tag in sorted(ds.tags.all(), key=lambda t: t.name):
        g.add((node, DCAT.keyword, Literal(tag.name, lang=ds.language or "vi")))
    for group in ds.groups.all():
        g.add((node, DCAT.theme, _theme(g, group)))
    g.add((node, DCTERMS.issued, _datetime(ds.metadata_created)))
    g.add((node, DCTERMS.modified, _datetime(ds.metadata_modified)))
    frequency = ds.frequency.strip().upper()
    if frequency in FREQUENCIES:
        g.add((node, DCTERMS.accrualPeriodicity, FREQUENCY[frequency]))
        g.add((FREQUENCY[frequency], RDF.type, DCTERMS.Frequency))
    if ds.temporal_start or ds.temporal_end:
        period = BNode()
        g.add((node, DCTERMS.temporal, period))
        g.add((period, RDF.type, DCTERMS.PeriodOfTime))
        if ds.temporal_start:
            g.add((period, DCAT.startDate, Literal(ds.temporal_start.isoformat(), datatype=XSD.date)))
        if ds.temporal_end:
            g.add((period, DCAT.endDate, Literal(ds.temporal_end.isoformat(), datatype=XSD.date)))
    if ds.spatial:
        place = BNode()
        g.add((node, DCTERMS.spatial, place))
        g.add((place, RDF.type, DCTERMS.Location))
        g.add((place, SKOS.prefLabel, Literal(ds.spatial, lang="vi")))
    g.add((node, DCTERMS.language, _language(g, ds.language or "vi")))
    landing = URIRef(ds.url or f"{site}/dataset/{ds.name}")
    g.add((node, DCAT.landingPage, landing))
    g.add((landing, RDF.type, FOAF.Document))
    if ds.version:
        g.add((node, DCAT_VERSION, Literal(ds.version)))
    lic_node = _license(g, ds.license) if ds.license else None
    for res in ds.resources.all():
        if res.state == "active":
            g.add((node, DCAT.distribution, _distribution(g, ds, res, lic_node)))
    return node


def catalog_uri() -> URIRef:
    return URIRef(f"{site_url()}/")


def catalog_graph(datasets: Iterable[Dataset], *, modified: dt.datetime | None, page: Page | None = None) -> Graph:
    """The catalogue (one page of it when ``page``): its description and the datasets given."""
    g = _new_graph()
    site = site_url()
    node = catalog_uri()
    g.add((node, RDF.type, DCAT.Catalog))
    _texts(g, node, DCTERMS.title, CATALOG_TITLE["vi"], CATALOG_TITLE["en"])
    _texts(g, node, DCTERMS.description, CATALOG_DESCRIPTION["vi"], CATALOG_DESCRIPTION["en"])
    publisher = URIRef(f"{site}/#publisher")
    g.add((publisher, RDF.type, FOAF.Agent))
    g.add((publisher, RDF.type, FOAF.Organization))
    _texts(g, publisher, FOAF.name, CITY["vi"], CITY["en"])
    g.add((node, DCTERMS.publisher, publisher))
    homepage = URIRef(f"{site}/")
    g.add((node, FOAF.homepage, homepage))
    g.add((homepage, RDF.type, FOAF.Document))
    for code in ("vi", "en"):
        g.add((node, DCTERMS.language, _language(g, code)))
    lic = License.objects.filter(pk="vn-nd47-2020").first()
    if lic is not None:
        g.add((node, DCTERMS.license, _license(g, lic)))
    if modified is not None:
        g.add((node, DCTERMS.modified, _datetime(modified)))
    scheme = URIRef(f"{site}/group")
    g.add((node, DCAT.themeTaxonomy, scheme))
    g.add((scheme, RDF.type, SKOS.ConceptScheme))
    _texts(g, scheme, DCTERMS.title, "Chủ đề dữ liệu", "Data themes")
    for ds in datasets:
        g.add((node, DCAT.dataset, dataset_add(g, ds)))
    if page is not None:
        _paging(g, page)
    return g


def _paging(g: Graph, page: Page) -> None:
    """Hydra's paging triples, as ckanext-dcat writes them (``hydra:nextPage``… of the 2014 Hydra
    draft, which CKAN harvesters read) and as Hydra Core now names them (``hydra:next``…)."""
    node = URIRef(page.url(page.number))
    g.add((node, RDF.type, HYDRA.PagedCollection))
    g.add((node, HYDRA.totalItems, Literal(page.total, datatype=XSD.integer)))
    g.add((node, HYDRA.itemsPerPage, Literal(page.size, datatype=XSD.integer)))
    links = {"first": 1, "last": page.last}
    if page.number > 1:
        links["previous"] = min(page.number - 1, page.last)
    if page.number < page.last:
        links["next"] = page.number + 1
    for name, number in links.items():
        g.add((node, HYDRA[f"{name}Page"], Literal(page.url(number))))
        g.add((node, HYDRA[name], URIRef(page.url(number))))


def serialize(g: Graph, fmt: str) -> bytes:
    rdflib_format, _ = FORMATS[fmt]
    if rdflib_format == "json-ld":
        return g.serialize(format="json-ld", auto_compact=True, encoding="utf-8")
    return g.serialize(format=rdflib_format, encoding="utf-8")


def catalog_page(*, number: int, organization: str = "", base: str = "") -> tuple[Graph, Page]:
    """One page of the public catalogue (by name, so that pages stay put while a harvester walks
    them), optionally one organisation's datasets (ckanext-dcat's ``fq=organization:NAME``)."""
    from django.db.models import Max

    from hcmgov.opendata import selectors

    qs = selectors.public_datasets()
    if organization:
        qs = qs.filter(organization__name=organization)
    total = qs.count()
    page = Page(number=number, total=total, size=PAGE_SIZE, base=base)
    start = (number - 1) * page.size
    rows = list(selectors.datasets_for_dicts(qs.order_by("name"))[start : start + page.size])
    modified = qs.aggregate(m=Max("metadata_modified"))["m"]
    return catalog_graph(rows, modified=modified, page=page), page


def dataset_graph(ds: Dataset) -> Graph:
    """One dataset, in a graph of its own (``/dataset/{name}.ttl``…)."""
    g = _new_graph()
    dataset_add(g, ds)
    return g
