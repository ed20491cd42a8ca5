"""Harvesting: copying another portal's catalogue here on a schedule (``HarvestSource``), as
ckanext-harvest and ckanext-dcat's harvesters do.

Two kinds of source:

* ``ckan``: a CKAN Action API. ``url`` is the portal's root; its query string, if any, is passed to
  ``package_search`` (``https://portal/?fq=organization:so-gtvt`` harvests one publisher). Pages of
  ``package_search`` (``rows``/``start``); a portal without ``package_search`` is read with
  ``package_list`` and ``package_show``, the ``organization:NAME`` filter then applied here.
* ``dcat``: a DCAT catalogue in Turtle, RDF/XML or JSON-LD, its pages followed by Hydra's
  ``hydra:next`` (or ckanext-dcat's ``hydra:nextPage``).

Decisions:

* **Publisher.** Every dataset a source brings is published here by the source's organisation
  (``HarvestSource.organization``): whoever configured the source answers for what it brings, and
  a remote portal cannot create organisations here. The remote publisher's name is kept in the
  dataset's extras (``harvest_publisher``).
* **Identity.** A harvested dataset is known by ``(harvest_source, harvest_guid)``, the guid being
  the source's id for it (CKAN's ``id``; DCAT's ``dct:identifier``, else the dataset's URI). Its
  name is the source's when free here, else the name suffixed with the source's name (then a number):
  a harvest never overwrites a dataset it did not bring. Resources are matched by position; remote
  resource ids are not reused (they could collide with ours).
* **Changes.** A record whose remote modification time is the one already copied is left alone
  (*unchanged*); others are written with ``services.dataset_upsert`` (*created* or *updated*); the
  source's datasets it no longer lists are withdrawn with ``services.dataset_withdraw``. A record
  that is invalid is skipped and said so; a dataset already here from it stays as it was.
* **Failures.** The source is read whole before anything is written: one that cannot be reached,
  answers with an error, is malformed or too large changes nothing; the report says why.
* **Licences.** A remote licence id known here is kept; another is ``notspecified``
  (``dataset_upsert`` refuses unknown ids).

HTTP as ``exchange.adapters.portal`` does it: urllib, a timeout, a size cap, http(s) only, no
redirect followed.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from hcmgov.common.errors import DomainError
from hcmgov.common.text import fold
from hcmgov.opendata import services
from hcmgov.opendata.harvest_dcat import dcat_records
from hcmgov.opendata.models import Dataset, HarvestSource, License, State

log = logging.getLogger(__name__)

USER_AGENT = "hcmgov-harvester/1.0"
TIMEOUT = 30.0
MAX_BODY = 32 * 1024 * 1024
MAX_PAGES = 1000
ROWS = 100
NAME = re.compile(r"^[a-z0-9_-]{2,100}$")
FQ_ORG = re.compile(r'organization:"?([a-z0-9_-]+)"?')
FIELDS = (
    "title", "title_en", "notes", "notes_en", "author", "author_email", "maintainer", "maintainer_email", "url",
    "version", "frequency", "spatial", "language", "temporal_start", "temporal_end",
)  # fmt: skip
RESOURCE_FIELDS = ("name", "name_en", "description", "format", "url", "mimetype", "hash")
OWN_EXTRAS = ("harvest_source", "harvest_url", "harvest_modified", "harvest_publisher")


class HarvestError(Exception):
    """The source gave nothing usable; ``vi`` and ``en`` say why."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(f"{vi} / {en}")
        self.vi, self.en = vi, en


@dataclass
class Record:
    """One dataset as the source lists it, already in ``dataset_upsert``'s shape (without ``name``)."""

    guid: str
    name_hint: str
    modified: str
    data: dict[str, Any]
    organization: str = ""  # the remote publisher's name


