"""The readings' write path and their storage's upkeep: batches stored once, rollups kept up to
date from each batch, daily partitions made ahead and dropped past retention.

PostgreSQL: a batch is copied (``COPY``) into a temporary staging table, then one statement moves it
into the partitioned ``iot_reading`` (``ON CONFLICT DO NOTHING``: a redelivered reading stores
nothing) and folds the rows it actually inserted into the rollups (an upsert). One round trip for
the data, one for the statement, whatever the batch's size. SQLite (the embedded default): the
same through a temporary table filled by ``executemany``, ``INSERT OR IGNORE … RETURNING``, and the
rollups folded in Python. Both run in the caller's transaction: the ingester acknowledges its MQTT
messages only after that transaction committed.

Buckets: 5 minutes and 1 hour from the epoch; a day is a day of Asia/Ho_Chi_Minh (UTC+7, no daylight
saving), the day the city's daily AQI is about.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.utils import DatabaseError

# (device_id, attribute, observed_at (aware, UTC), value, received_at)
Row = tuple[int, str, dt.datetime, float, dt.datetime]
Key = tuple[int, str, dt.datetime]

PERIODS = (300, 3600, 86400)
VN_OFFSET = 7 * 3600  # Asia/Ho_Chi_Minh is UTC+7 all year
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS iot_reading_stage (
    device_id bigint NOT NULL,
    attribute varchar(16) NOT NULL,
    observed_at timestamptz NOT NULL,
    value double precision NOT NULL,
    received_at timestamptz NOT NULL
) ON COMMIT DELETE ROWS
"""

# the rows inserted (not the duplicates) folded into the three levels of rollups, in one statement;
# the upsert's rows are sorted so that two ingesters touching the same buckets lock them in the
# same order (no deadlock)
_MOVE = """
WITH ins AS (
    INSERT INTO iot_reading (device_id, attribute, observed_at, value, received_at)
    SELECT device_id, attribute, observed_at, value, received_at FROM iot_reading_stage
    ON CONFLICT DO NOTHING
    RETURNING device_id, attribute, observed_at, value
), agg AS (
    SELECT ins.device_id, ins.attribute, p.period, date_bin(p.width, ins.observed_at, p.origin) AS bucket,
           count(*) AS n, sum(ins.value) AS total, min(ins.value) AS minimum, max(ins.value) AS maximum,
           (array_agg(ins.value ORDER BY ins.observed_at DESC))[1] AS last_value, max(ins.observed_at) AS last_at
    FROM ins CROSS JOIN (VALUES
        (300, interval '5 minutes', timestamptz '1970-01-01 00:00+00'),
        (3600, interval '1 hour', timestamptz '1970-01-01 00:00+00'),
        (86400, interval '1 day', timestamptz '1970-01-01 00:00+07')
    ) AS p(period, width, origin)
    GROUP BY 1, 2, 3, 4
), up AS (
    INSERT INTO iot_rollup AS r (device_id, attribute, period, bucket, "count", total, minimum, maximum,
                                 last_value, last_at)
    SELECT * FROM agg ORDER BY 1, 2, 3, 4
    ON CONFLICT (device_id, attribute, period, bucket) DO UPDATE SET
        "count" = r."count" + EXCLUDED."count",
        total = r.total + EXCLUDED.total,
        minimum = LEAST(r.minimum, EXCLUDED.minimum),
        maximum = GREATEST(r.maximum, EXCLUDED.maximum),
        last_value = CASE WHEN EXCLUDED.last_at >= r.last_at THEN EXCLUDED.last_value ELSE r.last_value END,
        last_at = GREATEST(r.last_at, EXCLUDED.last_at)
)
"""

_SQLITE_UPSERT = """
INSERT INTO iot_rollup (device_id, attribute, period, bucket, "count", total, minimum, maximum, last_value, last_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (device_id, attribute, period, bucket) DO UPDATE SET
    "count" = "count" + excluded."count",
    total = total + excluded.total,
    minimum = min(minimum, excluded.minimum),
    maximum = max(maximum, excluded.maximum),
    last_value = CASE WHEN excluded.last_at >= last_at THEN excluded.last_value ELSE last_value END,
    last_at = max(last_at, excluded.last_at)
"""

_known_partitions: dict[str, set[dt.date]] = {}


