"""Reads of the open data catalogue: what the public sees is active and not private."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from hcmgov.opendata.models import Dataset, Group, License, Organization, Resource, State, Tag


def public_datasets() -> QuerySet[Dataset]:
    return Dataset.objects.filter(state=State.ACTIVE, private=False)


def datasets_for_dicts(qs: QuerySet[Dataset]) -> QuerySet[Dataset]:
    """``qs`` with what ``dictize.package_dict`` reads fetched in a fixed number of queries."""
    return qs.select_related("organization", "license").prefetch_related(
        Prefetch("resources", queryset=Resource.objects.filter(state=State.ACTIVE).order_by("position", "created")),
        "tags",
        "groups",
    )


def dataset_by_id_or_name(ref: str) -> Dataset | None:
    """A dataset by its id or its name (whatever its state: the caller decides who may see it)."""
    import uuid

    qs = datasets_for_dicts(Dataset.objects.all())
    try:
        return qs.filter(Q(id=uuid.UUID(ref)) | Q(name=ref)).first()
    except ValueError:
        return qs.filter(name=ref).first()


def organization_by_id_or_name(ref: str) -> Organization | None:
    import uuid

    try:
        return Organization.objects.filter(Q(id=uuid.UUID(ref)) | Q(name=ref)).first()
    except ValueError:
        return Organization.objects.filter(name=ref).first()


def group_by_id_or_name(ref: str) -> Group | None:
    import uuid

    try:
        return Group.objects.filter(Q(id=uuid.UUID(ref)) | Q(name=ref)).first()
    except ValueError:
        return Group.objects.filter(name=ref).first()


def resource_by_id(ref: str) -> Resource | None:
    import uuid

    try:
        key = uuid.UUID(ref)
    except ValueError:
        return None
    return Resource.objects.select_related("dataset").filter(id=key).first()


def organizations_with_counts() -> QuerySet[Organization]:
    public = Q(datasets__state=State.ACTIVE, datasets__private=False)
    return Organization.objects.filter(state=State.ACTIVE).annotate(package_count=Count("datasets", filter=public))


def groups_with_counts() -> QuerySet[Group]:
    public = Q(datasets__state=State.ACTIVE, datasets__private=False)
    return Group.objects.filter(state=State.ACTIVE).annotate(package_count=Count("datasets", filter=public))


def tags_in_use() -> QuerySet[Tag]:
    return Tag.objects.filter(datasets__state=State.ACTIVE, datasets__private=False).distinct()


def licenses() -> list[License]:
    return list(License.objects.order_by("id"))


def can_edit(user: Any, organization: Organization) -> bool:
    """An editor or admin of the organisation, or a platform administrator."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return organization.members.filter(user_id=user.pk).exists()
