"""Writes of the open data catalogue: licences kept as declared, organisations, groups, datasets
and resources created or updated from CKAN-shaped dicts (what ``package_create`` takes and what a
harvest brings), each dataset's search text kept with it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hcmgov.common.errors import DomainError, FieldError, Message
from hcmgov.common.text import fold
from hcmgov.opendata.licenses import LICENSES, VN_OPEN
from hcmgov.opendata.models import Dataset, FacetValue, Group, License, Organization, Resource, State, Tag

NAME = re.compile(r"^[a-z0-9_-]{2,100}$")
DATASET_FIELDS = (
    "title", "title_en", "notes", "notes_en", "author", "author_email", "maintainer", "maintainer_email", "url",
    "version", "frequency", "spatial", "language",
)  # fmt: skip
RESOURCE_FIELDS = ("name", "name_en", "description", "format", "url", "url_type", "mimetype", "hash")


def licenses_sync() -> int:
    for lic in LICENSES:
        License.objects.update_or_create(
            id=lic.id,
            defaults={"title": lic.title, "title_en": lic.title_en, "url": lic.url, "od_conformance": lic.od,
                      "osd_conformance": lic.osd, "is_open": lic.is_open},
        )  # fmt: skip
    return len(LICENSES)


def _invalid(errors: dict[str, str]) -> DomainError:
    return DomainError(
        "opendata_invalid",
        Message("Dữ liệu không hợp lệ.", "Invalid data."),
        409,
        errors=[FieldError(field, "invalid", Message(why, why)) for field, why in errors.items()],
    )


def organization_upsert(
    *, name: str, title: str, title_en: str = "", description: str = "", agency_id: int | None = None
) -> Organization:
    if not NAME.match(name):
        raise _invalid({"name": "Must be 2-100 lower-case letters, digits, - or _"})
    org, _ = Organization.objects.update_or_create(
        name=name,
        defaults={"title": title, "title_en": title_en, "description": description, "agency_id": agency_id,
                  "state": State.ACTIVE},
    )  # fmt: skip
    return org


def group_upsert(*, name: str, title: str, title_en: str = "", description: str = "") -> Group:
    if not NAME.match(name):
        raise _invalid({"name": "Must be 2-100 lower-case letters, digits, - or _"})
    group, _ = Group.objects.update_or_create(
        name=name, defaults={"title": title, "title_en": title_en, "description": description, "state": State.ACTIVE}
    )
    return group


def search_text(dataset: Dataset) -> str:
    """What a search matches: title, names, notes, tags, the organisation, resources' names and formats."""
    parts = [dataset.name, dataset.title, dataset.title_en, dataset.notes, dataset.notes_en,
             dataset.organization.title, dataset.organization.name]  # fmt: skip
    parts += [t.name for t in dataset.tags.all()]
    parts += [f"{r.name} {r.format}" for r in dataset.resources.filter(state=State.ACTIVE)]
    return fold(" ".join(p for p in parts if p))


def facet_keys(dataset: Dataset) -> list[int]:
    """The ``FacetValue`` ids of the dataset's tags, groups and active resources' formats
    (``Dataset.facet_keys``), sorted; the values seen for the first time are numbered."""
    wanted = {("tags", name) for name in dataset.tags.values_list("name", flat=True)}
    wanted |= {("groups", name) for name in dataset.groups.values_list("name", flat=True)}
    formats = dataset.resources.filter(state=State.ACTIVE).exclude(format="").values_list("format", flat=True)
    wanted |= {("res_format", fmt) for fmt in formats}
    if not wanted:
        return []
    FacetValue.objects.bulk_create([FacetValue(field=f, value=v) for f, v in wanted], ignore_conflicts=True)
    known = Q()
    for field in {f for f, _ in wanted}:
        known |= Q(field=field, value__in=[v for f, v in wanted if f == field])
    return sorted(FacetValue.objects.filter(known).values_list("id", flat=True))


def search_index(dataset: Dataset, *, also: tuple[str, ...] = ()) -> None:
    """Bring what searches read of ``dataset`` (its search text and facet keys) up to date with
    its fields, tags, groups and resources; save them and the fields named in ``also``."""
    dataset.search_text = search_text(dataset)
    dataset.facet_keys = facet_keys(dataset)
    dataset.save(update_fields=["search_text", "facet_keys", *also])