def bucket_start(when: dt.datetime, period: int) -> dt.datetime:
    """The start of the rollup bucket of ``period`` seconds that holds ``when``."""
    seconds = int((when - _EPOCH).total_seconds() // 1)
    shift = VN_OFFSET if period == 86400 else 0
    start = (seconds + shift) // period * period - shift
    return _EPOCH + dt.timedelta(seconds=start)


def readings_write(rows: Sequence[Row], *, keys: bool = False, alias: str = DEFAULT_DB_ALIAS) -> int | set[Key]:
    """Store ``rows`` (a reading already stored is left as it is) and fold the new ones into the
    rollups, in the caller's transaction (one is opened if there is none). Returns how many were
    new, or with ``keys`` the (device_id, attribute, observed_at) of the new ones."""
    if not rows:
        return set() if keys else 0
    db: Any = connections[alias]
    if db.vendor == "postgresql":
        partitions_ensure(days={r[2].astimezone(dt.UTC).date() for r in rows}, alias=alias)
        with transaction.atomic(using=alias):
            return _write_postgresql(db, rows, keys)
    with transaction.atomic(using=alias):
        return _write_sqlite(db, rows, keys)


def _write_postgresql(db: Any, rows: Sequence[Row], keys: bool) -> int | set[Key]:
    db.ensure_connection()
    raw = db.connection
    with raw.cursor() as cursor:
        # every time: a transaction rolled back takes the table it created with it
        cursor.execute(_STAGE)
        with cursor.copy(
            "COPY iot_reading_stage (device_id, attribute, observed_at, value, received_at) FROM STDIN"
        ) as copy:
            copy.write(_copy_text(rows))
        if keys:
            cursor.execute(_MOVE + "SELECT device_id, attribute, observed_at FROM ins")  # noqa: S608 - constants
            return {(int(d), str(a), t) for d, a, t in cursor.fetchall()}
        cursor.execute(_MOVE + "SELECT count(*) FROM ins")  # noqa: S608 - constants
        return int(cursor.fetchone()[0])


def _copy_text(rows: Sequence[Row]) -> bytes:
    """The rows in COPY's text format, built here rather than by psycopg's ``write_row`` (a third of
    the ingester's time in the profile, adapting each value): the attribute codes are the
    catalogue's (no tab, newline or backslash), values finite floats, times formatted once per
    observation (the readings of one observation share their datetime)."""
    times: dict[dt.datetime, str] = {}
    lines = []
    for device_id, attribute, observed_at, value, received_at in rows:
        t = times.get(observed_at)
        if t is None:
            t = times[observed_at] = observed_at.isoformat()
        r = times.get(received_at)
        if r is None:
            r = times[received_at] = received_at.isoformat()
        lines.append(f"{device_id}\t{attribute}\t{t}\t{value!r}\t{r}\n")
    return "".join(lines).encode()


def _sqlite_time(value: dt.datetime) -> str:
    # Django's own format for SQLite datetime columns (naive UTC text), so the ORM reads them back
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")


def _write_sqlite(db: Any, rows: Sequence[Row], keys: bool) -> int | set[Key]:
    by_key: dict[tuple[int, str, str], Row] = {}
    for row in rows:
        by_key.setdefault((row[0], row[1], _sqlite_time(row[2])), row)
    with db.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS iot_reading_stage (device_id integer, attribute text, observed_at text,"
            " value real, received_at text)"
        )
        cursor.execute("DELETE FROM iot_reading_stage")
        cursor.executemany(
            "INSERT INTO iot_reading_stage VALUES (%s, %s, %s, %s, %s)",
            [(k[0], k[1], k[2], r[3], _sqlite_time(r[4])) for k, r in by_key.items()],
        )
        cursor.execute(
            "INSERT OR IGNORE INTO iot_reading (device_id, attribute, observed_at, value, received_at)"
            " SELECT device_id, attribute, observed_at, value, received_at FROM iot_reading_stage"
            " RETURNING device_id, attribute, observed_at"
        )
        new = [by_key[(int(d), str(a), str(t))] for d, a, t in cursor.fetchall()]
        cursor.execute("DELETE FROM iot_reading_stage")
        cursor.executemany(_SQLITE_UPSERT, [_sqlite_rollup(v) for v in rollups_fold(new)])
    if keys:
        return {(r[0], r[1], r[2]) for r in new}
    return len(new)


def rollups_fold(rows: Iterable[Row]) -> list[tuple[Any, ...]]:
    """The rollup rows of ``rows`` (Python's fold, as the PostgreSQL statement does it):
    (device_id, attribute, period, bucket, count, total, minimum, maximum, last_value, last_at)."""
    acc: dict[tuple[int, str, int, dt.datetime], list[Any]] = {}
    for device_id, attribute, observed_at, value, _received in rows:
        for period in PERIODS:
            key = (device_id, attribute, period, bucket_start(observed_at, period))
            cell = acc.get(key)
            if cell is None:
                acc[key] = [1, value, value, value, value, observed_at]
                continue
            cell[0] += 1
            cell[1] += value
            cell[2] = min(cell[2], value)
            cell[3] = max(cell[3], value)
            if observed_at >= cell[5]:
                cell[4], cell[5] = value, observed_at
    return [(*key, *cell) for key, cell in sorted(acc.items())]


def _sqlite_rollup(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*row[:3], _sqlite_time(row[3]), *row[4:9], _sqlite_time(row[9]))


# --- partitions and retention -----------------------------------------------------------------


def partition_name(day: dt.date) -> str:
    return f"iot_reading_{day:%Y%m%d}"


def partitions_ensure(*, days: Iterable[dt.date], alias: str = DEFAULT_DB_ALIAS) -> list[dt.date]:
    """Create the daily partitions (UTC days) of the readings that do not exist yet (PostgreSQL;
    nothing elsewhere). Known ones are remembered per process; two ingesters creating the same one
    at once is harmless. Returns the days created or found."""
    db: Any = connections[alias]
    if db.vendor != "postgresql":
        return []
    known = _known_partitions.setdefault(alias, set())
    # inside a transaction the cache may hold a partition a rolled-back transaction made: look
    todo = sorted(set(days) if db.in_atomic_block else set(days) - known)
    if not todo:
        return []
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'",
            [[partition_name(d) for d in todo]],
        )
        exists = {r[0] for r in cursor.fetchall()}
    known.update(d for d in todo if partition_name(d) in exists)
    todo = [d for d in todo if partition_name(d) not in exists]
    for day in todo:
        name = partition_name(day)
        sql = (
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF iot_reading "  # name from a date, not input
            f"FOR VALUES FROM ('{day.isoformat()} 00:00+00') TO ('{(day + dt.timedelta(days=1)).isoformat()} 00:00+00')"
        )
        for attempt in range(3):
            try:
                with transaction.atomic(using=alias), db.cursor() as cursor:
                    cursor.execute(sql)
                break
            except DatabaseError:  # created by another ingester between the check and the create
                if attempt == 2:
                    raise
        known.add(day)
    return todo


