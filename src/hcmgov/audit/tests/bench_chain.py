"""What the hash chain costs per audit event: the write before the chain (one prepared INSERT)
against today's (the same INSERT, unlinked, and its linking after commit: a short transaction that
locks the head, reads the batch, hashes it and links it in one UPDATE), each event in a transaction
of its own and all of them in one transaction. "inside" is the time spent in the business
transaction (to its commit), "total" includes the linking after it. Not a test: run it by hand, on
a database of its own (the test database of the configured one, kept)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hcmgov_x .venv/bin/python src/hcmgov/audit/tests/bench_chain.py
"""

from __future__ import annotations

import functools
import os
import statistics
import sys
import time
from collections.abc import Callable

import django


def main(count: int = 2000, rounds: int = 5) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")
    django.setup()
    from django.db import connection, transaction
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from hcmgov.audit.chain import GENESIS, chain_record
    from hcmgov.audit.models import AuditEvent, AuditHead
    from hcmgov.common.db import fast_create

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, keepdb=True)

    def values(i: int) -> dict:
        return {
            "at": timezone.now(),
            "actor_id": 42,
            "actor_label": "Nguyễn Văn An",
            "action": "dossier.act",
            "object_type": "dossiers.dossier",
            "object_id": str(i),
            "request_id": "req-0123456789abcdef",
            "before": {"status": "received", "step": "Thẩm định", "fee": 50_000},
            "after": {"status": "processing", "step": "Phê duyệt", "fee": 50_000},
            "auth_method": "password+totp",
            "assurance_level": 2,
            "session_ref": "0123456789abcdef",
            "agency_id": 7,
        }

    seq = [10**12]

    def old(i: int) -> None:  # what audit_record did before the chain (seq filled: it is unique)
        seq[0] += 1
        fast_create(AuditEvent, {**values(i), "seq": seq[0], "prev_hash": "", "hash": ""})

    def new(i: int) -> None:
        chain_record(values(i))

    inside = [0.0]

    def committed(began: float) -> None:
        inside[0] += time.perf_counter() - began

    def run(write: Callable[[int], None], *, one_transaction: bool) -> float:
        inside[0] = 0.0
        start = time.perf_counter()
        if one_transaction:
            with transaction.atomic():
                for i in range(count):
                    write(i)
                inside[0] = time.perf_counter() - start  # the commit and its linking follow
        else:
            for i in range(count):
                with transaction.atomic():
                    # registered before the linker: runs first after the commit
                    connection.on_commit(functools.partial(committed, time.perf_counter()))
                    write(i)
        return (time.perf_counter() - start) / count * 1e6

    def reset() -> None:
        AuditEvent.objects.all().delete()
        AuditHead.objects.update(seq=0, hash=GENESIS)

    print(f"{connection.vendor}, {count} events × {rounds} rounds, median µs per event")
    for one in (False, True):
        totals: dict[str, float] = {}
        insides: dict[str, float] = {}
        for name, write in (("before", old), ("after", new)):
            for _ in range(2):  # warm up: prepared statements, caches
                run(write, one_transaction=one)
                reset()
            measured = []
            for _ in range(rounds):
                measured.append((run(write, one_transaction=one), inside[0] / count * 1e6))
                reset()
            totals[name] = statistics.median(t for t, _ in measured)
            insides[name] = statistics.median(i for _, i in measured)
        label = "one transaction for all" if one else "a transaction per event"
        print(
            f"  {label:26} inside the transaction: before {insides['before']:7.1f}  after {insides['after']:7.1f}"
            f"   total: before {totals['before']:7.1f}  after {totals['after']:7.1f}"
        )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
