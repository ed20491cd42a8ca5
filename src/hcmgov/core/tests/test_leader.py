"""One scheduler leads, the others wait and take over when it goes (hcmgov.core.leader), on the
database in use: PostgreSQL's advisory lock, or a file lock on one machine."""

from __future__ import annotations

import threading
import time

import pytest

from hcmgov.core.leader import leadership, lock_key

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_lock_number_is_stable_and_names_differ():
    assert lock_key("scheduler") == lock_key("scheduler")
    assert lock_key("scheduler") != lock_key("ingester")
    assert -(2**63) <= lock_key("scheduler") < 2**63


def test_one_leads_the_other_waits_and_takes_over_when_it_leaves():
    events: list[str] = []
    first_leads, release_first = threading.Event(), threading.Event()
    second_waited = threading.Event()

    def first() -> None:
        with leadership("test-lead", poll=0.05):
            events.append("first leads")
            first_leads.set()
            release_first.wait(10)
            events.append("first leaves")

    def second() -> None:
        first_leads.wait(10)
        with leadership("test-lead", poll=0.05, on_wait=second_waited.set):
            events.append("second leads")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert second_waited.wait(10), "the second never found the lead taken"
    time.sleep(0.2)
    assert events == ["first leads"]  # the second still waits
    release_first.set()
    for thread in threads:
        thread.join(10)
    assert events == ["first leads", "first leaves", "second leads"]


def test_a_waiting_process_can_be_stopped():
    stop = threading.Event()
    outcome: list[str] = []

    def waiter() -> None:
        try:
            with leadership("test-stop", poll=0.05, stop=stop):
                outcome.append("led")
        except InterruptedError:
            outcome.append("stopped")

    with leadership("test-stop", poll=0.05):
        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.2)
        stop.set()
        thread.join(5)
    assert outcome == ["stopped"]


def test_the_leader_learns_when_its_lock_connection_breaks():
    from django.db import connections

    if connections["default"].vendor != "postgresql":
        pytest.skip("the lock's connection exists on PostgreSQL only (a file lock cannot break)")
    with leadership("test-broken", poll=0.05) as lead:
        with connections["default"].cursor() as cursor:  # the operator (or a fail-over) ends its session
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hcmgov-leader'"
                " AND datname = current_database()"
            )
        assert lead.lost.wait(5)
    # and the lock is free again for the next
    with leadership("test-broken", poll=0.05) as again:
        assert again.held