@dataclass
class Report:
    source: str
    kind: str
    url: str
    started_at: str
    finished_at: str = ""
    ok: bool = True
    error: dict[str, str] | None = None
    listed: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --- HTTP -----------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, *, accept: str, timeout: float = TIMEOUT) -> tuple[int, str, bytes]:
    """GET ``url``: (status, content type, body). An HTTP error answer is returned as such (its
    body may say why); no answer, a redirect, another scheme or a body over ``MAX_BODY`` raise."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise HarvestError(f"Địa chỉ không phải http(s): {url}", f"Not an http(s) URL: {url}")
    request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": USER_AGENT})  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, content_type, raw = (
                response.status,
                response.headers.get("Content-Type", ""),
                response.read(MAX_BODY + 1),
            )
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            where = exc.headers.get("Location", "")
            raise HarvestError(
                f"Nguồn chuyển hướng sang {where} (không theo)", f"The source redirects to {where} (not followed)"
            ) from exc
        try:
            body = exc.read(64 * 1024)
        except OSError:
            body = b""
        return exc.code, exc.headers.get("Content-Type", ""), body
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = str(getattr(exc, "reason", exc))[:300]
        raise HarvestError(f"Không kết nối được nguồn: {reason}", f"Could not reach the source: {reason}") from exc
    if len(raw) > MAX_BODY:
        raise HarvestError(
            f"Trang của nguồn lớn quá {MAX_BODY // 1024 // 1024} MB",
            f"A page of the source exceeds {MAX_BODY // 1024 // 1024} MB",
        )
    return status, content_type, raw


# --- CKAN sources ---------------------------------------------------------------------------------


def _ckan_base(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    path = re.sub(r"/api(/3)?(/action)?/?$", "", parts.path.rstrip("/"))
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")), dict(parse_qsl(parts.query))


def _ckan_call(base: str, action: str, params: dict[str, Any]) -> tuple[bool, Any, str]:
    """(success, result, error type). Raises when the answer is not CKAN's envelope."""
    url = f"{base}/api/3/action/{action}" + (f"?{urlencode(params)}" if params else "")
    status, _, raw = fetch(url, accept="application/json")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict) or "success" not in body:
        raise HarvestError(
            f"{action}: nguồn trả lời HTTP {status}, không phải API CKAN",
            f"{action}: the source answered HTTP {status}, not a CKAN API answer",
        )
    if body["success"] is True:
        return True, body.get("result"), ""
    error = body.get("error")
    if not isinstance(error, dict):
        error = {}
    return False, error.get("message"), str(error.get("__type") or "")


def _malformed(what: str) -> HarvestError:
    return HarvestError(f"Nguồn trả về {what} sai định dạng", f"The source's {what} is malformed")


def _ckan_packages(url: str) -> list[dict[str, Any]]:
    base, query = _ckan_base(url)
    packages: list[dict[str, Any]] = []
    start = 0
    for _ in range(MAX_PAGES):
        ok, result, kind = _ckan_call(base, "package_search", {**query, "rows": ROWS, "start": start})
        if not ok:
            if kind == "Bad Request" and "not known" in str(result):
                return _ckan_packages_by_list(base, query)
            raise HarvestError(f"package_search bị từ chối: {result}", f"package_search refused: {result}")
        if not isinstance(result, dict) or not isinstance(result.get("results"), list):
            raise _malformed("package_search")
        page = result["results"]
        packages += page
        start += len(page)
        if not page or start >= int(result.get("count") or 0):
            break
    wanted = FQ_ORG.findall(query.get("fq", ""))
    if wanted:  # the source may not have applied the filter: apply it again
        packages = [p for p in packages if _org_name(p) in wanted]
    return packages


def _org_name(package: Any) -> str:
    org = package.get("organization") if isinstance(package, dict) else None
    return str(org.get("name") or "") if isinstance(org, dict) else ""


