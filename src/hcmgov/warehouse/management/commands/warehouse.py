"""``hcmgov warehouse refresh|status|query``: the analytics warehouse from the command line.

``refresh [--table T ...] [--full]`` extracts what changed into Parquet and prints a line per
partition as it goes, then a line per table; ``status`` prints each table's watermark, files and
rows and its last run; ``query "SELECT ..."`` prints the result of a SELECT over the files (DuckDB).
"""

from __future__ import annotations

from typing import Any

import duckdb
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from hcmgov.common import context
from hcmgov.common.errors import DomainError
from hcmgov.warehouse import selectors, services
from hcmgov.warehouse.storage import Store
from hcmgov.warehouse.tables import TABLES


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def format_table(columns: list[str], rows: list[tuple[Any, ...]]) -> list[str]:
    """Rows as an aligned text table (numbers right, text left)."""
    text = [["" if v is None else f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v) for v in row]
            for row in rows]  # fmt: skip
    widths = [max([len(c), *(len(r[i]) for r in text)]) for i, c in enumerate(columns)]
    right = [
        bool(rows) and all(isinstance(r[i], int | float) for r in rows if r[i] is not None) for i in range(len(columns))
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

    return [line(columns), line(["-" * w for w in widths]), *(line(r) for r in text)]


class Command(BaseCommand):
    help = 'Analytics warehouse: `refresh [--table T] [--full]`, `status`, `query "SELECT ..."`.'

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        refresh = sub.add_parser("refresh", help="Extract what changed since the last refresh into Parquet.")
        refresh.add_argument("--table", action="append", choices=sorted(TABLES), help="Only this table (repeatable).")
        refresh.add_argument("--full", action="store_true", help="Re-extract every partition, not only changed ones.")
        sub.add_parser("status", help="Each table's watermark, files and rows, and its last run.")
        query = sub.add_parser("query", help="Run a SELECT over the warehouse (DuckDB) and print the rows.")
        query.add_argument("sql", help='e.g. "SELECT agency_code, count(*) FROM dossiers GROUP BY ALL"')

    def handle(self, *args: Any, action: str = "", **options: Any) -> None:
        if action == "refresh":
            self._refresh(options.get("table") or None, bool(options.get("full")))
        elif action == "status":
            self._status()
        else:
            self._query(options["sql"])

    def _refresh(self, tables: list[str] | None, full: bool) -> None:
        def progress(step: services.Step) -> None:
            self.stdout.write(
                f"  {step.table} {step.year}-{step.month:02d}: {step.rows:,} dòng / rows ({step.done}/{step.total})"
            )
            self.stdout.flush()

        self.stdout.write(f"Kho dữ liệu / warehouse: {Store.from_settings().uri}" + (" (full)" if full else ""))
        failed = 0
        with context.acting_as(context.Actor.system("warehouse-refresh")):
            for name in tables or list(TABLES):  # a table's line as soon as it is done
                [r] = services.warehouse_refresh(tables=[name], full=full, progress=progress)
                if r.status == "ok":
                    self.stdout.write(
                        f"{r.table}: {r.partitions} phân vùng / partitions, {r.rows:,} dòng / rows, {r.seconds:.2f} s"
                        f" — {r.files} tệp / files, {r.total_rows:,} dòng / rows in all"
                    )
                else:
                    failed += r.status == "failed"
                    self.stdout.write(f"{r.table}: {r.status} — {r.error}")
        if failed:
            raise CommandError(f"{failed} bảng thất bại, tệp cũ giữ nguyên / {failed} table(s) failed, files unchanged")

    def _status(self) -> None:
        rows = []
        for table in selectors.warehouse_tables():
            last = selectors.warehouse_runs(table=table.name).first()
            rows.append((
                table.name, _when(table.watermark), table.files, table.rows, _when(table.refreshed_at),
                f"{last.status} {_when(last.started_at)}" if last else "—", table.last_error[:60] or "",
            ))  # fmt: skip
        columns = ["table", "watermark", "files", "rows", "refreshed", "last run", "error"]
        self.stdout.write("\n".join(format_table(columns, rows)))

    def _query(self, sql: str) -> None:
        try:
            result = selectors.warehouse_query(sql=sql)
        except DomainError as exc:
            raise CommandError(f"{exc.message.vi} / {exc.message.en}") from exc
        except duckdb.Error as exc:  # a mistake in the SQL: DuckDB says what
            raise CommandError(str(exc)) from exc
        self.stdout.write("\n".join(format_table(result.columns, result.rows)))
        more = f" (cắt ở {len(result.rows):,} / cut at {len(result.rows):,})" if result.truncated else ""
        self.stdout.write(f"({len(result.rows):,} dòng / rows){more}")
