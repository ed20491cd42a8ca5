"""CKAN's DataStore API: tables of rows behind resources (``datastore_create``, ``_upsert``,
``_delete``, ``_search``, ``_search_sql``, ``_info``), as CKAN 2.10 answers them.

Writes take an API token of an editor of the dataset's organisation (``selectors.can_edit``);
reads are open for the resources of public datasets. Every parameter is checked here, in Python,
before the store (``datastore_db``) sees it: unknown fields, bad values, bad filters, sorts and
limits are Validation Errors, and what the database still refuses is one too, never a 500.
The tables' descriptions (fields, primary key, indexes) are ``models.DatastoreTable``."""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from hcmgov.opendata import datastore_params as params
from hcmgov.opendata import datastore_sql, selectors, services
from hcmgov.opendata.ckan import (
    Action,
    Context,
    NotAuthorized,
    NotFound,
    ValidationError,
    action,
    as_bool,
    as_int,
    required,
)
from hcmgov.opendata.datastore_db import (
    SCHEMA,
    Field,
    Search,
    StoreError,
    StoreTimeout,
    field_name_error,
    store,
)
from hcmgov.opendata.dictize import site_url
from hcmgov.opendata.models import Dataset, DatastoreTable, Resource, State

# --- reading parameters ----------------------------------------------------------------------------


def _action(name: str, *, write: bool = False) -> Callable[[Action], Action]:
    """``ckan.action``, with the parameters cleaned first (:func:`_clean`)."""

    def register(fn: Action) -> Action:
        @functools.wraps(fn)
        def run(context: Context, data: dict[str, Any]) -> Any:
            return fn(context, params.clean(data))

        return action(name, write=write)(run)

    return register


def _fields(table: DatastoreTable) -> list[Field]:
    return [Field(f["id"], f["type"]) for f in table.fields]


