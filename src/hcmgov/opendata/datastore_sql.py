"""What ``datastore_search_sql`` lets through: exactly one read-only SELECT over datastore tables.

The SQL is parsed with sqlglot (PostgreSQL's dialect, what CKAN users write), checked, and the
checked tree is what runs (rendered again for the engine: the tables qualified with the schema
``datastore`` on PostgreSQL, the dialect turned into SQLite's on the embedded default), so nothing
the check did not see reaches the database. Refused: anything but one SELECT (or a UNION of
SELECTs, with CTEs); ``SELECT … INTO``, ``FOR UPDATE``, parameters; a table that is not a
datastore table named by its resource id (CKAN's ``"<uuid>"``), or one qualified by a schema;
table functions; any function outside :data:`FUNCTIONS` (so no ``pg_*``, no file, network or
setting functions); casts outside :data:`TYPES` (no ``regclass``/``oid`` look-ups into the
catalogue). Behind the check the store runs it read-only with a time and a row limit
(``datastore_db.Store.run_sql``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

MAX_SQL = 20000
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# sqlglot's names for the functions allowed (aggregates, windows, text, numbers, dates, JSON reads)
FUNCTIONS = frozenset({
    "COUNT", "SUM", "AVG", "MIN", "MAX", "STDDEV", "STDDEV_POP", "STDDEV_SAMP", "VARIANCE", "VARIANCE_POP",
    "MEDIAN", "PERCENTILE_CONT", "PERCENTILE_DISC", "CORR", "COVAR_POP", "COVAR_SAMP", "ARRAY_AGG",
    "GROUP_CONCAT", "LOGICAL_AND", "LOGICAL_OR", "ROW_NUMBER", "RANK", "DENSE_RANK", "NTILE", "LAG", "LEAD",
    "FIRST_VALUE", "LAST_VALUE", "PERCENT_RANK", "CUME_DIST", "COALESCE", "NULLIF", "GREATEST", "LEAST", "CASE",
    "IF", "CAST", "TRY_CAST", "LOWER", "UPPER", "INITCAP", "LENGTH", "TRIM", "SUBSTRING", "LEFT", "RIGHT",
    "CONCAT", "CONCAT_WS", "REPLACE", "STR_POSITION", "SPLIT_PART", "PAD", "REGEXP_REPLACE", "REGEXP_LIKE",
    "REVERSE", "ABS", "CEIL", "FLOOR", "ROUND", "TRUNC", "SIGN", "SQRT", "POWER", "EXP", "LN", "LOG", "MOD",
    "EXTRACT", "TIMESTAMP_TRUNC", "DATE_TRUNC", "CURRENT_DATE", "CURRENT_TIMESTAMP", "TIME_TO_STR",
    "STR_TO_DATE", "STR_TO_TIME", "TO_NUMBER", "DATE_DIFF", "DATE_ADD", "DATE_SUB", "JSON_EXTRACT",
    "JSON_EXTRACT_SCALAR", "JSONB_EXTRACT", "JSONB_EXTRACT_SCALAR",
})  # fmt: skip
# functions sqlglot does not know by class (exp.Anonymous), by name
ANONYMOUS = frozenset({"every", "char_length", "strpos", "lpad", "rpad", "btrim", "ltrim", "rtrim", "date_part",
                       "to_char", "to_date", "to_timestamp", "age", "jsonb_typeof", "json_typeof"})  # fmt: skip
TYPES = frozenset({
    "TEXT", "VARCHAR", "CHAR", "NCHAR", "NVARCHAR", "INT", "SMALLINT", "BIGINT", "TINYINT", "DECIMAL", "DOUBLE",
    "FLOAT", "BOOLEAN", "DATE", "TIMESTAMP", "TIMESTAMPTZ", "DATETIME", "JSON", "JSONB", "INTERVAL",
})  # fmt: skip
FORBIDDEN = (
    exp.Into, exp.Lock, exp.Parameter, exp.Placeholder, exp.Command, exp.Set, exp.Pragma, exp.Lateral,
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Copy,
)  # fmt: skip


class Refused(Exception):
    """Why the SQL is refused (Vietnamese / English)."""


@dataclass
class Checked:
    tree: exp.Expression
    tables: list[str]  # resource ids, in the order they first appear


def check(sql: str) -> Checked:
    """Parse and check ``sql``; raise :class:`Refused` with the reason."""
    if not isinstance(sql, str) or not sql.strip():
        raise Refused("Thiếu câu SQL / Missing SQL")
    if len(sql) > MAX_SQL:
        raise Refused(f"Câu SQL quá dài / SQL longer than {MAX_SQL} characters")
    try:
        statements = [s for s in sqlglot.parse(sql, read="postgres") if s is not None]
    except Exception as exc:
        why = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise Refused(f"Câu SQL không đọc được / Cannot parse SQL: {why}") from None
    if len(statements) != 1:
        raise Refused("Chỉ được một câu SELECT / Exactly one SELECT statement is allowed")
    tree = statements[0]
    if not isinstance(tree, exp.Select | exp.Union | exp.Intersect | exp.Except):
        raise Refused("Chỉ được câu SELECT / Only SELECT statements are allowed")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    tables: list[str] = []
    for node in tree.walk():
        if isinstance(node, FORBIDDEN):
            raise Refused(f"Không được dùng {type(node).__name__} / Not allowed: {type(node).__name__}")
        if isinstance(node, exp.Table):
            _check_table(node, ctes, tables)
        elif isinstance(node, exp.Anonymous):
            if str(node.name).lower() not in ANONYMOUS:
                raise Refused(f"Không được dùng hàm {node.name} / Function not allowed: {node.name}")
        elif isinstance(node, exp.Func) and node.sql_name() not in FUNCTIONS:
            raise Refused(f"Không được dùng hàm {node.sql_name()} / Function not allowed: {node.sql_name()}")
        elif isinstance(node, exp.DataType) and _type_name(node) not in TYPES:
            raise Refused(f"Không được đổi sang kiểu {_type_name(node)} / Type not allowed: {_type_name(node)}")
    if not tables:
        raise Refused("Câu SQL phải đọc một bảng dữ liệu / The SQL must read a datastore table")
    return Checked(tree, tables)


def _type_name(node: exp.DataType) -> str:
    return str(getattr(node.this, "name", node.this)).upper()


def _check_table(node: exp.Table, ctes: set[str], tables: list[str]) -> None:
    if not isinstance(node.this, exp.Identifier) or node.args.get("db") or node.args.get("catalog"):
        raise Refused("Chỉ được đọc bảng dữ liệu theo mã tài nguyên / Only datastore tables, by resource id")
    name = node.this.name
    if not node.this.quoted and name.lower() in ctes:
        return
    if node.this.quoted and name in ctes:
        return
    if not UUID.match(name):
        raise Refused(f'Không có bảng "{name}" / Table "{name}" does not exist')
    if name not in tables:
        tables.append(name)


def render(checked: Checked, *, vendor: str, schema: str) -> str:
    """The checked tree as the engine's SQL, tables qualified where the engine keeps them apart."""
    tree = checked.tree.copy()
    for node in tree.find_all(exp.Table):
        name = node.this.name
        if name in checked.tables:
            node.set("this", exp.to_identifier(name, quoted=True))
            if vendor == "postgresql":
                node.set("db", exp.to_identifier(schema, quoted=True))
    return tree.sql(dialect="postgres" if vendor == "postgresql" else "sqlite")
