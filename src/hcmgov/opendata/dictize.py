"""Catalogue objects as CKAN 2.10's Action API shows them (field names, types, UTC timestamps
without a zone, ``display_name``…), so that CKAN clients read ours unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from hcmgov.opendata import selectors
from hcmgov.opendata.models import Dataset, Group, License, Organization, Resource, Tag

CKAN_VERSION = "2.10.4"


def ts(value: dt.datetime | None) -> str | None:
    """CKAN's timestamps: UTC, ISO 8601 with microseconds, no zone (``2024-05-01T08:30:00.000000``)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def site_url() -> str:
    return str(settings.PUBLIC_URL).rstrip("/")


def license_dict(lic: License) -> dict[str, Any]:
    return {
        "domain_content": False,
        "domain_data": lic.is_open,
        "domain_software": False,
        "family": "",
        "id": lic.id,
        "is_generic": lic.id.startswith("other-") or lic.id == "notspecified",
        "is_okd_compliant": lic.is_open and lic.od_conformance == "approved",
        "is_osi_compliant": False,
        "maintainer": "",
        "od_conformance": lic.od_conformance,
        "osd_conformance": lic.osd_conformance,
        "status": "active",
        "title": lic.title,
        "title_en": lic.title_en,
        "url": lic.url,
    }


def tag_dict(tag: Tag) -> dict[str, Any]:
    return {"display_name": tag.name, "id": str(tag.id), "name": tag.name, "state": "active", "vocabulary_id": None}


def organization_dict(org: Organization, *, package_count: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "approval_status": "approved",
        "created": ts(org.created),
        "description": org.description,
        "display_name": org.title,
        "id": str(org.id),
        "image_display_url": org.image_url,
        "image_url": org.image_url,
        "is_organization": True,
        "name": org.name,
        "state": org.state,
        "title": org.title,
        "title_en": org.title_en,
        "type": "organization",
    }
    if package_count is not None:
        out["package_count"] = package_count
    return out


def group_dict(group: Group, *, package_count: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "approval_status": "approved",
        "created": ts(group.created),
        "description": group.description,
        "display_name": group.title,
        "id": str(group.id),
        "image_display_url": group.image_url,
        "image_url": group.image_url,
        "is_organization": False,
        "name": group.name,
        "state": group.state,
        "title": group.title,
        "title_en": group.title_en,
        "type": "group",
    }
    if package_count is not None:
        out["package_count"] = package_count
    return out


def resource_dict(res: Resource) -> dict[str, Any]:
    url = res.url
    if res.url_type in ("upload", "datastore") and not url:
        url = f"{site_url()}/dataset/{res.dataset_id}/resource/{res.id}/download"
    return {
        "cache_last_updated": None,
        "cache_url": None,
        "created": ts(res.created),
        "datastore_active": res.datastore_active,
        "description": res.description,
        "format": res.format,
        "hash": res.hash,
        "id": str(res.id),
        "last_modified": ts(res.last_modified),
        "metadata_modified": ts(res.last_modified or res.created),
        "mimetype": res.mimetype or None,
        "mimetype_inner": None,
        "name": res.name,
        "name_en": res.name_en,
        "package_id": str(res.dataset_id),
        "position": res.position,
        "resource_type": None,
        "size": res.size,
        "state": res.state,
        "url": url,
        "url_type": res.url_type or None,
        **{k: v for k, v in (res.extras or {}).items() if isinstance(k, str)},
    }


def package_dicts(qs: QuerySet[Dataset], *, order: list[Any] | None = None) -> list[dict[str, Any]]:
    """``package_dict`` of each dataset of ``qs`` (sliced by the caller), in four queries; in the
    order of the ids ``order`` when given."""
    found = selectors.datasets_with_rows(qs)
    if order is not None:
        position = {str(key).replace("-", ""): i for i, key in enumerate(order)}
        found.sort(key=lambda r: position.get(r.dataset.id.hex, len(position)))
    return [package_dict(r.dataset, rows=r) for r in found]


def package_dict(ds: Dataset, *, rows: selectors.DatasetRows | None = None) -> dict[str, Any]:
    """``package_show``'s dict. The related rows come from ``rows`` when given
    (``selectors.datasets_with_rows``), else through the prefetches the caller made, if any
    (``selectors.datasets_for_dicts``)."""
    if rows is not None:
        resources, tags, groups = rows.resources, rows.tags, rows.groups
    else:
        resources = [r for r in ds.resources.all() if r.state == "active"]
        tags = sorted(ds.tags.all(), key=lambda t: t.name)
        groups = sorted(ds.groups.all(), key=lambda g: g.name)
    lic = ds.license
    return {
        "author": ds.author or None,
        "author_email": ds.author_email or None,
        "creator_user_id": None,
        "extras": [{"key": k, "value": v} for k, v in sorted((ds.extras or {}).items())],
        "frequency": ds.frequency,
        "groups": [
            {
                "description": g.description,
                "display_name": g.title,
                "id": str(g.id),
                "image_display_url": g.image_url,
                "name": g.name,
                "title": g.title,
            }
            for g in groups
        ],
        "id": str(ds.id),
        "isopen": bool(lic and lic.is_open),
        "language": ds.language,
        "license_id": lic.id if lic else None,
        "license_title": lic.title if lic else None,
        "license_url": lic.url if lic else None,
        "maintainer": ds.maintainer or None,
        "maintainer_email": ds.maintainer_email or None,
        "metadata_created": ts(ds.metadata_created),
        "metadata_modified": ts(ds.metadata_modified),
        "name": ds.name,
        "notes": ds.notes,
        "notes_en": ds.notes_en,
        "num_resources": len(resources),
        "num_tags": len(tags),
        "organization": organization_dict(ds.organization),
        "owner_org": str(ds.organization_id),
        "private": ds.private,
        "relationships_as_object": [],
        "relationships_as_subject": [],
        "resources": [resource_dict(r) for r in resources],
        "spatial": ds.spatial,
        "state": ds.state,
        "tags": [tag_dict(t) for t in tags],
        "temporal_end": ds.temporal_end.isoformat() if ds.temporal_end else None,
        "temporal_start": ds.temporal_start.isoformat() if ds.temporal_start else None,
        "title": ds.title,
        "title_en": ds.title_en,
        "type": "dataset",
        "url": ds.url or None,
        "version": ds.version or None,
    }