def _field_dicts(fields: list[Field], infos: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    out = []
    for f in fields:
        item: dict[str, Any] = {"id": f.id, "type": f.type}
        if infos and infos.get(f.id):
            item["info"] = infos[f.id]
        out.append(item)
    return out


# --- finding tables and who may use them -------------------------------------------------------------


def _resource_id(data: dict[str, Any], key: str = "resource_id") -> str:
    rid = required(data, key)
    try:
        return str(uuid.UUID(rid))
    except ValueError:
        raise NotFound(f'tài nguyên / resource "{rid}"') from None


def _table(rid: str) -> DatastoreTable:
    table = (
        DatastoreTable.objects.select_related("resource__dataset__organization")
        .filter(resource_id=rid, resource__state=State.ACTIVE)
        .first()
    )
    if table is None:
        raise NotFound(f'tài nguyên / resource "{rid}"')
    return table


def _readable_fields(context: Context, rid: str) -> tuple[list[Field], str]:
    """The fields of a table the caller may read, and the table's version (when it was last
    written). The public case (the hot path of every search) is one plain query, without the
    ORM's compilation; the rest goes through :func:`_check_read`."""
    tables = {m: m._meta.db_table for m in (DatastoreTable, Resource, Dataset)}
    key = Resource._meta.pk.get_db_prep_value(uuid.UUID(rid), connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.fields, d.state, d.private, t.modified FROM {tables[DatastoreTable]} t "  # noqa: S608 - the models' tables
            f"JOIN {tables[Resource]} r ON r.id = t.resource_id JOIN {tables[Dataset]} d ON d.id = r.dataset_id "
            f"WHERE t.resource_id = %s AND r.state = %s",
            [key, State.ACTIVE],
        )
        found = cursor.fetchone()
    if found is None:
        raise NotFound(f'tài nguyên / resource "{rid}"')
    fields, state, private, modified = found
    if state != State.ACTIVE or private:
        table = _table(rid)
        _check_read(context, table.resource)
        return _fields(table), str(table.modified)
    if isinstance(fields, str):  # SQLite hands JSON columns back as text
        fields = json.loads(fields)
    return [Field(f["id"], f["type"]) for f in fields], str(modified)


class _Counts:
    """Totals of searches by table version and query (``settings.DATASTORE_COUNT_CACHE`` of them,
    least recently used dropped). A write moves the table's version (``DatastoreTable.modified``,
    in the write's transaction on PostgreSQL), so a total is never served for rows it did not
    count; on SQLite, whose rows are in another file, a search running between a write's commit
    and its version bump may count the new rows under the old version for that moment."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: OrderedDict[tuple[Any, ...], int] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> int | None:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], total: int) -> None:
        size = settings.DATASTORE_COUNT_CACHE
        with self.lock:
            self.items[key] = total
            while len(self.items) > size:
                self.items.popitem(last=False)


COUNTS = _Counts()


def _touch(table: DatastoreTable) -> None:
    """A new version of the table (its cached totals are forgotten), and of its resource."""
    now = timezone.now()
    DatastoreTable.objects.filter(pk=table.pk).update(modified=now)
    Resource.objects.filter(pk=table.resource_id).update(last_modified=now)


def _check_read(context: Context, resource: Resource) -> None:
    dataset = resource.dataset
    if dataset.state == State.ACTIVE and not dataset.private:
        return
    if not selectors.can_edit(context.user, dataset.organization):
        if dataset.state == State.DELETED:
            raise NotFound(f'tài nguyên / resource "{resource.pk}"')
        raise NotAuthorized(f"không được đọc tài nguyên {resource.pk} / cannot read resource {resource.pk}")


def _check_write(context: Context, resource: Resource) -> None:
    organization = resource.dataset.organization
    if not selectors.can_edit(context.user, organization):
        raise NotAuthorized(f"không biên tập dữ liệu của {organization.name} / not an editor of {organization.name}")


def _resource_for_create(context: Context, data: dict[str, Any]) -> Resource:
    """The resource named by ``resource_id``, or a new one under ``resource: {package_id, name, …}``."""
    if data.get("resource_id"):
        resource = selectors.resource_by_id(str(data["resource_id"]))
        if resource is None or resource.state != State.ACTIVE:
            raise NotFound(f'tài nguyên / resource "{data["resource_id"]}"')
        _check_write(context, resource)
        return resource
    spec = params.json_param(data, "resource")
    if not isinstance(spec, dict):
        raise ValidationError({"resource_id": ["Thiếu giá trị / Missing value"]})
    package_id = spec.get("package_id")
    dataset = selectors.dataset_by_id_or_name(str(package_id)) if isinstance(package_id, str | int) else None
    if dataset is None or dataset.state == State.DELETED:
        raise ValidationError({"resource": ["Không có bộ dữ liệu này / package_id: Not found: Dataset"]})
    if not selectors.can_edit(context.user, dataset.organization):
        raise NotAuthorized(f"không biên tập dữ liệu của {dataset.organization.name} / not an editor")
    return datastore_resource_create(dataset=dataset, spec=spec)


@transaction.atomic
def datastore_resource_create(*, dataset: Any, spec: dict[str, Any]) -> Resource:
    """A new resource of ``dataset`` whose data is a datastore table (CKAN's ``url_type``
    ``datastore``; its address is the table's search). The dataset's search text follows it."""
    now = timezone.now()
    resource = Resource(dataset=dataset, created=now, last_modified=now, url_type="datastore", state=State.ACTIVE)
    for key in ("name", "name_en", "description", "format", "mimetype"):
        if isinstance(spec.get(key), str):
            max_length = getattr(Resource._meta.get_field(key), "max_length", None)
            setattr(resource, key, spec[key][:max_length] if max_length else spec[key])
    resource.name = resource.name or "Bảng dữ liệu / Data table"
    resource.position = dataset.resources.count()
    resource.url = f"{site_url()}/api/3/action/datastore_search?resource_id={resource.pk}"
    resource.save()
    dataset.metadata_modified = now
    services.search_index(dataset, also=("metadata_modified",))
    return resource


# --- fields and records ---------------------------------------------------------------------------------


def _store_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except StoreTimeout:
        raise ValidationError({"query": ["Truy vấn chạy quá lâu / Query took too long"]}) from None
    except StoreError as exc:
        raise ValidationError(
            {"records": [f"Cơ sở dữ liệu từ chối / The database refused: {str(exc)[:300]}"]}
        ) from None


# --- writes -----------------------------------------------------------------------------------------------


@_action("datastore_create", write=True)
def datastore_create(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Create a resource's table, or add fields and rows to it: ``resource_id`` (or ``resource``: a
    new resource's ``package_id``, ``name``…), ``fields`` ([{id, type}]), ``primary_key``,
    ``indexes``, ``records``. Types: text, int/int4/int8, numeric/float8, bool, date, timestamp, json."""
    resource = _resource_for_create(context, data)
    declared, infos = params.declared_fields(data)
    records = params.records(data)
    existing = DatastoreTable.objects.filter(resource=resource).first()
    fields = _fields(existing) if existing else []
    have = {f.id: f for f in fields}
    changed = [f"Trường \"{f.id}\" đã là {have[f.id].type} / field \"{f.id}\" is already {have[f.id].type}"
               for f in declared if f.id in have and have[f.id].type != f.type]  # fmt: skip
    if changed:
        raise ValidationError({"fields": changed})
    new = [f for f in declared if f.id not in have]
    for record in records:  # fields only the records name: their type guessed from the first value (CKAN)
        for key, value in record.items():
            if key not in have and key not in {f.id for f in new} and value is not None:
                why = field_name_error(key)
                if why:
                    raise ValidationError({"fields": [why]})
                new.append(Field(key, params.guess(value)))
    fields = fields + new
    if not fields:
        raise ValidationError({"fields": ["Cần ít nhất một trường / At least one field is needed"]})
    if len(fields) > params.MAX_FIELDS:
        raise ValidationError({"fields": [f"Tối đa {params.MAX_FIELDS} trường / At most {params.MAX_FIELDS} fields"]})
    names = {f.id for f in fields}
    primary_key = (
        params.key_list(data, "primary_key", names)
        if "primary_key" in data
        else (existing.primary_key if existing else [])
    )
    indexes = params.indexes(data, names)
    rows = params.coerce_records(fields, records)
    rid = str(resource.pk)
    db = store()
    with transaction.atomic():
        if existing is None:
            if _store_call(db.table_exists, rid):  # left behind by a failed create on SQLite
                _store_call(db.drop, rid)
            _store_call(db.create, rid, fields)
            existing = DatastoreTable(resource=resource)
        elif new:
            _store_call(db.add_columns, rid, new)
        try:
            if primary_key != existing.primary_key:
                if existing.primary_key:
                    _store_call(db.drop_index, rid, existing.primary_key, unique=True)
                if primary_key:
                    _store_call(db.create_index, rid, primary_key, unique=True)
            for columns in indexes:
                _store_call(db.create_index, rid, columns)
            _store_call(db.insert, rid, fields, rows)
        except ValidationError:
            if existing.pk is None and db.vendor != "postgresql":  # PostgreSQL rolls the DDL back itself
                _store_call(db.drop, rid)
            raise
        old_infos = {f["id"]: f.get("info") for f in existing.fields}
        existing.fields = []
        for f in fields:
            info = infos.get(f.id) or old_infos.get(f.id)
            existing.fields.append({"id": f.id, "type": f.type, **({"info": info} if info else {})})
        existing.primary_key = primary_key
        existing.indexes = existing.indexes + [c for c in indexes if c not in existing.indexes]
        existing.save()
        Resource.objects.filter(pk=resource.pk).update(datastore_active=True, last_modified=timezone.now())
    result: dict[str, Any] = {
        "resource_id": rid,
        "fields": [dict(f) for f in existing.fields],
        "method": "insert",
    }
    if existing.primary_key:
        result["primary_key"] = existing.primary_key
    if indexes:
        result["indexes"] = [",".join(c) for c in indexes]
    if as_bool(data, "include_records"):
        result["records"] = records
    return result


@_action("datastore_upsert", write=True)
def datastore_upsert(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Write ``records`` to a table: ``method`` ``upsert`` (default: by the primary key, or ``_id``),
    ``insert`` or ``update`` (the key must exist)."""
    table = _table(_resource_id(data))
    _check_write(context, table.resource)
    method = str(data.get("method") or "upsert")
    if method not in ("upsert", "insert", "update"):
        raise ValidationError({"method": [f'Phương thức "{method}" không hợp lệ / "{method}" is not a valid method']})
    fields = _fields(table)
    records = params.records(data)
    rows = params.coerce_records(fields, records, allow_id=method != "insert")
    rid = str(table.resource_id)
    db = store()
    with transaction.atomic():
        _write_rows(db, table, fields, rows, method)
        _touch(table)
    result: dict[str, Any] = {"resource_id": rid, "method": method}
    if as_bool(data, "include_records"):
        result["records"] = records
    return result


def _write_rows(db: Any, table: DatastoreTable, fields: list[Field], rows: list[dict[str, Any]], method: str) -> None:
    rid = str(table.resource_id)
    if method == "insert":
        _store_call(db.insert, rid, fields, rows)
    else:
        key = table.primary_key or ["_id"]
        for n, row in enumerate(rows, start=1):
            missing = [k for k in key if row.get(k) is None]
            if missing:
                raise ValidationError(
                    {
                        "key": [
                            f'Dòng {n} thiếu khoá "{", ".join(missing)}" / '
                            f'fields "{", ".join(missing)}" are missing but needed as key'
                        ]
                    }
                )
        try:
            _store_call(db.upsert, rid, fields, rows, key, method)
        except KeyError as exc:
            raise ValidationError({"key": [f'Không có khoá "{exc.args[0]}" / key "{exc.args[0]}" not found']}) from None


@_action("datastore_delete", write=True)
def datastore_delete(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Delete a resource's table, or only the rows matching ``filters`` ({field: value or [values]})."""
    table = _table(_resource_id(data))
    _check_write(context, table.resource)
    rid = str(table.resource_id)
    db = store()
    if "filters" not in data:
        with transaction.atomic():
            _store_call(db.drop, rid)
            table.delete()
            Resource.objects.filter(pk=rid).update(datastore_active=False, last_modified=timezone.now())
        return {"resource_id": rid}
    fields = _fields(table)
    search = Search(columns=[], filters=params.filters(data, fields))
    with transaction.atomic():
        _store_call(db.delete_rows, rid, fields, search)
        _touch(table)
    return {"resource_id": rid, "filters": params.json_param(data, "filters")}


# --- reads ------------------------------------------------------------------------------------------------


@_action("datastore_search")
def datastore_search(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Rows of a table: ``filters`` ({field: value or [values]}), ``q`` (text, or {field: text}),
    ``fields``, ``sort`` ("a desc, b"), ``limit`` (100; at most the site's rows_max), ``offset``,
    ``distinct``, ``include_total``, ``records_format`` (objects, lists, csv, tsv)."""
    rid = _resource_id(data)
    fields, version = _readable_fields(context, rid)
    by_id = {"_id": Field("_id", "int")} | {f.id: f for f in fields}
    wanted = params.name_list(params.json_param(data, "fields"), "fields")
    missing = [n for n in wanted if n not in by_id]
    if missing:
        raise ValidationError(
            {"fields": [f'Trường "{n}" không có trong bảng / field "{n}" not in table' for n in missing]}
        )
    columns = [by_id[n] for n in wanted] if wanted else list(by_id.values())
    records_format = str(data.get("records_format") or "objects")
    if records_format not in params.RECORDS_FORMATS:
        raise ValidationError(
            {
                "records_format": [
                    f"Phải là một trong {', '.join(params.RECORDS_FORMATS)} / "
                    f"Must be one of {', '.join(params.RECORDS_FORMATS)}"
                ]
            }
        )
    limit = as_int(data, "limit", 100, maximum=settings.DATASTORE_ROWS_MAX)
    offset = as_int(data, "offset", 0, maximum=2**31)
    distinct = as_bool(data, "distinct")
    include_total = as_bool(data, "include_total", True)
    q_all, q_fields = params.q(data, set(by_id))
    sort = params.sort(data, set(by_id))
    if distinct and any(name not in {c.id for c in columns} for name, _ in sort):
        raise ValidationError(
            {"sort": ["Với distinct, chỉ sắp theo trường được chọn / with distinct, sort by selected fields only"]}
        )
    search = Search(
        columns=columns, filters=params.filters(data, fields), q_all=q_all, q_fields=q_fields,
        sort=sort or ([] if distinct else [("_id", False)]), limit=limit, offset=offset, distinct=distinct,
        total=include_total,
    )  # fmt: skip
    count_key = (rid, version, repr(search.filters), tuple(q_all), repr(q_fields), distinct and tuple(wanted))
    known = COUNTS.get(count_key) if include_total and settings.DATASTORE_COUNT_CACHE else None
    search.total = include_total and known is None
    try:
        rows, total = store().search(rid, fields, search, settings.DATASTORE_STATEMENT_TIMEOUT_MS)
        if total is not None and settings.DATASTORE_COUNT_CACHE:
            COUNTS.put(count_key, total)
        total = known if known is not None else total
    except StoreTimeout:
        raise ValidationError({"query": ["Truy vấn chạy quá lâu / Query took too long"]}) from None
    except StoreError as exc:
        raise ValidationError({"query": [f"Truy vấn không hợp lệ / Invalid query: {str(exc)[:300]}"]}) from None
    names = [c.id for c in columns]
    result: dict[str, Any] = {
        "include_total": include_total,
        "resource_id": rid,
        "fields": [{"id": c.id, "type": c.type} for c in columns],
        "records_format": records_format,
        "records": params.formatted(rows, names, records_format),
        "limit": limit,
        "offset": offset,
        "_links": params.links(rid, data, offset, limit),
    }
    if q_all or q_fields:
        result["q"] = data.get("q")
    if search.filters:
        result["filters"] = params.json_param(data, "filters")
    if sort:
        result["sort"] = data.get("sort")
    if total is not None:
        result["total"] = total
        result["total_was_estimated"] = False
    return result


@_action("datastore_search_sql")
def datastore_search_sql(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Run one read-only SELECT (``sql``) over datastore tables named by their resource id in double
    quotes (``SELECT … FROM "<resource id>"``), within the site's time and row limits."""
    if not settings.DATASTORE_SQL_ENABLED:
        raise NotAuthorized("datastore_search_sql đã tắt / datastore_search_sql is disabled")
    sql = data.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise ValidationError({"sql": ["Thiếu giá trị / Missing value"]})
    try:
        checked = datastore_sql.check(sql)
    except datastore_sql.Refused as exc:
        raise ValidationError({"query": [str(exc)]}) from None
    types: dict[str, str] = {"_id": "int", "_full_text": "tsvector"}
    for rid in checked.tables:
        types.update({f.id: f.type for f in _readable_fields(context, rid)[0]})
    db = store()
    try:
        rendered = datastore_sql.render(checked, vendor=db.vendor, schema=SCHEMA)
        result = db.run_sql(rendered, settings.DATASTORE_ROWS_MAX, settings.DATASTORE_STATEMENT_TIMEOUT_MS)
    except StoreTimeout:
        raise ValidationError({"query": ["Truy vấn chạy quá lâu / Query took too long"]}) from None
    except StoreError as exc:
        raise ValidationError({"query": [f"Câu SQL không chạy được / Query failed: {str(exc)[:300]}"]}) from None
    except Exception as exc:
        raise ValidationError({"query": [f"Câu SQL không chạy được / Query failed: {type(exc).__name__}"]}) from None
    column_types = [t or types.get(n) or "text" for n, t in zip(result.names, result.types, strict=True)]
    converters = [(i, t) for i, t in enumerate(column_types) if db.needs_out(t)]
    records = []
    for row in result.rows:
        values = list(row)
        for i, t in converters:
            values[i] = db.out(t, values[i])
        records.append({n: params.out_value(v) for n, v in zip(result.names, values, strict=True)})
    out: dict[str, Any] = {
        "sql": sql,
        "records": records,
        "fields": [{"id": n, "type": t} for n, t in zip(result.names, column_types, strict=True)],
    }
    if result.truncated:
        out["records_truncated"] = True
    return out


@_action("datastore_info")
def datastore_info(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """A table's description: its fields (with their native types and indexes), row count, keys."""
    rid = _resource_id(data, "id" if data.get("id") else "resource_id")
    table = _table(rid)
    _check_read(context, table.resource)
    db = store()
    count = _store_call(db.count, rid)
    indexed = {c[0] for c in table.indexes if len(c) == 1} | set(table.primary_key[:1])
    native = db.column_type if hasattr(db, "column_type") else (lambda t: t)
    fields = [{
        **f,
        "schema": {"native_type": native(f["type"]), "is_index": f["id"] in indexed, "notnull": False,
                   "uniquekey": table.primary_key == [f["id"]]},
    } for f in table.fields]  # fmt: skip
    return {
        "meta": {"id": rid, "count": count, "table_type": "BASE TABLE", "aliases": []},
        "fields": [
            {
                "id": "_id",
                "type": "int",
                "schema": {"native_type": "serial", "is_index": True, "notnull": True, "uniquekey": True},
            },
            *fields,
        ],
        "schema": {f["id"]: f["type"] for f in table.fields},
        "primary_key": table.primary_key,
        "indexes": [",".join(c) for c in table.indexes],
    }


# --- whole tables, for the portal's downloads (``opendata.portal_downloads``) -----------------------------


def datastore_public_fields(*, resource_id: str) -> list[Field] | None:
    """The fields of the table of a resource anyone may read (active, of a public dataset), or None."""
    try:
        return _readable_fields(Context(user=None), str(uuid.UUID(resource_id)))[0]
    except (ValueError, NotFound, NotAuthorized):
        return None


def datastore_row_count(*, resource_id: str) -> int:
    """How many rows a table holds (its resource checked by the caller)."""
    return int(_store_call(store().count, resource_id))


def datastore_rows(*, resource_id: str, fields: list[Field], chunk: int = 10_000) -> Iterator[list[list[Any]]]:
    """Every row of a table, ``_id`` first then ``fields``, in ``_id`` order, ``chunk`` rows at a
    time (values as ``datastore_search`` gives them). Each chunk is one short query resuming after
    the last ``_id`` seen (keyset, not OFFSET), so a download of millions of rows holds one chunk
    in memory, reads each row once, and keeps no transaction open while the client reads: rows
    written during a download may or may not be in it."""
    db = store()
    cols = ", ".join(db.qi(name) for name in ["_id", *(f.id for f in fields)])
    sql = (
        f"SELECT {cols} FROM {db.table(resource_id)} WHERE {db.qi('_id')} > {db.ph} "  # noqa: S608 - quoted names
        f"ORDER BY {db.qi('_id')} LIMIT {int(chunk)}"
    )
    converters = [(i + 1, f.type) for i, f in enumerate(fields) if db.needs_out(f.type)]
    last = 0
    while True:
        with db.atomic(settings.DATASTORE_STATEMENT_TIMEOUT_MS, read=True):
            rows = [list(r) for r in db.execute(sql, [last]).fetchall()]
        for row in rows:
            for i, ftype in converters:
                row[i] = db.out(ftype, row[i])
        if rows:
            yield rows
        if len(rows) < chunk:
            return
        last = int(rows[-1][0])