def _ckan_packages_by_list(base: str, query: dict[str, str]) -> list[dict[str, Any]]:
    ok, names, _ = _ckan_call(base, "package_list", {})
    if not ok or not isinstance(names, list):
        raise _malformed("package_list")
    wanted = FQ_ORG.findall(query.get("fq", ""))
    packages = []
    for name in names:
        ok, package, kind = _ckan_call(base, "package_show", {"id": str(name)})
        if not ok:
            if kind == "Not Found Error":  # withdrawn between the two calls
                continue
            raise HarvestError(f"package_show {name} bị từ chối: {package}", f"package_show {name} refused: {package}")
        if not wanted or _org_name(package) in wanted:
            packages.append(package)
    return packages


def ckan_record(package: Any, *, base: str) -> Record | None:
    if not isinstance(package, dict) or not package.get("id") or not isinstance(package.get("name"), str):
        return None
    data: dict[str, Any] = {k: package[k] for k in FIELDS if isinstance(package.get(k), str)}
    data["title"] = str(package.get("title") or package["name"])
    if not data.get("url"):
        data["url"] = f"{base}/dataset/{package['name']}"
    data["license_id"] = str(package.get("license_id") or "")
    data["tags"] = [t["name"] for t in package.get("tags") or [] if isinstance(t, dict) and t.get("name")]
    data["groups"] = [g["name"] for g in package.get("groups") or [] if isinstance(g, dict) and g.get("name")]
    resources = [r for r in package.get("resources") or [] if isinstance(r, dict)]
    data["resources"] = [
        {k: str(r[k]) for k in RESOURCE_FIELDS if isinstance(r.get(k), str | int) and r.get(k) != ""} for r in resources
    ]
    extras = package.get("extras")
    if not isinstance(extras, list):
        extras = []
    data["extras"] = {
        str(e["key"]): e.get("value")
        for e in extras
        if isinstance(e, dict) and e.get("key") and e["key"] not in OWN_EXTRAS
    }
    return Record(
        guid=str(package["id"]),
        name_hint=package["name"],
        modified=str(package.get("metadata_modified") or ""),
        data=data,
        organization=_org_name(package),
    )


# --- running a source -----------------------------------------------------------------------------


def records_read(*, source: HarvestSource) -> tuple[list[Record], int, list[dict[str, str]]]:
    """Everything the source lists: (records, number listed, records skipped as unreadable)."""
    if source.kind == "ckan":
        base, _ = _ckan_base(source.url)
        packages = _ckan_packages(source.url)
        records, skipped = [], []
        for package in packages:
            record = ckan_record(package, base=base)
            if record is None:
                skipped.append({"guid": str(package.get("id") if isinstance(package, dict) else ""),
                                "reason": "không có id hoặc name / no id or name"})  # fmt: skip
            else:
                records.append(record)
        return records, len(packages), skipped
    if source.kind == "dcat":
        records, skipped = dcat_records(source.url, fetch=fetch, error=HarvestError, max_pages=MAX_PAGES)
        return records, len(records) + len(skipped), skipped
    raise HarvestError(f"Loại nguồn không biết: {source.kind}", f"Unknown kind of source: {source.kind}")


def _slug(text: str) -> str:
    return slugify(fold(text))[:90].strip("-")


def _name_for(*, source: HarvestSource, record: Record) -> str:
    base = record.name_hint if NAME.match(record.name_hint or "") else _slug(record.name_hint or "")
    base = base if len(base) >= 2 else (_slug(str(record.data.get("title") or "")) or "du-lieu")
    base = base[:90]
    candidates = [base, f"{base}-{source.name}"[:100]] + [f"{base[:85]}-{source.name[:8]}-{n}" for n in range(2, 50)]
    taken = set(Dataset.objects.filter(name__in=candidates).values_list("name", flat=True))
    for candidate in candidates:
        if candidate not in taken and NAME.match(candidate):
            return candidate
    raise HarvestError(f"Không đặt được tên cho {record.guid}", f"No free name for {record.guid}")


