"""DuckDB over the files: the figures dashboards use give what the database gives, and a query can
read the warehouse and nothing else."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from hcmgov.common.errors import DomainError
from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.dossiers import selectors as dossiers
from hcmgov.dossiers.models import Dossier
from hcmgov.exchange import selectors as exchange
from hcmgov.exchange.models import MessageLogRecord
from hcmgov.feedback.models import Rating
from hcmgov.payments.models import PaymentOrder
from hcmgov.warehouse import selectors, services
from hcmgov.warehouse.tests.conftest import UTC, read

pytestmark = pytest.mark.django_db


@pytest.fixture
def city_dossiers(submit_at):
    """Dossiers of two agencies over three months, some finished (early, on time, late), one
    finished on the last evening of October in UTC, which is November in the city."""
    other = AgencyFactory()
    made = []
    plan = [
        (dt.datetime(2026, 9, 2, 2, tzinfo=UTC), None, "", None),
        (dt.datetime(2026, 9, 20, 2, tzinfo=UTC), other, "early", dt.datetime(2026, 10, 1, 2, tzinfo=UTC)),
        (dt.datetime(2026, 10, 5, 2, tzinfo=UTC), None, "on_time", dt.datetime(2026, 10, 31, 20, tzinfo=UTC)),
        (dt.datetime(2026, 10, 6, 2, tzinfo=UTC), None, "late", dt.datetime(2026, 11, 20, 2, tzinfo=UTC)),
        (dt.datetime(2026, 10, 7, 2, tzinfo=UTC), other, "late", dt.datetime(2026, 10, 30, 2, tzinfo=UTC)),
        (dt.datetime(2026, 11, 2, 2, tzinfo=UTC), other, "", None),
        (dt.datetime(2026, 11, 30, 18, tzinfo=UTC), None, "", None),  # 1 December in the city
    ]
    for n, (when, agency, timeliness, finished) in enumerate(plan):
        extra = {"agency_code": agency.code} if agency else {}
        dossier = submit_at(when, idempotency_key=f"f{n}", **extra)
        if finished:
            Dossier.objects.filter(pk=dossier.pk).update(status=9, finished_at=finished, timeliness=timeliness)
        made.append(dossier)
    return made


def orm_by_agency_month(start=None):
    totals = defaultdict(lambda: {"submitted": 0, "finished": 0, "on_time": 0})
    for row in dossiers.dossier_figures_by_month(start=start):
        found = totals[(row["month"], row["agency_code"])]
        for key in ("submitted", "finished", "on_time"):
            found[key] += row[key]
    return {k: dict(v) for k, v in totals.items()}


def test_dossier_figures_from_the_files_equal_the_database(warehouse, city_dossiers):
    services.warehouse_refresh()
    for start in (None, dt.date(2026, 10, 6)):
        got = {
            (r["month"], r["agency_code"]): {k: r[k] for k in ("submitted", "finished", "on_time")}
            for r in selectors.dossier_figures_by_agency_month(start=start)
        }
        assert got == orm_by_agency_month(start)
    figures = selectors.dossier_figures_by_agency_month()
    assert {r["month"] for r in figures} == {"2026-09", "2026-10", "2026-11", "2026-12"}
    rates = [r["on_time_rate"] for r in figures if r["finished"]]
    assert rates
    assert all(0 <= r <= 1 for r in rates)


def test_payments_ratings_and_gateway_traffic(warehouse, city_dossiers, citizen):
    tz = timezone.get_default_timezone()
    for n, dossier in enumerate(city_dossiers):
        paid = dossier.submitted_at + dt.timedelta(hours=5)
        PaymentOrder.objects.create(
            dossier=dossier, dossier_code=dossier.code, procedure_code=dossier.procedure.code, agency=dossier.agency,
            payer=citizen, payer_name=citizen.full_name, stage="submission", lines=[], amount=10000 * (n + 1),
            state="paid" if n % 3 else "due", method="vnpay" if n % 2 else ("cash" if n % 3 else ""),
            paid_at=paid if n % 3 else None, created_at=dossier.submitted_at, cashier_label="Lê Thị Mai",
        )  # fmt: skip
        Rating.objects.create(
            dossier=dossier, dossier_code=dossier.code, applicant=citizen, agency=dossier.agency,
            procedure=dossier.procedure, score=1 + n % 5, comment="Chị Lan ở bàn số 3 rất nhiệt tình",
            rated_at=dossier.submitted_at + dt.timedelta(days=1),
        )  # fmt: skip
    base = dt.datetime(2026, 11, 3, 1, 10, tzinfo=UTC)
    for n in range(7):
        MessageLogRecord.objects.create(
            node="gw1", seq=n + 1, at=base + dt.timedelta(minutes=25 * n), request_id=f"r{n}",
            service="so-tp/hotich/khaisinh" if n % 2 else "bo-ca/csdlqg/dancu", method="GET",
            path="/cong-dan/079123456789", end_user="079123456789", status=500 if n == 3 else 200,
            duration_ms=10.0 * (n + 1), request_bytes=100, response_bytes=1000,
            request_sha256="0" * 64, response_sha256="0" * 64, prev_hash="0" * 64, hash="0" * 64,
        )  # fmt: skip
    reports = services.warehouse_refresh(tables=["payments", "ratings", "gateway_traffic"])
    assert [r.status for r in reports] == ["ok", "ok", "ok"]

    expected = {
        (m.strftime("%Y-%m"), a): (n, s)
        for m, a, n, s in PaymentOrder.objects.filter(state="paid")
        .annotate(m=TruncMonth("paid_at", tzinfo=tz))
        .values_list("m", "agency__code")
        .annotate(n=Count("id"), s=Sum("amount"))
        .values_list("m", "agency__code", "n", "s")
    }
    got = {(r["month"], r["agency_code"]): (r["orders"], r["amount"]) for r in selectors.payments_by_agency_month()}
    assert got == expected
    ratings = read(warehouse, "ratings")
    assert sorted((r["dossier_code"], r["score"]) for r in ratings) == sorted(
        Rating.objects.values_list("dossier_code", "score")
    )
    assert "comment" not in ratings[0]

    traffic = selectors.warehouse_query(
        sql="SELECT service, sum(calls), sum(errors), count(*) FROM gateway_traffic GROUP BY ALL ORDER BY service"
    )
    calls = exchange.service_calls(since=base, now=base + dt.timedelta(days=1))
    assert [(s, c, e) for s, c, e, _hours in traffic.rows] == [(c["service"], c["calls"], c["errors"]) for c in calls]
    # every 25 minutes from 01:10 UTC: each service was called in the hours 01, 02 and 03
    assert [hours for *_rest, hours in traffic.rows] == [3, 3]
    busiest = selectors.warehouse_query(
        sql="SELECT hour, calls, duration_ms_max FROM gateway_traffic WHERE service = 'bo-ca/csdlqg/dancu' "
        "ORDER BY calls DESC, hour LIMIT 1"
    )
    assert busiest.rows == [(dt.datetime(2026, 11, 3, 2, tzinfo=UTC), 2, 50.0)]
    assert not [v for row in read(warehouse, "gateway_traffic") for v in row.values() if "079123456789" in str(v)]


def test_queries_read_the_warehouse_and_nothing_else(warehouse, city_dossiers, settings):
    services.warehouse_refresh(tables=["dossiers"])
    result = selectors.warehouse_query(sql="SELECT year, month, count(*) FROM dossiers GROUP BY ALL ORDER BY 1, 2")
    assert result.columns == ["year", "month", "count_star()"]
    assert result.rows == [(2026, 9, 2), (2026, 10, 3), (2026, 11, 1), (2026, 12, 1)]  # 30 Nov 18:00 UTC: December
    assert selectors.warehouse_query(sql="SELECT count(*) FROM payments").rows == [(0,)]  # no file yet: empty
    for sql in ("COPY dossiers TO '/tmp/out.csv'", "SELECT 1; SELECT 2", "CREATE TABLE t AS SELECT 1", "ATTACH 'x.db'"):
        with pytest.raises(DomainError) as refused:
            selectors.warehouse_query(sql=sql)
        assert refused.value.code == "warehouse_select_only"
    with pytest.raises(Exception, match="disabled by configuration"):
        selectors.warehouse_query(sql="SELECT * FROM read_csv('/etc/passwd')")
    con = selectors.warehouse_connect()
    with pytest.raises(Exception, match="locked"):
        con.execute("SET enable_external_access = true")
    settings.WAREHOUSE_QUERY_ROWS_MAX = 3
    cut = selectors.warehouse_query(sql="SELECT code FROM dossiers")
    assert (len(cut.rows), cut.truncated) == (3, True)


def test_a_long_query_is_interrupted(warehouse, settings):
    settings.WAREHOUSE_QUERY_TIMEOUT = 0.2
    with pytest.raises(DomainError) as stopped:
        selectors.warehouse_query(sql="SELECT count(*) FROM range(100000000000) a")
    assert stopped.value.code == "warehouse_query_timeout"


def test_query_command_prints_a_table(warehouse, city_dossiers, capsys):
    services.warehouse_refresh(tables=["dossiers"])
    call_command("warehouse", "query", "SELECT agency_code, count(*) AS n FROM dossiers GROUP BY ALL ORDER BY n")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["agency_code", "n"]
    assert lines[-1] == "(2 dòng / rows)"
    assert sorted(int(line.split()[-1]) for line in lines[2:-1]) == [3, 4]
