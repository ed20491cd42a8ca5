"""The catalogue as DCAT-AP 3.0.0: valid against the official SHACL shapes (pyshacl), in Turtle,
JSON-LD and RDF/XML, paged with Hydra as ckanext-dcat pages it, by content negotiation, per dataset."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, XSD

from hcmgov.opendata import dcat
from hcmgov.opendata.tests import factories as f

pytestmark = pytest.mark.django_db

SHAPES = Path(__file__).parent / "data" / "dcat-ap-3.0.0-SHACL.ttl"
HYDRA = dcat.HYDRA


@pytest.fixture(scope="module")
def shapes():
    return Graph().parse(SHAPES, format="turtle")


def _full_dataset(**kw):
    org = f.organization(name="so-tnmt", title="Sở Tài nguyên và Môi trường", title_en="Department of Environment")
    theme = f.group(name="moi-truong", title="Môi trường", title_en="Environment")
    return f.dataset(
        org,
        name="chat-luong-khong-khi",
        title="Chất lượng không khí",
        title_en="Air quality",
        notes="Chỉ số AQI theo giờ.",
        notes_en="Hourly AQI.",
        maintainer="Phòng Quan trắc",
        maintainer_email="quantrac@tnmt.hcmc.gov.vn",
        frequency="HOURLY",
        temporal_start="2024-01-01",
        temporal_end="2024-12-31",
        spatial="Thành phố Hồ Chí Minh",
        url="https://stnmt.hcmc.gov.vn/aqi",
        version="2.1",
        tags=["không khí", "aqi"],
        groups=[theme.name],
        resources=[
            {"name": "Số liệu 2024", "name_en": "2024 data", "format": "CSV", "url": "https://example.vn/aqi.csv"},
            {"name": "API", "format": "", "url": "https://example.vn/api"},
            {"name": "Bản đồ", "format": "Shapefile", "url": "https://example.vn/map.zip"},
        ],
        **kw,
    )


def _conforms(graph: Graph, shapes: Graph) -> None:
    conforms, _, text = validate(graph, shacl_graph=shapes, inference="none", abort_on_first=False)
    assert conforms, text


def test_catalogue_conforms_to_dcat_ap_3(client, shapes):
    _full_dataset()
    f.dataset(name="toi-gian", title="Tối giản", notes="", tags=[], resources=[], license_id="other-open")
    for fmt in ("ttl", "jsonld", "rdf"):
        response = client.get(f"/catalog.{fmt}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith(dcat.FORMATS[fmt][1])
        graph = Graph().parse(data=response.content, format=dcat.FORMATS[fmt][0])
        assert len(list(graph.subjects(RDF.type, DCAT.Dataset))) == 2
        _conforms(graph, shapes)


def test_dataset_terms(client, shapes):
    ds = _full_dataset()
    response = client.get(f"/dataset/{ds.name}.ttl")
    assert response.status_code == 200
    g = Graph().parse(data=response.content, format="turtle")
    _conforms(g, shapes)
    node = dcat.dataset_uri(ds)
    assert Literal("Chất lượng không khí", lang="vi") in set(g.objects(node, DCTERMS.title))
    assert Literal("Air quality", lang="en") in set(g.objects(node, DCTERMS.title))
    assert Literal("Hourly AQI.", lang="en") in set(g.objects(node, DCTERMS.description))
    assert g.value(node, DCTERMS.identifier) == Literal(str(ds.id))
    assert g.value(node, DCTERMS.accrualPeriodicity) == URIRef(
        "http://publications.europa.eu/resource/authority/frequency/HOURLY"
    )
    assert g.value(node, DCTERMS.language) == URIRef("http://publications.europa.eu/resource/authority/language/VIE")
    assert g.value(node, DCTERMS.issued).datatype == XSD.dateTime
    assert g.value(node, DCTERMS.modified).datatype == XSD.dateTime
    assert g.value(node, DCAT.landingPage) == URIRef("https://stnmt.hcmc.gov.vn/aqi")
    assert {str(k) for k in g.objects(node, DCAT.keyword)} == {"không khí", "aqi"}
    period = g.value(node, DCTERMS.temporal)
    assert g.value(period, DCAT.startDate) == Literal(dt.date(2024, 1, 1), datatype=XSD.date)
    publisher = g.value(node, DCTERMS.publisher)
    assert Literal("Department of Environment", lang="en") in set(g.objects(publisher, dcat.FOAF.name))
    contact = g.value(node, DCAT.contactPoint)
    assert g.value(contact, dcat.VCARD.hasEmail) == URIRef("mailto:quantrac@tnmt.hcmc.gov.vn")
    assert g.value(node, DCAT.theme) is not None
    csv = next(d for d in g.objects(node, DCAT.distribution) if g.value(d, DCAT.accessURL).endswith(".csv"))
    assert g.value(csv, DCAT.downloadURL) == URIRef("https://example.vn/aqi.csv")
    assert g.value(csv, DCAT.mediaType) == URIRef("https://www.iana.org/assignments/media-types/text/csv")
    assert g.value(csv, DCTERMS.format) == URIRef("http://publications.europa.eu/resource/authority/file-type/CSV")
    assert g.value(csv, DCTERMS.license) == URIRef("http://www.opendefinition.org/licenses/cc-by")


def test_byte_size_is_typed(shapes):
    ds = _full_dataset()
    ds.resources.filter(format="CSV").update(size=2048)
    g = dcat.dataset_graph(ds)
    (size,) = g.objects(None, DCAT.byteSize)
    assert size.datatype == XSD.nonNegativeInteger
    assert int(size) == 2048
    _conforms(g, shapes)


def test_paging_with_hydra(client, settings):
    settings.PUBLIC_URL = "https://data.hcmc.gov.vn"
    org = f.organization()
    for n in range(dcat.PAGE_SIZE + 5):
        f.dataset(org, name=f"tap-{n:03d}", resources=[])
    g = Graph().parse(data=client.get("/catalog.ttl").content, format="turtle")
    assert len(list(g.subjects(RDF.type, DCAT.Dataset))) == dcat.PAGE_SIZE
    (paged,) = g.subjects(RDF.type, HYDRA.PagedCollection)
    assert str(paged) == "https://data.hcmc.gov.vn/catalog.ttl?page=1"
    assert int(g.value(paged, HYDRA.totalItems)) == dcat.PAGE_SIZE + 5
    assert str(g.value(paged, HYDRA.nextPage)) == "https://data.hcmc.gov.vn/catalog.ttl?page=2"
    assert g.value(paged, HYDRA.next) == URIRef("https://data.hcmc.gov.vn/catalog.ttl?page=2")
    g2 = Graph().parse(data=client.get("/catalog.ttl?page=2").content, format="turtle")
    assert len(list(g2.subjects(RDF.type, DCAT.Dataset))) == 5
    (paged2,) = g2.subjects(RDF.type, HYDRA.PagedCollection)
    assert g2.value(paged2, HYDRA.next) is None
    assert str(g2.value(paged2, HYDRA.previousPage)).endswith("page=1")
    assert client.get("/catalog.ttl?page=3").status_code == 404
    assert client.get("/catalog.ttl?page=zero").status_code == 400


def test_organization_filter(client):
    a, b = f.organization(name="so-a"), f.organization(name="so-b")
    f.dataset(a, name="cua-a")
    f.dataset(b, name="cua-b")
    g = Graph().parse(data=client.get("/catalog.ttl?fq=organization:so-a").content, format="turtle")
    assert [str(t) for t in g.objects(None, DCTERMS.title) if "thử" in str(t)]
    assert len(list(g.subjects(RDF.type, DCAT.Dataset))) == 1
    assert client.get("/catalog.ttl?fq=tags:x").status_code == 400


def test_content_negotiation(client):
    f.dataset()
    for accept, content_type in (
        ("text/turtle", "text/turtle"),
        ("application/ld+json", "application/ld+json"),
        ("application/rdf+xml;q=0.9, text/turtle;q=0.5", "application/rdf+xml"),
        ("*/*", "text/turtle"),
    ):
        response = client.get("/catalog", headers={"Accept": accept})
        assert response.status_code == 200, accept
        assert response["Content-Type"].startswith(content_type), accept
    response = client.get("/catalog", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert "Turtle" in response.content.decode()


def test_private_and_withdrawn_datasets_are_not_shown(client):
    from hcmgov.opendata import services

    hidden = f.dataset(private=True)
    gone = services.dataset_withdraw(dataset=f.dataset())
    for ds in (hidden, gone):
        assert client.get(f"/dataset/{ds.name}.ttl").status_code == 404
    g = Graph().parse(data=client.get("/catalog.ttl").content, format="turtle")
    assert not list(g.subjects(RDF.type, DCAT.Dataset))
    assert client.get("/dataset/khong-co.jsonld").status_code == 404


def test_catalogue_page_queries_are_pinned(client, django_assert_max_num_queries):
    org = f.organization()
    for n in range(3):
        f.dataset(org, name=f"dem-{n}", groups=[f.group().name])
    with django_assert_max_num_queries(12):
        assert client.get("/catalog.ttl").status_code == 200
