"""The warehouse's files: Hive-partitioned Parquet under ``settings.WAREHOUSE_URL``.

Layout: ``<root>/<table>/year=<YYYY>/month=<M>/part-0.parquet`` — one file per partition, so that
replacing a partition is replacing one file. A partition is written whole under a hidden temporary
name in its own folder (``.part-0.parquet.<run>.tmp``: DuckDB's ``*.parquet`` glob, Spark, Trino and
ClickHouse all skip names starting with a dot) and moved over the old file only once every
partition of the refresh is written. On a local folder the move is a ``rename(2)``, atomic: a
reader sees the old file or the new one, never half of one. On S3 a move is a server-side copy,
and an object appears whole or not at all, so the same holds per partition.

The filesystem is pyarrow's (``FileSystem.from_uri``): a local folder in the embedded default, S3
(or MinIO, through ``s3://bucket/prefix?endpoint_override=...``) at city scale.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from django.conf import settings

from hcmgov.warehouse.tables import Table

FILE = "part-0.parquet"


@dataclass(frozen=True)
class Store:
    """The warehouse's root on a pyarrow filesystem."""

    fs: pafs.FileSystem
    root: str
    uri: str

    @classmethod
    def from_settings(cls) -> Store:
        uri = str(settings.WAREHOUSE_URL)
        fs, root = pafs.FileSystem.from_uri(uri)
        return cls(fs=fs, root=root.rstrip("/"), uri=uri)

    @property
    def local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def table_dir(self, table: str) -> str:
        return f"{self.root}/{table}"

    def partition_dir(self, table: str, year: int, month: int) -> str:
        return f"{self.root}/{table}/year={year}/month={month}"

    def partition_file(self, table: str, year: int, month: int) -> str:
        return f"{self.partition_dir(table, year, month)}/{FILE}"

    def partitions(self, table: str) -> dict[tuple[int, int], str]:
        """The table's partitions that have a file: (year, month) → path."""
        selector = pafs.FileSelector(self.table_dir(table), recursive=True, allow_not_found=True)
        found: dict[tuple[int, int], str] = {}
        for info in self.fs.get_file_info(selector):
            if info.type != pafs.FileType.File or info.base_name != FILE:
                continue
            parts = dict(p.split("=", 1) for p in info.path.split("/") if "=" in p)
            if "year" in parts and "month" in parts:
                found[(int(parts["year"]), int(parts["month"]))] = info.path
        return found

    def write(self, table: Table, year: int, month: int, rows: Iterable[tuple[Any, ...]], *, run: str) -> Staged:
        """Write one partition under its temporary name, a row group per ``WAREHOUSE_BATCH_ROWS``
        rows (memory stays bounded by one batch). No row: nothing written (the partition goes)."""
        folder = self.partition_dir(table.name, year, month)
        temp = f"{folder}/.{FILE}.{run}.tmp"
        count = 0
        writer: pq.ParquetWriter | None = None
        try:
            for batch in _batches(rows, table, int(settings.WAREHOUSE_BATCH_ROWS)):
                if writer is None:
                    self.fs.create_dir(folder, recursive=True)
                    writer = pq.ParquetWriter(
                        temp,
                        table.schema,
                        filesystem=self.fs,
                        compression=str(settings.WAREHOUSE_COMPRESSION),
                        version="2.6",
                        coerce_timestamps="us",
                        write_statistics=True,
                    )
                writer.write_batch(batch)
                count += batch.num_rows
        except BaseException:
            if writer is not None:
                writer.close()
            self.discard(temp)
            raise
        if writer is None:
            return Staged(year=year, month=month, temp=None, final=self.partition_file(table.name, year, month), rows=0)
        writer.close()
        return Staged(year=year, month=month, temp=temp, final=self.partition_file(table.name, year, month), rows=count)

    def commit(self, staged: Staged) -> None:
        """Put a written partition in place of the old one (or remove the partition if it is empty)."""
        if staged.temp is None:
            self.remove(staged.final)
        else:
            self.fs.move(staged.temp, staged.final)

    def remove(self, path: str) -> None:
        if self.fs.get_file_info(path).type == pafs.FileType.File:
            self.fs.delete_file(path)

    def discard(self, temp: str) -> None:
        with contextlib.suppress(OSError):  # the cleaning up after a failure must not hide the failure
            self.remove(temp)

    def count(self, table: str) -> tuple[int, int]:
        """(files, rows) of the table, from the files' footers."""
        paths = self.partitions(table).values()
        return len(paths), sum(pq.read_metadata(p, filesystem=self.fs).num_rows for p in paths)


@dataclass(frozen=True)
class Staged:
    """A partition written under its temporary name, not yet in place."""

    year: int
    month: int
    temp: str | None  # None: the partition has no row any more
    final: str
    rows: int


def _batches(rows: Iterable[tuple[Any, ...]], table: Table, size: int) -> Iterator[pa.RecordBatch]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(table.convert(row))
        if len(batch) >= size:
            yield _record_batch(batch, table.schema)
            batch = []
    if batch:
        yield _record_batch(batch, table.schema)


def _record_batch(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True))
    arrays = [pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
