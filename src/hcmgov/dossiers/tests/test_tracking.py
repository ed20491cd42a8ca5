"""Public tracking (``selectors.dossier_track``): one prepared statement on PostgreSQL, two elsewhere,
the same answer on both."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from hcmgov.common.errors import NotFound
from hcmgov.dossiers import selectors
from hcmgov.dossiers.models import DossierEvent, Status

pytestmark = pytest.mark.django_db


def test_tracking_shows_the_dossier_and_its_events_in_order(submit, django_assert_num_queries):
    dossier, _ = submit()
    start = dossier.submitted_at
    # out of insertion order, a tie on ``at`` (broken by id), microseconds, a note in Vietnamese
    DossierEvent.objects.create(
        dossier=dossier, at=start + dt.timedelta(hours=3), status_from=1, status_to=Status.RECEIVED,
        actor_label="Cán bộ", note="Đã nhận \"đủ\" hồ sơ",
    )  # fmt: skip
    DossierEvent.objects.create(
        dossier=dossier, at=start + dt.timedelta(hours=1, microseconds=250), status_from=1, status_to=1,
        actor_label="Cán bộ", note="",
    )  # fmt: skip
    DossierEvent.objects.create(
        dossier=dossier, at=start + dt.timedelta(hours=3), status_from=2, status_to=Status.RECEIVED,
        actor_label="Cán bộ", note="",
    )  # fmt: skip

    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        tracked = selectors.dossier_track(code=f" {dossier.code} ", secret=dossier.tracking_secret.lower())

    dossier.refresh_from_db()
    assert (tracked.code, tracked.status) == (dossier.code, dossier.status)
    assert (tracked.submitted_at, tracked.due_at) == (dossier.submitted_at, dossier.due_at)
    assert tracked.submitted_at.utcoffset() is not None
    assert tracked.procedure == {"name": dossier.procedure.name, "name_en": dossier.procedure.name_en}
    assert tracked.agency == {"name": dossier.agency.name, "name_en": dossier.agency.name_en}
    expected = DossierEvent.objects.filter(dossier=dossier).order_by("at", "id")
    assert [(e.at, e.status_from, e.status_to, e.note) for e in tracked.events] == [
        (e.at, e.status_from, e.status_to, e.note) for e in expected
    ]
    assert len(tracked.events) == 4
    assert all(e.at.utcoffset() is not None for e in tracked.events)


def test_tracking_needs_the_right_secret(submit):
    dossier, _ = submit()
    for secret in ("WRONG123", "", "Đ" * 8, dossier.tracking_secret[:-1]):
        with pytest.raises(NotFound):
            selectors.dossier_track(code=dossier.code, secret=secret)
    with pytest.raises(NotFound):
        selectors.dossier_track(code="NO-SUCH", secret=dossier.tracking_secret)


def test_the_tracking_statement_is_prepared_once_per_connection(submit):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements: PostgreSQL only")
    dossier, _ = submit()
    for _ in range(3):
        selectors.dossier_track(code=dossier.code, secret=dossier.tracking_secret)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%json_agg%"])
        assert cursor.fetchone() == (1,)
