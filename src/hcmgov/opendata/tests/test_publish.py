"""The platform's own figures as open data: published through the DataStore, small counts
suppressed (k-anonymity), personal columns refused, refreshed whole."""

from __future__ import annotations

import pytest

from hcmgov.common.errors import DomainError
from hcmgov.opendata import publish
from hcmgov.opendata.models import Dataset, Resource

pytestmark = pytest.mark.django_db


def search(client, resource_id, **params):
    response = client.get("/api/3/action/datastore_search", {"resource_id": resource_id, **params})
    assert response.status_code == 200, response.content
    return response.json()["result"]


def test_dossier_figures_are_published_with_small_counts_suppressed(client, submit):
    for n in range(3):
        submit(idempotency_key=f"pub-{n}")
    report = publish.publish(publish.PUBLICATIONS[0], k=3)
    assert report["rows"] == 1
    dataset = Dataset.objects.get(name="ho-so-thu-tuc-hanh-chinh-theo-thang")
    assert dataset.license_id == "vn-nd47-2020"
    resource = Resource.objects.get(dataset=dataset)
    [row] = search(client, str(resource.pk))["records"]
    assert row["dossiers_submitted"] == 3  # at k: published
    assert row["dossiers_finished"] == 0  # none finished yet: zero singles no one out
    assert row["on_time_rate"] is None  # no rate over no dossier
    shown = client.get("/api/3/action/package_show", {"id": dataset.name}).json()["result"]
    assert shown["resources"][0]["datastore_active"] is True
    # below k, the count is withheld; a second run replaces the table whole, same resource
    report = publish.publish(publish.PUBLICATIONS[0], k=4)
    assert report["suppressed_cells"] == 1
    [row] = search(client, str(resource.pk))["records"]
    assert row["dossiers_submitted"] is None
    assert Resource.objects.filter(dataset=dataset).count() == 1


def test_the_guard_refuses_personal_and_undeclared_columns():
    columns = (
        publish.Column("ward", "text", "Phường"),
        publish.Column("personal_id", "text", "Số định danh", personal=True),
    )
    with pytest.raises(DomainError) as refused:
        publish.guard(columns, [{"ward": "Bến Nghé", "personal_id": "079201001234"}], k=5)
    assert refused.value.code == "opendata_personal_column"
    with pytest.raises(DomainError) as refused:
        publish.guard(columns[:1], [{"ward": "Bến Nghé", "name": "Lê Văn A"}], k=5)
    assert refused.value.code == "opendata_undeclared_column"
    assert not Dataset.objects.exists()


def test_a_rate_over_a_small_count_is_suppressed_with_it():
    columns = publish.PUBLICATIONS[0].columns
    row = {"month": "2026-11", "procedure_code": "1.000001", "procedure_name": "x", "agency_code": "a",
           "agency_name": "A", "dossiers_submitted": 40, "dossiers_finished": 2, "on_time_rate": 0.5}  # fmt: skip
    [out], suppressed = publish.guard(columns, [row], k=5)
    assert (out["dossiers_submitted"], out["dossiers_finished"], out["on_time_rate"]) == (40, None, None)
    assert suppressed == 2
