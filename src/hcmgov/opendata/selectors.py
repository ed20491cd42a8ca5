"""Reads of the open data catalogue: what the public sees is active and not private."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import connection
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


@dataclass(frozen=True)
class DatasetRows:
    """A dataset with its active resources (in order), its tags and its groups (by name)."""

    dataset: Dataset
    resources: list[Resource]
    tags: list[Tag]
    groups: list[Group]


def datasets_with_rows(qs: QuerySet[Dataset]) -> list[DatasetRows]:
    """The datasets of ``qs`` (sliced by the caller) with their related rows, in four queries.
    Django's ``prefetch_related`` does the same reads but builds a manager and clones a queryset
    per dataset and relation: on a page of 100 datasets that cost more than the queries."""
    datasets = list(qs.select_related("organization", "license"))
    ids = [d.id for d in datasets]
    resources: dict[Any, list[Resource]] = defaultdict(list)
    tags: dict[Any, list[Tag]] = defaultdict(list)
    groups: dict[Any, list[Group]] = defaultdict(list)
    if ids:
        for res in Resource.objects.filter(dataset_id__in=ids, state=State.ACTIVE).order_by("position", "created"):
            resources[res.dataset_id].append(res)
        through = Dataset.tags.through.objects.filter(dataset_id__in=ids).order_by("tag__name")
        for dataset_id, tag_id, name in through.values_list("dataset_id", "tag_id", "tag__name"):
            tags[dataset_id].append(Tag(id=tag_id, name=name))
        for link in Dataset.groups.through.objects.filter(dataset_id__in=ids).select_related("group"):
            groups[link.dataset_id].append(link.group)
    return [DatasetRows(d, resources[d.id], tags[d.id], sorted(groups[d.id], key=lambda g: g.name)) for d in datasets]


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


# --- package_search (``opendata.search``) ---------------------------------------------------------


def organizations_edited_by(user: Any) -> QuerySet[Any]:
    """Ids of the organisations ``user`` publishes for (whose private datasets they may search)."""
    from hcmgov.opendata.models import Membership

    if user is None or not getattr(user, "is_authenticated", False):
        return Membership.objects.none().values("organization_id")
    return Membership.objects.filter(user_id=user.pk).values("organization_id")


# facet field → the SQL of its (value, title, count) rows over the matching datasets ``m`` (their id,
# organisation and licence) and ``k``, the counts of their facet values (``Dataset.facet_keys``, ids
# of ``FacetValue``: tags, groups and formats counted in one pass): grouped first, names joined after
_FACET_SQL = {
    "organization": "SELECT 'organization', o.name, o.title, c.n FROM (SELECT org AS k, COUNT(*) AS n FROM m "
                    "GROUP BY org) c JOIN opendata_organization o ON o.id = c.k",
    "license_id": "SELECT 'license_id', l.id, l.title, c.n FROM (SELECT lic AS k, COUNT(*) AS n FROM m "
                  "WHERE lic IS NOT NULL GROUP BY lic) c JOIN opendata_license l ON l.id = c.k",
    "tags": "SELECT 'tags', k.v, k.v, k.n FROM k WHERE k.f = 'tags'",
    "groups": "SELECT 'groups', g.name, g.title, k.n FROM k JOIN opendata_group g ON g.name = k.v "
              "WHERE k.f = 'groups' AND g.state = 'active'",
    "res_format": "SELECT 'res_format', k.v, k.v, k.n FROM k WHERE k.f = 'res_format'",
}  # fmt: skip
FACETS = tuple(_FACET_SQL)
_KEYED = {"tags", "groups", "res_format"}
# the facet values of the matching datasets, one row each: PostgreSQL's integer[], SQLite's JSON text
_KEYS_OF_M = {
    "postgresql": "m CROSS JOIN LATERAL unnest(m.keys) AS x(value)",
    "sqlite": "m, json_each(m.keys) AS x",
}


# ``package_search``'s sort keys → the columns of ``m`` they read
_PAGE_COLUMNS = {"score": "score", "metadata_modified": "modified", "metadata_created": "created", "name": "name",
                 "title": "title", "id": "id"}  # fmt: skip


@dataclass(frozen=True)
class Page:
    """Which matches to return: ``order`` as ``order_by`` arguments over ``_PAGE_COLUMNS``' keys."""

    order: list[str]
    start: int
    rows: int

    def sql(self) -> str:
        terms = [f"{_PAGE_COLUMNS[o.lstrip('-')]} {'DESC' if o.startswith('-') else 'ASC'}" for o in self.order]
        return ", ".join(terms)