def _max(model: Any, field: str) -> int | None:
    return getattr(model._meta.get_field(field), "max_length", None)


def _date(value: Any, field: str, errors: dict[str, str]) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        errors[field] = "Not a date (YYYY-MM-DD)"
        return None


@transaction.atomic
def dataset_upsert(*, data: dict[str, Any], organization: Organization, now: dt.datetime | None = None) -> Dataset:
    """Create or update (by ``name``) a dataset from a CKAN package dict: its fields, tags
    (``[{"name"}]`` or names), groups (by name, made when missing), licence (by id; unknown ones
    are refused), extras (``[{"key", "value"}]``) and resources (matched by ``id`` or by position;
    the ones not given are withdrawn). Refused whole on any invalid field (CKAN's Validation Error)."""
    now = now or timezone.now()
    errors: dict[str, str] = {}
    name = str(data.get("name") or "").strip()
    if not NAME.match(name):
        errors["name"] = "Must be 2-100 lower-case letters, digits, - or _"
    if not str(data.get("title") or "").strip():
        errors["title"] = "Missing value"
    license_id = data.get("license_id") or VN_OPEN
    license = License.objects.filter(pk=license_id).first()
    if license is None:
        errors["license_id"] = f"Unknown licence: {license_id}"
    start = _date(data.get("temporal_start"), "temporal_start", errors)
    end = _date(data.get("temporal_end"), "temporal_end", errors)
    resources = data.get("resources") or []
    if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
        errors["resources"] = "Must be a list of objects"
        resources = []
    if errors:
        raise _invalid(errors)
    dataset = Dataset.objects.select_for_update().filter(name=name).first()
    if dataset is None:
        dataset = Dataset(name=name, metadata_created=now)
    for f in DATASET_FIELDS:
        if f in data and data[f] is not None:
            setattr(dataset, f, str(data[f])[: _max(Dataset, f)])
    dataset.organization, dataset.license = organization, license
    dataset.temporal_start, dataset.temporal_end = start, end
    dataset.private = bool(data.get("private", False))
    state = str(data.get("state") or "")
    dataset.state = state if state in State.values else State.ACTIVE
    extras = data.get("extras") or []
    if isinstance(extras, list):
        dataset.extras = {str(e.get("key")): e.get("value") for e in extras if isinstance(e, dict) and e.get("key")}
    elif isinstance(extras, dict):
        dataset.extras = extras
    dataset.metadata_modified = now
    dataset.save()
    tags = [t.get("name") if isinstance(t, dict) else t for t in data.get("tags") or []]
    dataset.tags.set([Tag.objects.get_or_create(name=str(t).strip()[:100])[0] for t in tags if str(t or "").strip()])
    groups = [g.get("name") if isinstance(g, dict) else g for g in data.get("groups") or []]
    dataset.groups.set(list(Group.objects.filter(name__in=[str(n) for n in groups if n])))
    kept: list[Any] = []
    for position, item in enumerate(resources):
        resource = None
        if item.get("id"):
            resource = Resource.objects.filter(pk=item["id"], dataset=dataset).first()
        if resource is None:
            resource = Resource(dataset=dataset, created=now)
            if item.get("id"):
                resource.id = item["id"]
        for f in RESOURCE_FIELDS:
            if f in item and item[f] is not None:
                setattr(resource, f, str(item[f])[: _max(Resource, f)])
        resource.position, resource.state, resource.last_modified = position, State.ACTIVE, now
        resource.save()
        kept.append(resource.pk)
    if "resources" in data:
        dataset.resources.exclude(pk__in=kept).update(state=State.DELETED, last_modified=now)
    search_index(dataset)
    return dataset


def dataset_withdraw(*, dataset: Dataset, now: dt.datetime | None = None) -> Dataset:
    """Withdraw a dataset (CKAN's ``deleted`` state): it leaves lists and searches, ``package_show``
    still answers for its id so that links say it is gone."""
    dataset.state, dataset.metadata_modified = State.DELETED, now or timezone.now()
    dataset.save(update_fields=["state", "metadata_modified"])
    return dataset
