"""Downloads of a datastore table, whole, as CSV, JSON, XLSX or Parquet
(``/du-lieu-mo/{dataset}/tai-nguyen/{resource id}.{format}``), in bounded memory however large the
table: rows are read in chunks (``datastore.datastore_rows``). CSV and JSON are streamed as they
are read; XLSX (openpyxl, write-only) and Parquet (pyarrow, a row group per chunk) are written to a
temporary file first, since both formats put their index at the end, then sent from it.

CSV is UTF-8 with a byte-order mark by default: without one, Excel on a Vietnamese Windows reads
the file as Windows-1258 and garbles every accented letter; ``?bom=0`` leaves it out for tools
that do not want it (docs/decisions/0020-open-data-portal-pages.md). A resource that is a file or
a link, not a table, is answered by a redirect to its address."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from typing import IO, Any
from urllib.parse import quote

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from hcmgov.common.access import public
from hcmgov.opendata import datastore, selectors
from hcmgov.opendata.ckan import CkanError
from hcmgov.opendata.datastore_db import Field, StoreError
from hcmgov.opendata.models import State
from hcmgov.opendata.portal import BadInput, error_page, public_dataset, text

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
XLSX_ROWS_MAX = 1_048_575  # a worksheet's rows, less the header
CHUNK = 10_000
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def filename(name: str, fallback: str, fmt: str) -> str:
    """A file name for the resource's name (Vietnamese kept), without characters file systems refuse."""
    base = " ".join(_UNSAFE.sub(" ", name).split())[:100].strip(" .") or fallback
    return f"{base}.{fmt}"


def disposition(name: str) -> str:
    """``attachment`` with the name in UTF-8 (RFC 6266/5987) and, for old clients, its folded ASCII."""
    plain = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    plain = "".join(ch for ch in plain if unicodedata.category(ch) != "Mn")  # "Trạm" → "Tram"
    ascii_name = plain.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _header(response: HttpResponse | StreamingHttpResponse | FileResponse, name: str) -> Any:
    response["Content-Disposition"] = disposition(name)
    response["Access-Control-Allow-Origin"] = "*"  # open data: any site's script may fetch it
    return response


# --- values ---------------------------------------------------------------------------------------


def typed(ftype: str, value: Any) -> Any:
    """A value as a Python object of its column's type (dates and times parsed, JSON as its text)."""
    if value is None:
        return None
    if ftype in ("date", "timestamp") and isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return parsed.date() if ftype == "date" else parsed.replace(tzinfo=None)
    if ftype == "json" or isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if ftype in ("numeric", "float8") and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


Rows = list[list[Any]]


def primed(chunks: Iterator[Rows]) -> Iterable[Rows]:
    """``chunks`` with the first read already made: a table that cannot be read is an error page
    before the response starts, not a download cut short."""
    first = next(chunks, None)
    return chunks if first is None else itertools.chain([first], chunks)


# --- the four formats ------------------------------------------------------------------------------


def csv_chunks(chunks: Iterable[Rows], fields: list[Field], *, bom: bool) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerow(["_id", *(f.id for f in fields)])
    yield ("\ufeff" if bom else "").encode() + buffer.getvalue().encode()
    for rows in chunks:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([text(v) for v in row] for row in rows)
        yield buffer.getvalue().encode()


def json_chunks(chunks: Iterable[Rows], fields: list[Field]) -> Iterator[bytes]:
    names = ["_id", *(f.id for f in fields)]
    yield b"["
    first = True
    for rows in chunks:
        parts = [json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False, default=str) for row in rows]
        yield (("\n" if first else ",\n") + ",\n".join(parts)).encode()
        first = False
    yield b"\n]\n"


