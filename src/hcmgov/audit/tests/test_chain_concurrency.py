"""The chain under concurrent writers, and the migration that links the events written before it.

Real concurrency needs a database server: on PostgreSQL each thread has its own connection; the
business transactions only INSERT their events, and the linkers that run after each commit are
serialised by the head row's lock (SQLite's in-memory test database cannot be shared between
connections; its writers are serialised by BEGIN IMMEDIATE anyway). These tests commit for real
(``transaction=True``): the linkers run as in production, from on_commit."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from hcmgov.audit import chain
from hcmgov.audit.models import AuditEvent, AuditHead
from hcmgov.audit.services import audit_chain_verify, audit_record
from hcmgov.common import context

pytestmark = pytest.mark.django_db(transaction=True)


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by `make test` when PostgreSQL answers)")


def test_concurrent_transactions_make_one_chain_without_forks_or_gaps():
    needs_postgresql()
    threads, each = 12, 15
    base = AuditEvent.objects.count()
    start = threading.Barrier(threads)

    def writer(n: int) -> list[int]:
        committed = []
        try:
            start.wait(timeout=30)
            with context.acting_as(context.Actor.system(f"worker-{n}")):
                for i in range(each):
                    with transaction.atomic():
                        event = audit_record(action="test.write", obj=None, object_type="test", object_id=f"{n}-{i}")
                        if i % 3 == 0:  # two events in one transaction: one linker for both
                            audit_record(action="test.write", obj=None, object_type="test", object_id=f"{n}-{i}b")
                        if i % 5 == 0:
                            time.sleep(0.002)  # a transaction open a moment: the others go on meanwhile
                        if i == 7:
                            transaction.set_rollback(True)  # a failed change: its event vanishes
                            continue
                    committed.append(event.pk)
        finally:
            connections.close_all()
        return committed

    with ThreadPoolExecutor(max_workers=threads) as pool:
        committed = [pk for found in pool.map(writer, range(threads)) for pk in found]
    total = threads * (each - 1 + 5)  # i = 0, 3, 6, 9, 12 wrote two; i = 7 rolled back
    assert len(committed) == threads * (each - 1)
    assert AuditEvent.objects.count() == base + total
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()  # every committed event linked …
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, base + total + 1))  # … exactly once: one chain, no gap, no fork
    assert not AuditEvent.objects.filter(object_id__endswith="-7").exists()
    report = audit_chain_verify()
    assert (report.ok, report.events) == (True, base + total), report.problem
    assert AuditHead.objects.get().seq == base + total


def test_an_open_audited_transaction_does_not_block_another_ones_commit():
    """Thread A writes its event and keeps its transaction open; thread B's audited transaction
    commits and is linked meanwhile (the chain's head is locked by neither business transaction).
    A's event, recorded first (a lower id), is linked when A commits: after B's."""
    needs_postgresql()
    hold = 3.0
    a_wrote, b_done = threading.Event(), threading.Event()
    took: dict[str, float] = {}
    pks: dict[str, int] = {}

    def a() -> None:
        try:
            with context.acting_as(context.Actor.system("A")), transaction.atomic():
                pks["a"] = audit_record(action="test.hold", obj=None, object_type="test", object_id="A").pk
                a_wrote.set()
                b_done.wait(timeout=hold)  # holds its transaction until B is done, or `hold` at most
                took["a_waited_for_b"] = b_done.is_set()
        finally:
            connections.close_all()

    def b() -> None:
        try:
            assert a_wrote.wait(timeout=10)
            began = time.perf_counter()
            with context.acting_as(context.Actor.system("B")), transaction.atomic():
                event = audit_record(action="test.pass", obj=None, object_type="test", object_id="B")
            took["b"] = time.perf_counter() - began  # the commit, and its linking after it
            pks["b"] = event.pk
            pks["b_seq"] = event.seq
            b_done.set()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(a), pool.submit(b)]:
            future.result(timeout=30)
    assert took["b"] < 1.0, took  # under the old design: `hold` seconds, waiting for A's commit
    assert took["a_waited_for_b"], "A's transaction ended before B committed"
    assert pks["a"] < pks["b"]
    a_seq = AuditEvent.objects.get(pk=pks["a"]).seq
    assert pks["b_seq"] is not None
    assert a_seq == pks["b_seq"] + 1  # the chain's order is the order of linking
    assert audit_chain_verify().ok


def test_the_migration_links_the_events_written_before_the_chain():
    """Back to the schema before the chain, events written as they were then, and forward again:
    they are linked in id order, in batches, and a run that stopped goes on where it stopped."""
    executor = MigrationExecutor(connection)
    base = AuditEvent.objects.count()
    call_command("migrate", "audit", "0003", verbosity=0)
    try:
        state = executor.loader.project_state(("audit", "0003_hash_chain"))
        Event = state.apps.get_model("audit", "AuditEvent")
        for i in range(7):
            Event.objects.create(actor_label="cũ", action="dossier.submit", object_type="d", object_id=str(i),
                                 after={"i": i, "x": 1.5})  # fmt: skip
        assert chain.link_pending(model=Event, batch=3) == 7  # three batches
        for i in range(7, 12):  # written by the old code while the migration had stopped
            Event.objects.create(actor_label="cũ", action="dossier.act", object_type="d", object_id=str(i))
    finally:
        call_command("migrate", "audit", verbosity=0)  # 0004 links the rest
    assert list(AuditEvent.objects.order_by("id").values_list("seq", flat=True)) == list(range(1, base + 13))
    assert audit_chain_verify().ok
    with context.acting_as(context.Actor.system()):
        assert audit_record(action="x", obj=None, object_type="t", object_id="1").seq == base + 13
    assert audit_chain_verify().ok


def test_the_background_linker_links_concurrent_commits_into_one_chain(settings):
    """Production's mode on PostgreSQL: commits only wake the process's linker thread, which links
    what was committed meanwhile, many events at a time; the chain has no gap and no fork."""
    needs_postgresql()
    settings.AUDIT_LINK_BACKGROUND = True
    base = AuditEvent.objects.count()
    threads, each = 8, 20
    try:

        def writer(n: int) -> None:
            try:
                with context.acting_as(context.Actor.system(f"worker-{n}")):
                    for i in range(each):
                        with transaction.atomic():
                            audit_record(action="test.write", obj=None, object_type="test", object_id=f"{n}-{i}")
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(writer, range(threads)))
        deadline = time.monotonic() + 20
        while AuditEvent.objects.filter(seq__isnull=True).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not AuditEvent.objects.filter(seq__isnull=True).exists()  # linked without a caller waiting
        assert AuditHead.objects.get().seq == base + threads * each
        report = audit_chain_verify()
        assert (report.ok, report.events) == (True, base + threads * each), report.problem
        assert chain.background._thread is not None  # the thread did it, not the writers
    finally:
        chain.background.stop()  # its connection closed before the test database goes


def test_the_background_linker_links_what_is_left_when_it_stops(settings):
    needs_postgresql()
    settings.AUDIT_LINK_BACKGROUND = True
    chain.background.idle_seconds = 0.05
    try:
        with transaction.atomic():
            event = audit_record(action="test.write", obj=None, object_type="test", object_id="left")
        chain.background.stop()
        assert AuditEvent.objects.get(pk=event.pk).seq is not None
        assert audit_chain_verify().ok
    finally:
        chain.background.stop()
        del chain.background.idle_seconds
