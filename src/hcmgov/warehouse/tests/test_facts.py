# ruff: noqa: F811 - the fixtures imported from signing_fixtures are parameters of the tests
"""The facts the service-quality index needs about each dossier: how its applicant authenticated
to submit (recorded on the dossier at submission), whether the national portal holds it, its
electronic result and the applicant's data store, its check against the population database —
extracted into the dossiers' files, and a change of one of them rewriting the dossier's partition."""

from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq
import pytest
import time_machine
from django.utils import timezone

from hcmgov.common import context
from hcmgov.documents import pki, results
from hcmgov.documents.tests.signing_fixtures import no_tsa, pki_folder  # noqa: F401 - fixtures
from hcmgov.dossiers.models import Dossier
from hcmgov.exchange.models import PortalPush, PortalPushState
from hcmgov.registry import services as registry
from hcmgov.registry.models import CheckState, FactCheck, Registry
from hcmgov.warehouse import services, tables
from hcmgov.warehouse.tests.conftest import UTC, hide_fact_selectors, partition, read

pytestmark = pytest.mark.django_db

OCT = dt.datetime(2026, 10, 14, 3, 0, tzinfo=UTC)
NOV = dt.datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
FACTS = ("submitted_auth", "portal_synced", "result_electronic", "result_in_store", "population_checked")


def submit_as(submit, user, method: str, when: dt.datetime, key: str) -> Dossier:
    actor = context.Actor(user_id=user.pk, label="x", auth_method=method, assurance_level=context.MULTI_FACTOR)
    with time_machine.travel(when, tick=False), context.acting_as(actor):
        dossier, _ = submit(now=when, idempotency_key=key)
    return dossier


def push(dossier: Dossier, *, sent: bool, sequence: int = 1) -> PortalPush:
    now = timezone.now()
    return PortalPush.objects.create(
        dossier_code=dossier.code, sequence=sequence, payload={}, next_at=now, created_at=now,
        state=PortalPushState.SENT if sent else PortalPushState.PENDING, sent_at=now if sent else None,
    )  # fmt: skip


def check(dossier: Dossier, state: str) -> FactCheck:
    registry.registries_sync()
    return FactCheck.objects.create(
        dossier_id=dossier.pk, dossier_code=dossier.code, fact="full_name", state=state,
        registry=Registry.objects.get(code="population"), checked_at=timezone.now(),
    )  # fmt: skip


def test_the_submission_records_how_the_applicant_authenticated(submit, citizen, receiver):
    by_eid = submit_as(submit, citizen, context.AuthMethod.EID, OCT, "a")
    by_password = submit_as(submit, citizen, context.AuthMethod.PASSWORD_TOTP, OCT, "b")
    for_them = submit_as(submit, receiver, context.AuthMethod.PASSWORD_TOTP, OCT, "c")  # someone else files it
    unrecorded, _ = submit(now=OCT, idempotency_key="d")  # the system (a command, a test): no login
    assert [d.submitted_auth for d in (by_eid, by_password, for_them, unrecorded)] == ["eid", "password+totp", "", ""]
    assert Dossier.objects.get(pk=by_eid.pk).submitted_auth == "eid"


def test_the_facts_are_extracted_with_the_dossier(warehouse, submit, citizen, agency, pki_folder, no_tsa):
    d1 = submit_as(submit, citizen, context.AuthMethod.EID, OCT, "d1")
    d2 = submit_as(submit, citizen, context.AuthMethod.PASSWORD, OCT, "d2")
    d3, _ = submit(now=OCT, idempotency_key="d3")  # how its applicant logged in is not known
    push(d1, sent=True)
    push(d2, sent=False)  # waiting to be sent: the portal does not hold it yet
    pki.certificate_issue_demo(agency_id=agency.pk)
    results.result_issue(dossier_id=d1.pk)
    check(d2, CheckState.VERIFIED)
    check(d3, CheckState.UNVERIFIED)  # not compared yet: not a use of the database

    [report] = services.warehouse_refresh(tables=["dossiers"])
    assert report.status == "ok", report.error
    got = {r["code"]: tuple(r[c] for c in FACTS) for r in read(warehouse, "dossiers")}
    assert got == {
        d1.code: ("eid", True, True, True, False),
        d2.code: ("password", False, False, False, True),
        d3.code: (None, False, False, False, False),
    }
    assert pq.read_schema(partition(warehouse, "dossiers", 2026, 10)) == tables.TABLES["dossiers"].schema


def test_without_the_apps_selectors_the_facts_are_unknown(warehouse, submit, citizen, monkeypatch):
    hide_fact_selectors(monkeypatch)  # an app that offers no selector for its fact (yet)
    submit_as(submit, citizen, context.AuthMethod.EID, OCT, "d1")
    services.warehouse_refresh(tables=["dossiers"])
    [row] = read(warehouse, "dossiers")
    assert all(row[c] is None for c in FACTS[1:])  # NULL: unknown, never "no"


def test_with_them_a_dossier_nothing_happened_to_is_known_to_have_none(warehouse, submit, citizen):
    submit_as(submit, citizen, context.AuthMethod.EID, OCT, "d1")
    services.warehouse_refresh(tables=["dossiers"])
    [row] = read(warehouse, "dossiers")
    assert row["submitted_auth"] == "eid"
    assert all(row[c] is False for c in FACTS[1:])  # not synchronised, no result, not checked: "no"


def test_a_fact_changed_elsewhere_rewrites_only_its_dossiers_partition(warehouse, submit, citizen):
    october = submit_as(submit, citizen, context.AuthMethod.EID, OCT, "oct")
    submit_as(submit, citizen, context.AuthMethod.EID, NOV, "nov")
    pending = push(october, sent=False)
    services.warehouse_refresh(tables=["dossiers"])
    november = partition(warehouse, "dossiers", 2026, 11).read_bytes()

    # delivered to the portal now: the dossier's own row does not change, its fact does
    PortalPush.objects.filter(pk=pending.pk).update(state=PortalPushState.SENT, sent_at=timezone.now())
    [report] = services.warehouse_refresh(tables=["dossiers"])
    assert (report.months, report.rows) == (["2026-10"], 1)
    assert partition(warehouse, "dossiers", 2026, 11).read_bytes() == november
    [row] = pq.read_table(partition(warehouse, "dossiers", 2026, 10)).to_pylist()
    assert row["portal_synced"] is True


def test_the_month_of_a_dossier_is_read_from_its_code():
    assert tables._month_of_code("000.00.31.H29-261014-0001") == (2026, 10)
    assert tables._month_of_code("H29-A-251231-0012") == (2025, 12)
    assert tables._month_of_code("IMPORT-42") is None
    assert tables._month_of_code("X-261314-0001") is None
