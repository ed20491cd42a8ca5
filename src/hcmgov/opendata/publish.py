"""The platform's own figures published as open data, refreshed on a schedule: datastore tables
of non-personal aggregates, behind a privacy guard.

The guard: a publication declares its columns; one marked personal refuses the whole publication
(nothing is written), and counts below ``HCMGOV_OPENDATA_MIN_COUNT`` (k, a k-anonymity threshold
for small cells; zero is published) are published empty, with every figure derived from them (a rate over fewer
than k dossiers is empty too), so that no one can be singled out of a small count.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from hcmgov.common.errors import DomainError, Message
from hcmgov.opendata import services
from hcmgov.opendata.ckan import Context
from hcmgov.opendata.licenses import VN_OPEN
from hcmgov.opendata.models import Membership, Resource, State

log = logging.getLogger(__name__)

PUBLISHER = "svc-opendata"
ORGANIZATION = ("ubnd-tp-hcm", "Ủy ban nhân dân Thành phố Hồ Chí Minh", "Ho Chi Minh City People's Committee")
THEME = ("dich-vu-cong", "Dịch vụ công", "Public services")


@dataclass(frozen=True)
class Column:
    id: str
    type: str
    label: str
    personal: bool = False
    count: bool = False  # a count of people's dossiers: suppressed below k
    over: str = ""  # a figure derived from that count column: suppressed with it


@dataclass(frozen=True)
class Publication:
    name: str
    title: str
    title_en: str
    notes: str
    resource: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    rows: Callable[[], list[dict[str, Any]]]
    tags: tuple[str, ...] = ()


def _dossier_rows() -> list[dict[str, Any]]:
    from hcmgov.dossiers import selectors as dossiers

    out = []
    for r in dossiers.dossier_figures_by_month():
        rate = round(r["on_time"] / r["finished"], 4) if r["finished"] else None
        kept = {k: r[k] for k in ("month", "procedure_code", "procedure_name", "agency_code", "agency_name")}
        counts = {"dossiers_submitted": r["submitted"], "dossiers_finished": r["finished"], "on_time_rate": rate}
        out.append({**kept, **counts})
    return out


PUBLICATIONS: tuple[Publication, ...] = (
    Publication(
        name="ho-so-thu-tuc-hanh-chinh-theo-thang",
        title="Hồ sơ thủ tục hành chính theo tháng, thủ tục và cơ quan",
        title_en="Administrative dossiers by month, procedure and agency",
        notes="Số hồ sơ tiếp nhận, đã giải quyết và tỷ lệ giải quyết đúng hạn, theo tháng (giờ Việt Nam), thủ tục và "
        "cơ quan. Ô có ít hơn ngưỡng bảo vệ riêng tư được để trống. / Dossiers received and finished, and the "
        "on-time rate, by month, procedure and agency; cells below the privacy threshold are left empty.",
        resource="Bảng số liệu / Data table",
        columns=(
            Column("month", "text", "Tháng / Month"),
            Column("procedure_code", "text", "Mã thủ tục / Procedure code"),
            Column("procedure_name", "text", "Tên thủ tục / Procedure"),
            Column("agency_code", "text", "Mã cơ quan / Agency code"),
            Column("agency_name", "text", "Cơ quan / Agency"),
            Column("dossiers_submitted", "int", "Hồ sơ tiếp nhận / Dossiers received", count=True),
            Column("dossiers_finished", "int", "Hồ sơ đã giải quyết / Dossiers finished", count=True),
            Column("on_time_rate", "numeric", "Tỷ lệ đúng hạn / On-time rate", over="dossiers_finished"),
        ),
        primary_key=("month", "procedure_code", "agency_code"),
        rows=_dossier_rows,
        tags=("dịch vụ công", "hồ sơ", "thống kê"),
    ),
)


def guard(columns: tuple[Column, ...], rows: list[dict[str, Any]], *, k: int) -> tuple[list[dict[str, Any]], int]:
    """The rows as they may be published, and how many cells were suppressed. Refuses (nothing
    returned) a publication with a personal column or rows carrying undeclared ones."""
    personal = [c.id for c in columns if c.personal]
    if personal:
        raise DomainError(
            "opendata_personal_column",
            Message(
                f"Không công bố cột dữ liệu cá nhân: {', '.join(personal)}.",
                f"Personal columns are not published: {', '.join(personal)}.",
            ),
            422,
        )
    declared = {c.id for c in columns}
    suppressed = 0
    out = []
    for row in rows:
        extra = set(row) - declared
        if extra:
            raise DomainError(
                "opendata_undeclared_column",
                Message(
                    f"Cột chưa khai báo: {', '.join(sorted(extra))}.",
                    f"Undeclared columns: {', '.join(sorted(extra))}.",
                ),
                422,
            )
        row = dict(row)
        # 1 to k-1 is a small cell; 0 singles no one out and is published
        small = {c.id for c in columns if c.count and row.get(c.id) is not None and 0 < row[c.id] < k}
        for c in columns:
            if c.id in small or (c.over and c.over in small):
                if row.get(c.id) is not None:
                    suppressed += 1
                row[c.id] = None
        out.append(row)
    return out, suppressed


def _publisher(organization: Any) -> Any:
    from hcmgov.identity import selectors as identity
    from hcmgov.identity import services as identity_services

    user = identity.user_by_username(username=PUBLISHER)
    if user is None:
        user = identity_services.user_create(
            username=PUBLISHER, password=None, kind="official", full_name="Hệ thống công bố dữ liệu mở"
        )
    Membership.objects.get_or_create(organization=organization, user=user, defaults={"capacity": "editor"})
    return user


def publish(publication: Publication, *, k: int | None = None) -> dict[str, Any]:
    """Refresh one publication: its dataset (made when missing) and its datastore table, replaced
    whole by the current figures."""
    from hcmgov.opendata import datastore

    k = int(settings.HCMGOV_OPENDATA_MIN_COUNT if k is None else k)
    rows, suppressed = guard(publication.columns, publication.rows(), k=k)  # before anything is written
    org = services.organization_upsert(name=ORGANIZATION[0], title=ORGANIZATION[1], title_en=ORGANIZATION[2])
    services.group_upsert(name=THEME[0], title=THEME[1], title_en=THEME[2])
    context = Context(user=_publisher(org))
    with transaction.atomic():
        dataset = services.dataset_upsert(
            data={"name": publication.name, "title": publication.title, "title_en": publication.title_en,
                  "notes": publication.notes, "license_id": VN_OPEN, "groups": [THEME[0]],
                  "tags": list(publication.tags), "frequency": "DAILY"},
            organization=org,
        )  # fmt: skip
        resource = Resource.objects.filter(dataset=dataset, state=State.ACTIVE, url_type="datastore").first()
        fields = [{"id": c.id, "type": c.type, "info": {"label": c.label}} for c in publication.columns]
        if resource is not None and resource.datastore_active:
            datastore.datastore_delete(context, {"resource_id": str(resource.pk)})
        target: dict[str, Any] = (
            {"resource_id": str(resource.pk)}
            if resource is not None
            else {"resource": {"package_id": str(dataset.pk), "name": publication.resource, "format": "CSV"}}
        )
        datastore.datastore_create(
            context, {**target, "fields": fields, "primary_key": list(publication.primary_key), "records": rows}
        )
    report = {"dataset": publication.name, "rows": len(rows), "suppressed_cells": suppressed, "k": k,
              "at": dt.datetime.now(dt.UTC).isoformat()}  # fmt: skip
    log.info("opendata: published %s", report)
    return report


def publish_all(*, k: int | None = None) -> list[dict[str, Any]]:
    return [publish(p, k=k) for p in PUBLICATIONS]
