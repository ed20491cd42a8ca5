"""The open data catalogue, shaped as CKAN's so that its API and the tools that speak it work
unchanged: datasets (CKAN's *packages*) published by organisations (the city's agencies), grouped
in themes (*groups*), tagged, under a licence, each with resources (files, links, or datastore
tables). Identifiers are UUIDs and names are URL slugs, as in CKAN; timestamps are UTC."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.db import models


class IntListField(models.Field):
    """A list of integers: an ``integer[]`` on PostgreSQL (unnested without parsing), JSON text on
    SQLite (read with ``json_each``)."""

    description = "A list of integers"

    def db_type(self, connection: Any) -> str:
        return "integer[]" if connection.vendor == "postgresql" else "text"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> list[int]:
        return self.to_python(value)

    def to_python(self, value: Any) -> list[int]:
        if value is None or value == "":
            return []
        if isinstance(value, str):
            value = json.loads(value)
        return [int(v) for v in value]

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        values = [int(v) for v in value or []]
        return values if connection.vendor == "postgresql" else json.dumps(values)


class State(models.TextChoices):
    ACTIVE = "active", "Đang công bố / Active"
    DRAFT = "draft", "Bản nháp / Draft"
    DELETED = "deleted", "Đã rút / Withdrawn"


class License(models.Model):
    """A licence datasets may be published under (``licenses.LICENSES``, kept by ``licenses_sync``)."""

    id = models.CharField(max_length=60, primary_key=True)
    title = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200)
    url = models.URLField(blank=True)
    od_conformance = models.CharField(max_length=20, default="not reviewed")
    osd_conformance = models.CharField(max_length=20, default="not reviewed")
    is_open = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.id


class Organization(models.Model):
    """A publisher: one of the city's agencies (``agency_id``), or an outside portal's when harvested."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    image_url = models.URLField(blank=True)
    agency_id = models.BigIntegerField(null=True, blank=True, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """Who may publish for an organisation (CKAN's member capacities): ``editor`` writes its datasets
    and datastore tables, ``admin`` also manages its members."""

    CAPACITIES = (("editor", "Biên tập / Editor"), ("admin", "Quản trị / Admin"))

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="opendata_memberships")
    capacity = models.CharField(max_length=10, choices=CAPACITIES, default="editor")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="opendata_member_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.capacity} @ {self.organization_id}"


class Group(models.Model):
    """A theme datasets belong to (transport, environment, public services…)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    image_url = models.URLField(blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class FacetValue(models.Model):
    """A value a dataset may be counted under in ``package_search``'s facets: a tag, a group or a
    resource format (by name), numbered so that a dataset's values are a short list of integers."""

    id = models.AutoField(primary_key=True)  # an integer[] element on PostgreSQL
    field = models.CharField(max_length=20)
    value = models.CharField(max_length=300)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["field", "value"], name="opendata_facet_value")]

    def __str__(self) -> str:
        return f"{self.field}:{self.value}"


class Dataset(models.Model):
    """A dataset (CKAN's package)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=300)
    title_en = models.CharField(max_length=300, blank=True)
    notes = models.TextField(blank=True, help_text="Description (Markdown)")
    notes_en = models.TextField(blank=True)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="datasets")
    license = models.ForeignKey(License, on_delete=models.PROTECT, null=True, blank=True, related_name="datasets")
    groups = models.ManyToManyField(Group, blank=True, related_name="datasets")
    tags = models.ManyToManyField(Tag, blank=True, related_name="datasets")
    author = models.CharField(max_length=200, blank=True)
    author_email = models.EmailField(blank=True)
    maintainer = models.CharField(max_length=200, blank=True)
    maintainer_email = models.EmailField(blank=True)
    url = models.URLField(blank=True, help_text="The source's page")
    version = models.CharField(max_length=100, blank=True)
    frequency = models.CharField(max_length=40, blank=True, help_text="EU frequency code: DAILY, MONTHLY…")
    temporal_start = models.DateField(null=True, blank=True)
    temporal_end = models.DateField(null=True, blank=True)
    spatial = models.CharField(max_length=200, blank=True, help_text="Place covered (an administrative unit)")
    language = models.CharField(max_length=20, default="vi")
    extras = models.JSONField(default=dict, blank=True, help_text="Other fields as key → value (CKAN extras)")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    private = models.BooleanField(default=False)
    metadata_created = models.DateTimeField()
    metadata_modified = models.DateTimeField(db_index=True)
    # folded (lower-case, no diacritics) title, notes, tags, organisation and resources: what a search reads
    search_text = models.TextField(blank=True)
    # the tags, groups and resource formats package_search counts as facets, as ``FacetValue`` ids
    # (each once): one array to unnest instead of three joins (``selectors.dataset_count_and_facets``)
    facet_keys = IntListField(default=list, blank=True)
    # harvested datasets: the source and the id the source gives them; withdrawn when the source drops them
    harvest_source = models.ForeignKey(
        "HarvestSource", on_delete=models.SET_NULL, null=True, blank=True, related_name="datasets"
    )
    harvest_guid = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "private", "metadata_modified"], name="opendata_ds_public"),
            models.Index(fields=["harvest_source", "harvest_guid"], name="opendata_ds_harvest"),
        ]

    def __str__(self) -> str:
        return self.name


class Resource(models.Model):
    """A distribution of a dataset: a file in the document store, a link, or a datastore table
    (``datastore_active``; its rows live in the datastore, see ``opendata.datastore``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="resources")
    name = models.CharField(max_length=300)
    name_en = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    format = models.CharField(max_length=40, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    url_type = models.CharField(max_length=20, blank=True, help_text="upload, datastore, or empty for a link")
    mimetype = models.CharField(max_length=100, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    hash = models.CharField(max_length=100, blank=True)
    blob_sha256 = models.CharField(max_length=64, blank=True, help_text="The file in the document store")
    datastore_active = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    created = models.DateTimeField()
    last_modified = models.DateTimeField(null=True, blank=True)
    extras = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position", "created"]

    def __str__(self) -> str:
        return f"{self.dataset_id}/{self.name}"


class HarvestSource(models.Model):
    """Another portal whose catalogue is copied here on a schedule: a CKAN Action API or a DCAT
    catalogue (Turtle, RDF/XML or JSON-LD)."""

    KINDS = (("ckan", "CKAN API"), ("dcat", "DCAT"))

    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    url = models.URLField(max_length=500)
    kind = models.CharField(max_length=10, choices=KINDS)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="harvest_sources", help_text="Publisher of what it brings"
    )
    frequency_hours = models.PositiveIntegerField(default=24)
    active = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_report = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class DatastoreTable(models.Model):
    """The description of a resource's datastore table (its rows live in the datastore: the schema
    ``datastore`` on PostgreSQL, a separate SQLite file otherwise; see ``opendata.datastore_db``):
    the fields as CKAN declares them (``[{"id", "type", "info"?}]``, in order), the primary key and
    the indexes asked for."""

    resource = models.OneToOneField(Resource, on_delete=models.CASCADE, related_name="datastore_table")
    fields = models.JSONField(default=list)
    primary_key = models.JSONField(default=list, blank=True)
    indexes = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return str(self.resource_id)