def write_xlsx(chunks: Iterable[Rows], fields: list[Field], sheet: str, out: IO[bytes]) -> None:
    """The table as one worksheet, written row by row (openpyxl's write-only mode keeps rows on
    disk, not in memory). Text is always a string cell: a value starting with ``=`` is not a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    ws = book.create_sheet(title=sheet)
    ws.append(["_id", *(f.id for f in fields)])
    types = ["int", *(f.type for f in fields)]
    for rows in chunks:
        for row in rows:
            cells: list[Any] = []
            for ftype, value in zip(types, row, strict=True):
                value = typed(ftype, value)
                if isinstance(value, str):
                    cell = WriteOnlyCell(ws, _ILLEGAL_XML.sub("", value))
                    cell.data_type = "s"
                    cells.append(cell)
                else:
                    cells.append(value)
            ws.append(cells)
    book.save(out)


def _arrow_type(ftype: str) -> Any:
    import pyarrow as pa

    return {
        "int": pa.int64(), "int4": pa.int32(), "int8": pa.int64(), "numeric": pa.float64(), "float8": pa.float64(),
        "bool": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us"),
    }.get(ftype, pa.string())  # fmt: skip


def write_parquet(chunks: Iterable[Rows], fields: list[Field], out: IO[bytes]) -> None:
    """The table as Parquet, a row group per chunk read; JSON columns as their JSON text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [Field("_id", "int8"), *fields]
    schema = pa.schema([pa.field(c.id, _arrow_type(c.type)) for c in columns])
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for rows in chunks:
            arrays = [
                pa.array([typed(c.type, row[i]) for row in rows], type=schema.field(i).type)
                for i, c in enumerate(columns)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


# --- the view ---------------------------------------------------------------------------------------


@public
@require_GET
def download(request: HttpRequest, name: str, resource_id: uuid.UUID, fmt: str) -> HttpResponseBase:
    """A resource of a public dataset: its table in ``fmt``, or, for a file or a link, its address."""
    if fmt not in CONTENT_TYPES:
        return error_page(request, BadInput(
            "Không có định dạng này. Tải về được: CSV, JSON, XLSX, Parquet.",
            "Unknown format. Downloads are offered as CSV, JSON, XLSX and Parquet.", 404))  # fmt: skip
    dataset = public_dataset(name)
    resource = selectors.resource_by_id(str(resource_id)) if dataset is not None else None
    if dataset is None or resource is None or resource.dataset_id != dataset.pk or resource.state != State.ACTIVE:
        return error_page(request, BadInput("Không tìm thấy tài nguyên.", "Resource not found.", 404))
    fields = datastore.datastore_public_fields(resource_id=str(resource.pk)) if resource.datastore_active else None
    if fields is None:
        if resource.url.startswith(("https://", "http://")) and resource.url_type != "datastore":
            return HttpResponseRedirect(resource.url)
        return error_page(request, BadInput(
            "Tài nguyên này không có bảng dữ liệu để tải về.", "This resource has no data table to download.", 404
        ))  # fmt: skip
    bom = request.GET.get("bom", "1")
    if bom not in ("0", "1"):
        return error_page(request, BadInput("bom phải là 0 hoặc 1.", "bom must be 0 or 1."))
    rid, file_name = str(resource.pk), filename(resource.name, str(resource.pk), fmt)
    unreadable = BadInput("Không đọc được bảng dữ liệu.", "The data table cannot be read.", 503)
    try:
        if fmt == "xlsx" and datastore.datastore_row_count(resource_id=rid) > XLSX_ROWS_MAX:
            return error_page(request, BadInput(
                "Bảng quá lớn cho một trang tính Excel; hãy tải CSV hoặc Parquet.",
                "The table is too large for an Excel worksheet; download CSV or Parquet instead.", 413))  # fmt: skip
        chunks = primed(datastore.datastore_rows(resource_id=rid, fields=fields, chunk=CHUNK))
    except (CkanError, StoreError):
        return error_page(request, unreadable)
    if fmt in ("csv", "json"):
        body = csv_chunks(chunks, fields, bom=bom == "1") if fmt == "csv" else json_chunks(chunks, fields)
        return _header(StreamingHttpResponse(body, content_type=CONTENT_TYPES[fmt]), file_name)
    out = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it when sent
    try:
        if fmt == "xlsx":
            sheet = _UNSAFE.sub(" ", resource.name).replace("[", " ").replace("]", " ")[:31].strip() or "Data"
            write_xlsx(chunks, fields, sheet, out)
        else:
            write_parquet(chunks, fields, out)
    except StoreError:
        out.close()
        return error_page(request, unreadable)
    out.seek(0)
    response = FileResponse(out, content_type=CONTENT_TYPES[fmt])
    return _header(response, file_name)