def dataset_count_and_facets(
    matching: QuerySet[Dataset], *, fields: list[str], limit: int, mincount: int, page: Page | None = None
) -> tuple[int, dict[str, list[tuple[str, str, int]]], list[Any]]:
    """How many datasets match, and the counts of ``fields``' values among them (Solr's facets:
    most first, then by value; at most ``limit`` a field, all when < 0; at least ``mincount``),
    as ``(value, title, count)``, and the ids of the ``page`` of matches — in one statement, the
    filter evaluated once (a materialised CTE) rather than once per facet and again for the page,
    and tags, groups and formats counted in one pass over the matches' facet keys rather than by
    three joins. ``matching`` carries a ``score`` annotation when ``page`` sorts by it."""
    fields = list(dict.fromkeys(fields))
    scored = "score" in matching.query.annotations
    paged = page is not None and page.rows > 0
    columns, names = ["id", "organization_id", "license_id", "facet_keys"], "id, org, lic, keys"
    if paged:  # what the page sorts by
        columns += ["metadata_modified", "metadata_created", "name", "title", *(["score"] if scored else [])]
        names += ", modified, created, name, title" + (", score" if scored else "")
    inner, params = matching.values(*columns).query.sql_with_params()
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    ctes = [f"m ({names}) AS {materialized}({inner})"]
    if _KEYED.intersection(fields):
        ctes.append(
            f"k (f, v, n) AS {materialized}(SELECT fv.field, fv.value, c.n FROM (SELECT x.value AS id, COUNT(*) AS n "  # noqa: S608
            f"FROM {_KEYS_OF_M[connection.vendor]} GROUP BY x.value) c "
            "JOIN opendata_facetvalue fv ON fv.id = c.id)"
        )
    parts = ["SELECT '' AS f, '' AS v, '' AS t, COUNT(*) AS n FROM m", *(_FACET_SQL[f] for f in fields)]
    union = " UNION ALL ".join(parts)
    # built from the fixed texts above and Django's own SQL for the filter; values go as parameters
    sql = (
        f"WITH {', '.join(ctes)} "  # noqa: S608
        "SELECT f, v, t, n, r FROM (SELECT f, v, t, n, ROW_NUMBER() OVER (PARTITION BY f ORDER BY n DESC, v) AS r "
        f"FROM ({union}) AS u) AS w "
        "WHERE f = '' OR (n >= %s AND (%s < 0 OR r <= %s))"
    )  # fmt: skip
    values = [*params, max(mincount, 1), limit, limit]
    if paged:
        assert page is not None
        if "score" in "".join(page.order) and not scored:
            raise ValueError("a page sorted by score needs a score annotation")
        sql += (
            " UNION ALL SELECT '#', CAST(id AS text), '', 0, r FROM "  # noqa: S608
            f"(SELECT id, ROW_NUMBER() OVER (ORDER BY {page.sql()}) AS r FROM m) AS p WHERE r > %s AND r <= %s"
        )
        values += [page.start, page.start + page.rows]
    sql += " ORDER BY 1, 5"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        rows = cursor.fetchall()
    count, facets, ids = 0, {f: list[tuple[str, str, int]]() for f in fields}, list[Any]()
    for field, value, title, n, _ in rows:
        if field == "":
            count = int(n)
        elif field == "#":
            ids.append(value)
        else:
            facets[field].append((str(value), str(title or ""), int(n)))
    return count, facets, ids


def catalogue_version() -> tuple[Any, ...]:
    """What changes whenever a search's counts can: every write of a dataset (its tags, groups,
    resources and visibility included) moves ``metadata_modified``; a removal changes the count."""
    from django.db.models import Max

    row = Dataset.objects.aggregate(n=Count("id"), modified=Max("metadata_modified"))
    return (row["n"], row["modified"])