def _known_license(license_id: str, licences: set[str]) -> str:
    return license_id if license_id in licences else "notspecified"


def _write(*, source: HarvestSource, record: Record, now: dt.datetime, licences: set[str], report: Report) -> None:
    existing = Dataset.objects.filter(harvest_source=source, harvest_guid=record.guid).first()
    if (
        existing is not None
        and record.modified
        and existing.state == State.ACTIVE
        and (existing.extras or {}).get("harvest_modified") == record.modified
    ):
        report.unchanged.append(existing.name)
        return
    name = existing.name if existing is not None else _name_for(source=source, record=record)
    data = {**record.data, "name": name, "state": State.ACTIVE, "private": False}
    data["license_id"] = _known_license(str(data.get("license_id") or ""), licences)
    data["extras"] = {
        **data.get("extras", {}),
        "harvest_source": source.name,
        "harvest_url": str(record.data.get("url") or ""),
        "harvest_modified": record.modified,
        "harvest_publisher": record.organization,
    }
    if existing is not None:  # resources by position: keep the ids of the ones already copied
        ids = list(
            existing.resources.filter(state=State.ACTIVE).order_by("position", "created").values_list("id", flat=True)
        )
        data["resources"] = [{**r, "id": str(ids[i])} if i < len(ids) else r for i, r in enumerate(data["resources"])]
    try:
        dataset = services.dataset_upsert(data=data, organization=source.organization, now=now)
    except DomainError as exc:
        why = "; ".join(f"{e.field}: {e.message.en}" for e in exc.errors) or exc.message.en
        report.skipped.append({"guid": record.guid, "reason": why})
        return
    # dataset_upsert does not know harvests: the source and guid are set here (see the report to
    # services' owner: it would take them as arguments)
    Dataset.objects.filter(pk=dataset.pk).update(harvest_source=source, harvest_guid=record.guid)
    (report.created if existing is None else report.updated).append(dataset.name)


def harvest_source_run(*, source: HarvestSource, now: dt.datetime | None = None) -> dict[str, Any]:
    """Harvest ``source`` once: read it whole, then create, update and withdraw its datasets here.
    Returns the report, also kept in ``source.last_report``."""
    now = now or timezone.now()
    report = Report(source=source.name, kind=source.kind, url=source.url, started_at=now.isoformat())
    try:
        records, listed, skipped = records_read(source=source)
    except HarvestError as exc:
        report.ok, report.error = False, {"vi": exc.vi, "en": exc.en}
        log.warning("opendata harvest %s failed: %s", source.name, exc)
    else:
        report.listed, report.skipped = listed, skipped
        licences = set(License.objects.values_list("id", flat=True))
        with transaction.atomic():
            HarvestSource.objects.select_for_update().filter(pk=source.pk).first()  # one run of a source at a time
            seen = {r["guid"] for r in skipped if r.get("guid")}
            for record in records:
                seen.add(record.guid)
                _write(source=source, record=record, now=now, licences=licences, report=report)
            gone = Dataset.objects.filter(harvest_source=source).exclude(state=State.DELETED)
            for dataset in gone.exclude(harvest_guid__in=seen).order_by("name"):
                services.dataset_withdraw(dataset=dataset, now=now)
                report.withdrawn.append(dataset.name)
    report.finished_at = timezone.now().isoformat()
    source.last_run_at, source.last_report = now, report.as_dict()
    source.save(update_fields=["last_run_at", "last_report"])
    return report.as_dict()


def harvest_sources_due(*, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Run the active sources whose last run is ``frequency_hours`` old or more (or never ran)."""
    now = now or timezone.now()
    reports = []
    for source in HarvestSource.objects.filter(active=True).select_related("organization").order_by("name"):
        if source.last_run_at is None or source.last_run_at + dt.timedelta(hours=source.frequency_hours) <= now:
            reports.append(harvest_source_run(source=source, now=now))
    return reports
