"""The readings' storage: a batch stored once, rollups folded from the new rows only (late and
out-of-order readings included), partitions and retention."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from hcmgov.iot import selectors, storage
from hcmgov.iot.models import Reading, Rollup
from hcmgov.iot.tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 27, 16, 58, tzinfo=UTC)  # 23:58 in Ho Chi Minh City


def _rows(device_id, values):
    received = dt.datetime.now(UTC)
    return [(device_id, attr, when, value, received) for attr, when, value in values]


def test_bucket_starts():
    when = dt.datetime(2026, 11, 27, 16, 58, 31, tzinfo=UTC)
    assert storage.bucket_start(when, 300) == dt.datetime(2026, 11, 27, 16, 55, tzinfo=UTC)
    assert storage.bucket_start(when, 3600) == dt.datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    # the day of Ho Chi Minh City: 27 Nov 00:00 +07 = 26 Nov 17:00 UTC
    assert storage.bucket_start(when, 86400) == dt.datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
    after = dt.datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    assert storage.bucket_start(after, 86400) == after


def test_duplicates_are_dropped_and_counted_once_in_rollups():
    device = DeviceFactory()
    rows = _rows(device.id, [("pm25", T0, 10.0), ("pm25", T0 + dt.timedelta(minutes=1), 20.0)])
    assert storage.readings_write(rows) == 2
    again = [*rows, *_rows(device.id, [("pm25", T0 + dt.timedelta(minutes=1), 99.0)])]
    assert storage.readings_write(again, keys=True) == set()
    assert Reading.objects.filter(device=device).count() == 2
    hour = Rollup.objects.get(device=device, attribute="pm25", period=3600)
    assert (hour.count, hour.total, hour.minimum, hour.maximum, hour.last_value) == (2, 30.0, 10.0, 20.0, 20.0)


def test_keys_name_the_new_readings_only():
    device = DeviceFactory()
    first = _rows(device.id, [("pm25", T0, 10.0)])
    storage.readings_write(first)
    both = [*first, *_rows(device.id, [("pm10", T0, 30.0)])]
    assert storage.readings_write(both, keys=True) == {(device.id, "pm10", T0)}


def test_late_and_out_of_order_readings_keep_rollups_right():
    """Computed by hand: 5-minute buckets 16:55 and 17:00 UTC; hours 16:00 and 17:00; the days of
    27 Nov (until 17:00 UTC) and 28 Nov (local)."""
    device = DeviceFactory()
    m = dt.timedelta(minutes=1)
    # arrives first: 17:01 and 16:59
    storage.readings_write(_rows(device.id, [("pm25", T0 + 3 * m, 40.0), ("pm25", T0 + m, 12.0)]))
    # late, out of order: 16:58, then 17:02 and 16:56 in one batch, then 16:59 again (a duplicate)
    storage.readings_write(_rows(device.id, [("pm25", T0, 8.0)]))
    storage.readings_write(_rows(device.id, [("pm25", T0 + 4 * m, 50.0), ("pm25", T0 - 2 * m, 30.0)]))
    storage.readings_write(_rows(device.id, [("pm25", T0 + m, 999.0)]))

    def cell(period, bucket):
        r = Rollup.objects.get(device=device, attribute="pm25", period=period, bucket=bucket)
        return r.count, r.total, r.minimum, r.maximum, r.last_value, r.last_at

    five_a = dt.datetime(2026, 11, 27, 16, 55, tzinfo=UTC)
    five_b = dt.datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    # 16:56=30, 16:58=8, 16:59=12 → last is 16:59's 12
    assert cell(300, five_a) == (3, 50.0, 8.0, 30.0, 12.0, T0 + m)
    # 17:01=40, 17:02=50
    assert cell(300, five_b) == (2, 90.0, 40.0, 50.0, 50.0, T0 + 4 * m)
    assert cell(3600, dt.datetime(2026, 11, 27, 16, tzinfo=UTC)) == (3, 50.0, 8.0, 30.0, 12.0, T0 + m)
    assert cell(3600, dt.datetime(2026, 11, 27, 17, tzinfo=UTC)) == (2, 90.0, 40.0, 50.0, 50.0, T0 + 4 * m)
    assert cell(86400, dt.datetime(2026, 11, 26, 17, tzinfo=UTC)) == (3, 50.0, 8.0, 30.0, 12.0, T0 + m)
    assert cell(86400, five_b) == (2, 90.0, 40.0, 50.0, 50.0, T0 + 4 * m)
    assert [r.value for r in selectors.readings_list(device=device, attribute="pm25")] == [30, 8, 12, 40, 50]


def test_python_fold_matches():
    rows = _rows(1, [("o3", T0, 5.0), ("o3", T0 - dt.timedelta(hours=1), 7.0)])
    folded = storage.rollups_fold(rows)
    assert len(folded) == 5  # one local day for both
    assert folded[0][:5] == (1, "o3", 300, dt.datetime(2026, 11, 27, 15, 55, tzinfo=UTC), 1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")
def test_partitions_made_on_demand_and_dropped_past_retention(settings):
    device = DeviceFactory()
    now = dt.datetime.now(UTC)
    old = now - dt.timedelta(days=settings.IOT_RETENTION_RAW_DAYS + 3)
    storage.readings_write(_rows(device.id, [("pm25", old, 1.0), ("pm25", now, 2.0)]))
    days = storage.partitions_list()
    assert old.date() in days
    assert now.date() in days
    report = storage.storage_maintain(now=now)
    days = storage.partitions_list()
    assert old.date() not in days
    assert (now + dt.timedelta(days=settings.IOT_PARTITIONS_AHEAD_DAYS)).date() in days
    assert report["raw_dropped"] >= 1
    assert list(Reading.objects.filter(device=device).values_list("value", flat=True)) == [2.0]


def test_rollups_past_retention_are_deleted(settings):
    settings.IOT_RETENTION_5M_DAYS = 10
    device = DeviceFactory()
    now = dt.datetime.now(UTC)
    old = now - dt.timedelta(days=20)
    storage.readings_write(_rows(device.id, [("pm25", old, 1.0)]))
    storage.storage_maintain(now=now)
    assert set(Rollup.objects.filter(device=device).values_list("period", flat=True)) == {3600, 86400}