def partitions_list(*, alias: str = DEFAULT_DB_ALIAS) -> list[dt.date]:
    """The days that have a partition (PostgreSQL)."""
    db: Any = connections[alias]
    if db.vendor != "postgresql":
        return []
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'iot_reading'"
        )
        names = [r[0] for r in cursor.fetchall()]
    return sorted(dt.date(int(n[-8:-4]), int(n[-4:-2]), int(n[-2:])) for n in names if n[-8:].isdigit())


def raw_cutoff(now: dt.datetime) -> dt.datetime:
    """Readings observed before this are past retention (start of the UTC day
    ``IOT_RETENTION_RAW_DAYS`` ago): refused on arrival, their partitions dropped."""
    day = (now.astimezone(dt.UTC) - dt.timedelta(days=settings.IOT_RETENTION_RAW_DAYS)).date()
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def storage_maintain(*, now: dt.datetime, alias: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    """Partitions for the days ahead (``IOT_PARTITIONS_AHEAD_DAYS``), raw readings past retention
    dropped (whole partitions on PostgreSQL), rollups past their level's retention deleted."""
    db: Any = connections[alias]
    cutoff = raw_cutoff(now)
    today = now.astimezone(dt.UTC).date()
    created = partitions_ensure(
        days=[today + dt.timedelta(days=n) for n in range(-1, settings.IOT_PARTITIONS_AHEAD_DAYS + 1)], alias=alias
    )
    dropped = 0
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            for day in partitions_list(alias=alias):
                if day + dt.timedelta(days=1) <= cutoff.date():
                    cursor.execute(f"DROP TABLE IF EXISTS {partition_name(day)}")  # name from a date
                    _known_partitions.get(alias, set()).discard(day)
                    dropped += 1
        else:
            cursor.execute("DELETE FROM iot_reading WHERE observed_at < %s", [_sqlite_time(cutoff)])
            dropped = cursor.rowcount
        deleted = 0
        for period, days in (
            (300, settings.IOT_RETENTION_5M_DAYS),
            (3600, settings.IOT_RETENTION_1H_DAYS),
            (86400, settings.IOT_RETENTION_1D_DAYS),
        ):
            if days <= 0:
                continue  # kept forever
            before = now - dt.timedelta(days=days)
            param = before if db.vendor == "postgresql" else _sqlite_time(before)
            cursor.execute("DELETE FROM iot_rollup WHERE period = %s AND bucket < %s", [period, param])
            deleted += cursor.rowcount
    return {"partitions_created": len(created), "raw_dropped": dropped, "rollups_deleted": deleted}
