"""The CKAN actions of the catalogue (reads, and ``package_create``/``package_update`` for
publishers). Search lives in ``search``, the datastore in ``datastore``."""

from __future__ import annotations

from typing import Any

from hcmgov.common.errors import DomainError
from hcmgov.opendata import selectors, services
from hcmgov.opendata.ckan import (
    Context,
    NotAuthorized,
    NotFound,
    ValidationError,
    action,
    as_bool,
    as_int,
    as_list,
    required,
)
from hcmgov.opendata.dictize import (
    CKAN_VERSION,
    group_dict,
    license_dict,
    organization_dict,
    package_dict,
    package_dicts,
    resource_dict,
    site_url,
    tag_dict,
)
from hcmgov.opendata.models import State

MAX_LIST = 1000


def _visible(context: Context, dataset: Any) -> bool:
    if dataset.state == State.ACTIVE and not dataset.private:
        return True
    return selectors.can_edit(context.user, dataset.organization)


@action("status_show")
def status_show(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """The site: CKAN version it speaks, its address and the extensions it offers."""
    return {
        "ckan_version": CKAN_VERSION,
        "site_url": site_url(),
        "site_title": "Cổng dữ liệu mở Thành phố Hồ Chí Minh / Ho Chi Minh City open data portal",
        "site_description": "Dữ liệu mở của các cơ quan Thành phố / Open data of the city's agencies",
        "locale_default": "vi",
        "error_emails_to": None,
        "extensions": ["datastore", "dcat"],
    }


@action("help_show")
def help_show(context: Context, data: dict[str, Any]) -> str:
    from hcmgov.opendata.ckan import ACTIONS

    name = required(data, "name")
    registered = ACTIONS.get(name)
    if registered is None:
        raise NotFound(f"action {name}")
    return (registered.fn.__doc__ or "").strip()


@action("package_show")
def package_show(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """A dataset by ``id`` (its id or name)."""
    ref = required(data, "id")
    dataset = selectors.dataset_by_id_or_name(ref)
    if dataset is None or (
        dataset.state == State.DELETED and not selectors.can_edit(context.user, dataset.organization)
    ):
        raise NotFound("dataset")
    if not _visible(context, dataset) and dataset.state != State.DELETED:
        raise NotAuthorized("dataset")
    return package_dict(dataset)


@action("package_list")
def package_list(context: Context, data: dict[str, Any]) -> list[str]:
    """Names of the public datasets, by name (``limit``, ``offset``)."""
    limit = as_int(data, "limit", None, maximum=MAX_LIST * 100)
    offset = as_int(data, "offset", 0)
    names = selectors.public_datasets().order_by("name").values_list("name", flat=True)
    return list(names[offset : offset + limit] if limit is not None else names[offset:])


@action("current_package_list_with_resources")
def current_package_list_with_resources(context: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Public datasets with their resources, most recently modified first (``limit``, ``offset``)."""
    limit = as_int(data, "limit", MAX_LIST, maximum=MAX_LIST)
    offset = as_int(data, "offset", 0)
    page = selectors.public_datasets().order_by("-metadata_modified", "name")
    return package_dicts(page[offset : offset + limit])


def _sorted(qs: Any, data: dict[str, Any], allowed: dict[str, str]) -> Any:
    sort = str(data.get("sort") or "name asc").strip().lower()
    field, _, direction = sort.partition(" ")
    if field not in allowed or direction not in ("", "asc", "desc"):
        raise ValidationError({"sort": [f"Cách sắp xếp không hợp lệ / Invalid sort: {sort}"]})
    return qs.order_by(("-" if direction == "desc" else "") + allowed[field], "name")


def _owners_list(context: Context, data: dict[str, Any], qs: Any, dictize: Any, filter_key: str) -> list[Any]:
    qs = _sorted(qs, data, {"name": "name", "title": "title", "package_count": "package_count"})
    wanted = as_list(data, filter_key)
    if wanted:
        qs = qs.filter(name__in=wanted)
    limit = as_int(data, "limit", MAX_LIST, maximum=MAX_LIST)
    offset = as_int(data, "offset", 0)
    rows = list(qs[offset : offset + limit])
    if as_bool(data, "all_fields"):
        counts = as_bool(data, "include_dataset_count", True)
        return [dictize(row, package_count=row.package_count if counts else None) for row in rows]
    return [row.name for row in rows]


@action("organization_list")
def organization_list(context: Context, data: dict[str, Any]) -> list[Any]:
    """Publishers: names, or dicts with ``all_fields`` (``sort``, ``limit``, ``offset``, ``organizations``)."""
    return _owners_list(context, data, selectors.organizations_with_counts(), organization_dict, "organizations")


@action("group_list")
def group_list(context: Context, data: dict[str, Any]) -> list[Any]:
    """Themes: names, or dicts with ``all_fields`` (``sort``, ``limit``, ``offset``, ``groups``)."""
    return _owners_list(context, data, selectors.groups_with_counts(), group_dict, "groups")


def _owner_show(data: dict[str, Any], found: Any, dictize: Any, datasets: Any) -> dict[str, Any]:
    if found is None or found.state != State.ACTIVE:
        raise NotFound()
    public = datasets.filter(state=State.ACTIVE, private=False)
    out = dictize(found, package_count=public.count())
    if as_bool(data, "include_datasets"):
        out["packages"] = package_dicts(public.order_by("name")[:MAX_LIST])
    out["users"] = []
    out["extras"] = []
    return out


@action("organization_show")
def organization_show(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """A publisher by ``id`` (id or name); its datasets with ``include_datasets``."""
    org = selectors.organization_by_id_or_name(required(data, "id"))
    return _owner_show(data, org, organization_dict, org.datasets.all() if org else None)


@action("group_show")
def group_show(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """A theme by ``id`` (id or name); its datasets with ``include_datasets``."""
    group = selectors.group_by_id_or_name(required(data, "id"))
    return _owner_show(data, group, group_dict, group.datasets.all() if group else None)


@action("tag_list")
def tag_list(context: Context, data: dict[str, Any]) -> list[Any]:
    """Tags of public datasets (``query``: those containing it; ``all_fields``: dicts)."""
    qs = selectors.tags_in_use().order_by("name")
    query = str(data.get("query") or "").strip()
    if query:
        qs = qs.filter(name__icontains=query)
    if data.get("vocabulary_id"):
        return []  # no vocabularies: free tags only
    tags = list(qs[: MAX_LIST * 10])
    return [tag_dict(t) for t in tags] if as_bool(data, "all_fields") else [t.name for t in tags]


@action("license_list")
def license_list(context: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The licences datasets may be published under."""
    return [license_dict(lic) for lic in selectors.licenses()]


@action("resource_show")
def resource_show(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """A resource by ``id``."""
    resource = selectors.resource_by_id(required(data, "id"))
    if resource is None or resource.state != State.ACTIVE or not _visible(context, resource.dataset):
        raise NotFound("resource")
    return resource_dict(resource)


def _upsert(context: Context, data: dict[str, Any], *, create: bool) -> dict[str, Any]:
    owner = str(data.get("owner_org") or "")
    org = selectors.organization_by_id_or_name(owner) if owner else None
    if org is None:
        raise ValidationError({"owner_org": ["Không có tổ chức này / Organization does not exist"]})
    if not selectors.can_edit(context.user, org):
        raise NotAuthorized(f"không biên tập dữ liệu của {org.name} / not an editor of {org.name}")
    name = str(data.get("name") or "")
    existing = selectors.dataset_by_id_or_name(str(data.get("id") or name)) if (data.get("id") or name) else None
    if create and existing is not None:
        raise ValidationError({"name": ["Tên đã được dùng / That URL is already in use."]})
    if not create:
        if existing is None:
            raise NotFound("dataset")
        if not selectors.can_edit(context.user, existing.organization):
            raise NotAuthorized("dataset")
        data = {**data, "name": existing.name}
    try:
        dataset = services.dataset_upsert(data=data, organization=org)
    except DomainError as exc:
        raise ValidationError({e.field: [e.message.en] for e in exc.errors}) from None
    found = selectors.dataset_by_id_or_name(str(dataset.id))
    assert found is not None
    return package_dict(found)


@action("package_create", write=True)
def package_create(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Create a dataset (``name``, ``title``, ``owner_org``, …) as an editor of its organisation."""
    return _upsert(context, data, create=True)


@action("package_update", write=True)
def package_update(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Replace a dataset's metadata (``id`` or ``name``) as an editor of its organisation."""
    return _upsert(context, data, create=False)
