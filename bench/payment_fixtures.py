"""Fixtures of the IPN benchmark, run inside Django (``bench/run.py`` calls it with the bench env,
which carries the gateway settings: ``HCMGOV_VNPAY_*`` set to the simulator's account).

Subcommands (each prints a JSON summary on the last line of stdout):

- ``pool --want N [--jobs J]``: make sure the bench database holds at least N payable gateway
  transactions: dossiers of fee procedures submitted online through the service
  (``dossier_submit``) by bench applicants, the outbox delivered as the worker would deliver it (the
  payments handler makes the order with ``order_ensure`` and requests the fee, so the dossier waits
  in status 6; the notifications are queued and sent), then one transaction started on each order
  with ``transaction_start`` by the applicant. First the outbox is delivered (an earlier run's
  events), and due orders of bench applicants with no transaction yet (dossiers an earlier
  benchmark submitted) get one; only what is still missing is submitted. Every row is the
  services' own. The pool is kept: a transaction no IPN has reached is used by a later run, so a
  run only adds what the runs before it consumed. ``--jobs`` runs that many processes side by side.
- ``lines --out FILE --transactions N [--duplicates 0.3]``: the IPN paths of N pending pool
  transactions (``/api/v1/payments/vnpay/ipn?<signed parameters>``: success, the right amount,
  signed with the merchant's hash secret as the gateway signs them), one a line, with repeats of
  earlier lines mixed in to make up about ``--duplicates`` of the file (half right after the first
  IPN, half later), in a deterministic order (``--seed``).
- ``queries``: the SQL statements of one IPN and of its repeat (one pool transaction is paid).
- ``drain``: what one task worker process does with the outbox a run left (``run.py --no-worker``
  runs several side by side, timed): deliver batch after batch until it is empty, as the beat's
  drains do; prints the events delivered by topic and the process's own CPU seconds.
- ``verify --lines FILE --since ISO --until ISO``: the books for the transactions of FILE after a
  run: answers kept, orders paid, transactions settled, receipts, refunds, double payments; and the
  outbox events the task worker delivered during the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from hcmgov.catalog import selectors as catalog  # noqa: E402
from hcmgov.common import jsonform  # noqa: E402
from hcmgov.common.context import Actor, AuthMethod, acting_as  # noqa: E402
from hcmgov.core import selectors as core  # noqa: E402
from hcmgov.core import services as core_services  # noqa: E402
from hcmgov.core.models import OutboxEvent  # noqa: E402
from hcmgov.dossiers import services as dossier_services  # noqa: E402
from hcmgov.dossiers.files import Attachment  # noqa: E402
from hcmgov.notifications import services as notifications  # noqa: E402
from hcmgov.payments import fees  # noqa: E402
from hcmgov.payments import services as payments  # noqa: E402
from hcmgov.payments.adapters import vnpay  # noqa: E402
from hcmgov.payments.models import (  # noqa: E402
    GatewayCallback,
    GatewayTransaction,
    OrderState,
    PaymentOrder,
    Receipt,
    Refund,
    TxnState,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixtures import USER_PREFIX, agency_fits, ensure_applicants, small_pdf  # noqa: E402

IPN_PATH = "/api/v1/payments/vnpay/ipn"
APPLICANTS = 200
KEY_PREFIX = "bench-ipn-"  # the dossiers' Idempotency-Key
CHANNEL_ONLINE = 2  # dossiers.models.Channel.ONLINE
CHUNK = 100  # dossiers submitted between two deliveries of the outbox


def _no_commit_wait(sender: Any, connection: Any, **kwargs: Any) -> None:
    """The fixtures' own connections do not wait for each commit to reach the disk (the rows are the
    same; a crash could lose the last few, and the next run would make them again). The server's
    connections are left as configured."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")


connection_created.connect(_no_commit_wait)


# --- the pool -------------------------------------------------------------------------------------


def fee_plans(rng: random.Random) -> list[tuple[Any, list[Any], list[dict[str, Any]], list[Attachment]]]:
    """The catalogue's procedures with a fee payable online: for each, the agencies that take it
    today, a few valid forms whose fee is above zero online, and its required documents (PDF)."""
    today = timezone.localdate()
    agencies = list(core.agency_list(day=today))
    plans = []
    for p in catalog.procedure_search():
        version = catalog.procedure_version_in_force(procedure=p, day=today)
        if not version.fees:
            continue
        pool = [a for a in agencies if agency_fits(p, a, today)]
        forms: list[dict[str, Any]] = []
        for _ in range(40):
            form = jsonform.sample_valid(version.form_schema, rng, tries=30)
            if form is None:
                break
            # what the order of such a dossier would charge (the service's own computation)
            submitted = SimpleNamespace(
                procedure_version=version, channel=CHANNEL_ONLINE, form_data=form, submitted_at=timezone.now()
            )
            _, lines = payments.order_lines(dossier=submitted)
            if fees.fees_total(lines) > 0:
                forms.append(form)
            if len(forms) >= 4:
                break
        if not pool or not forms:
            continue
        docs = [
            Attachment(d["code"], f"{d['code'].lower()}.pdf", small_pdf(f"{p.code} {d['code']}"))
            for d in version.required_documents
            if d.get("kind") != "present" and d.get("required", True)
        ]
        plans.append((p, pool, forms, docs))
    return plans


def bench_payers() -> list[int]:
    from hcmgov.identity.models import User

    return list(User.objects.filter(username__startswith=USER_PREFIX).values_list("pk", flat=True))


def pending() -> Any:
    """The pool: pending transactions of due orders of the bench applicants, not about to expire
    (the worker would close them: ``transactions_expire``)."""
    return GatewayTransaction.objects.filter(
        state=TxnState.PENDING,
        order__state=OrderState.DUE,
        order__payer_id__in=bench_payers(),
        expires_at__gt=timezone.now() + dt.timedelta(hours=2),
    )


def applicant_actor(user: Any) -> Actor:
    """The applicant, as a request with a personal API token would attribute their changes."""
    return Actor(user_id=user.pk, label=user.get_username(), auth_method=AuthMethod.API_TOKEN, assurance_level=1)


def deliver() -> tuple[int, int]:
    """What the worker would do with what was just written: deliver the outbox, send the queued
    notifications (files in the bench's var directory)."""
    events = sent = 0
    while n := core_services.outbox_deliver(batch=500):
        events += n
    while n := notifications.notifications_send_pending(batch=500):
        sent += n
    return events, sent


def make(count: int, seed: int, job: str) -> dict[str, Any]:
    """One job of ``pool``: ``count`` dossiers, each with its order and one pending transaction."""
    rng = random.Random(seed)
    plans = fee_plans(rng)
    applicants = ensure_applicants(APPLICANTS)
    return_url = f"{settings.PUBLIC_URL.rstrip('/')}{reverse('web:payment_return')}"
    stamp = f"{KEY_PREFIX}{time.strftime('%Y%m%d%H%M%S')}-{job}-"
    started = time.monotonic()
    timing = {"submit": 0.0, "deliver": 0.0, "order": 0.0, "start": 0.0}
    made = events = sent = 0
    for first in range(0, count, CHUNK):
        t = time.monotonic()
        chunk = []
        for i in range(first, min(count, first + CHUNK)):
            p, pool, forms, docs = plans[rng.randrange(len(plans))]
            applicant = applicants[rng.randrange(len(applicants))]
            with acting_as(applicant_actor(applicant)):
                dossier, _ = dossier_services.dossier_submit(
                    applicant=applicant,
                    procedure_code=p.code,
                    agency_code=rng.choice(pool).code,
                    form_data=rng.choice(forms),
                    attachments=docs,
                    idempotency_key=f"{stamp}{i}",
                )
            chunk.append((dossier, applicant))
        timing["submit"] += time.monotonic() - t
        t = time.monotonic()
        e, s = deliver()  # dossier.submitted → the order (payments.handlers), status 6, notifications
        events, sent = events + e, sent + s
        timing["deliver"] += time.monotonic() - t
        for dossier, applicant in chunk:
            t = time.monotonic()
            with acting_as(Actor.system("worker")):
                order = payments.order_ensure(dossier_id=dossier.pk)  # made by the handler: found
            timing["order"] += time.monotonic() - t
            t = time.monotonic()
            if order is not None and order.state == OrderState.DUE:
                with acting_as(applicant_actor(applicant)):
                    payments.transaction_start(order=order, user=applicant, ip="127.0.0.1", return_url=return_url)
                made += 1
            timing["start"] += time.monotonic() - t
    t = time.monotonic()
    e, s = deliver()
    timing["deliver"] += time.monotonic() - t
    seconds = time.monotonic() - started
    return {
        "job": job,
        "transactions": made,
        "outbox_events_delivered": events + e,
        "notifications_sent": sent + s,
        "seconds": round(seconds, 1),
        "seconds_by_phase": {k: round(v, 1) for k, v in timing.items()},
        "procedures": sorted(p.code for p, *_ in plans),
    }


def start_on_due_orders(count: int) -> int:
    """Start a transaction on due orders of bench applicants that have none yet (dossiers an
    earlier benchmark submitted: the payments handler made their orders). Returns how many."""
    from hcmgov.identity.models import User

    orders = list(
        PaymentOrder.objects.filter(
            state=OrderState.DUE, payer_id__in=bench_payers(), transactions__isnull=True
        ).order_by("id")[:count]
    )
    payers = User.objects.in_bulk({o.payer_id for o in orders})
    return_url = f"{settings.PUBLIC_URL.rstrip('/')}{reverse('web:payment_return')}"
    for order in orders:
        with acting_as(applicant_actor(payers[order.payer_id])):
            payments.transaction_start(order=order, user=payers[order.payer_id], ip="127.0.0.1", return_url=return_url)
    return len(orders)


def pool(want: int, jobs: int, seed: int) -> dict[str, Any]:
    started = time.monotonic()
    backlog = OutboxEvent.objects.filter(delivered_at__isnull=True).count()
    deliver()  # the worker's backlog first (an earlier run's): the dossiers' orders exist, the outbox is empty
    drained_s = time.monotonic() - started
    before = pending().count()
    on_existing = start_on_due_orders(want - before) if before < want else 0
    missing = max(0, want - before - on_existing)
    results: list[dict[str, Any]] = []
    if missing:
        ensure_applicants(APPLICANTS)  # once, before the jobs race to create them
        jobs = max(1, min(jobs, (missing + CHUNK - 1) // CHUNK))
        share = [missing // jobs + (1 if j < missing % jobs else 0) for j in range(jobs)]
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "make", "--count", str(n), "--seed", str(seed * 100 + j), "--job", str(j)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for j, n in enumerate(share)
        ]
        for proc in procs:
            out, _ = proc.communicate()
            if proc.returncode != 0:
                sys.exit(f"payment_fixtures make failed ({proc.returncode})")
            results.append(json.loads(out.strip().splitlines()[-1]))
        deliver()
    after = pending().count()
    seconds = time.monotonic() - started
    made = sum(r["transactions"] for r in results)
    return {
        "outbox_backlog_delivered": backlog,
        "outbox_backlog_seconds": round(drained_s, 1),
        "pending_before": before,
        "started_on_existing_due_orders": on_existing,
        "submitted_with_new_transactions": made,
        "pending_after": after,
        "jobs": len(results),
        "seconds": round(seconds, 1),
        "submitted_per_second": round(made / (seconds - drained_s), 1) if made else None,
        "procedures": results[0]["procedures"] if results else [],
        "job_results": [{k: v for k, v in r.items() if k != "procedures"} for r in results],
    }


# --- the IPN lines --------------------------------------------------------------------------------


def ipn_params(txn: Any, *, pay_date: str, secret: str, tmn_code: str) -> dict[str, str]:
    """A successful payment's result for ``txn`` as the gateway sends it to the IPN URL."""
    number = str(10_000_000 + txn.pk)
    params = {
        "vnp_Amount": str(txn.amount * 100),
        "vnp_BankCode": "NCB",
        "vnp_BankTranNo": f"VNP{number}",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": f"Thanh toan phi, le phi ho so {txn.order.dossier_code}",
        "vnp_PayDate": pay_date,
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": tmn_code,
        "vnp_TransactionNo": number,
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": txn.ref,
    }
    params["vnp_SecureHash"] = vnpay.sign(params, secret)
    return params


def lines(out: Path, count: int, duplicates: float, seed: int) -> dict[str, Any]:
    cfg = vnpay.gateway_config()
    if not cfg.enabled:
        sys.exit("HCMGOV_VNPAY_PAY_URL, HCMGOV_VNPAY_TMN_CODE and HCMGOV_VNPAY_HASH_SECRET must be set")
    txns = list(pending().select_related("order").order_by("id")[:count])
    rng = random.Random(seed)
    rng.shuffle(txns)
    pay_date = vnpay.gmt7(timezone.now())
    firsts = [
        IPN_PATH + "?" + urlencode(ipn_params(t, pay_date=pay_date, secret=cfg.hash_secret, tmn_code=cfg.tmn_code))
        for t in txns
    ]
    # repeats: a share ``duplicates`` of all lines; half right after their first IPN (the gateway's
    # retry racing the first one), half later (a retry after a timeout, a replay)
    n = len(firsts)
    repeats = round(n * duplicates / (1 - duplicates)) if n else 0
    keyed: list[tuple[float, int, str]] = [(float(i), 0, path) for i, path in enumerate(firsts)]
    immediate = later = 0
    for k in range(repeats):
        i = rng.randrange(n)
        if k % 2 == 0 or i == n - 1:
            keyed.append((i + 0.5, 1 + k, firsts[i]))
            immediate += 1
        else:
            keyed.append((rng.randrange(i + 1, n) + 0.5, 1 + k, firsts[i]))
            later += 1
    keyed.sort()
    out.write_text("".join(path + "\n" for _, _, path in keyed))
    distinct_amounts = sorted({t.amount for t in txns})
    procedures = Counter(t.order.procedure_code for t in txns)
    return {
        "file": str(out),
        "lines": len(keyed),
        "transactions": n,
        "repeats": repeats,
        "repeats_immediate": immediate,
        "repeats_later": later,
        "repeat_share": round(repeats / len(keyed), 3) if keyed else 0,
        "amount_min_dong": distinct_amounts[0] if txns else None,
        "amount_max_dong": distinct_amounts[-1] if txns else None,
        "distinct_amounts": len(distinct_amounts),
        "procedures": dict(procedures.most_common()),
        "agencies": len({t.order.agency_id for t in txns}),
        "applicants": len({t.order.payer_id for t in txns}),
        "pool_left_after": pending().count() - n,
    }


# --- the books ------------------------------------------------------------------------------------


def refs_of(path: Path) -> tuple[list[str], int]:
    """The transaction references of a lines file, each once, and the number of lines."""
    refs: dict[str, None] = {}
    total = 0
    for line in path.read_text().splitlines():
        total += 1
        refs[parse_qs(urlsplit(line).query)["vnp_TxnRef"][0]] = None
    return list(refs), total


def verify(path: Path, since: str, until: str) -> dict[str, Any]:
    """The books of the transactions in ``path`` after a run, from the database; and what the task
    worker delivered from the outbox between ``since`` and ``until`` (the measured run)."""
    refs, total_lines = refs_of(path)
    received_since = dt.datetime.fromisoformat(since)
    run_end = dt.datetime.fromisoformat(until)
    txns = GatewayTransaction.objects.filter(ref__in=refs)
    orders = PaymentOrder.objects.filter(transactions__ref__in=refs).distinct()
    callbacks = GatewayCallback.objects.filter(kind="ipn", ref__in=refs, received_at__gte=received_since)
    answers = dict(callbacks.values_list("answer").annotate(n=Count("id")).order_by())
    reached = callbacks.values("ref").distinct().count()
    ok_callbacks = callbacks.filter(answer="00")
    confirmed_refs = list(ok_callbacks.values_list("ref", flat=True))
    # each 00 answer settled exactly one transaction, which paid exactly one order
    paid_by_confirmed = PaymentOrder.objects.filter(
        state=OrderState.PAID, paid_transaction__ref__in=confirmed_refs
    ).count()
    succeeded = txns.filter(state=TxnState.SUCCEEDED, settled_at__gte=received_since)
    double = (
        GatewayTransaction.objects.filter(order__in=orders, state=TxnState.SUCCEEDED, overpaid=False)
        .values("order_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    paid = orders.filter(state=OrderState.PAID, paid_at__gte=received_since).count()
    receipts = Receipt.objects.filter(order__in=orders).count()
    refunds = Refund.objects.filter(transaction__ref__in=refs).count()
    overpaid = succeeded.filter(overpaid=True).count()
    with connection.cursor() as cursor:  # the whole database: no order paid twice, ever
        cursor.execute(
            "SELECT count(*) FROM (SELECT order_id FROM payments_gatewaytransaction"
            " WHERE state = 'succeeded' AND NOT overpaid GROUP BY order_id HAVING count(*) > 1) t"
        )
        double_anywhere = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM payments_paymentorder o LEFT JOIN payments_receipt r ON r.order_id = o.id"
            " WHERE o.state = 'paid' AND r.id IS NULL"
        )
        paid_without_receipt_anywhere = cursor.fetchone()[0]
    checks = {
        "one_00_per_transaction": len(confirmed_refs) == len(set(confirmed_refs)),
        "every_00_paid_exactly_one_order": paid_by_confirmed == len(confirmed_refs) == paid,
        "no_order_paid_twice": double == 0 and double_anywhere == 0,
        "receipts_equal_paid_orders": receipts == paid,
        "no_refunds": refunds == 0 and overpaid == 0,
        "every_transaction_reached_settled_once": succeeded.count() == reached == paid,
    }
    return {
        "lines_in_file": total_lines,
        "transactions_in_file": len(refs),
        "transactions_reached_by_an_ipn": reached,
        "callbacks_kept": sum(answers.values()),
        "callbacks_kept_by_answer": answers,
        "orders_of_the_file": orders.count(),
        "orders_paid": paid,
        "orders_paid_by_a_00_transaction": paid_by_confirmed,
        "transactions_succeeded": succeeded.count(),
        "transactions_overpaid": overpaid,
        "orders_with_more_than_one_paying_transaction": double,
        "orders_with_more_than_one_paying_transaction_in_database": double_anywhere,
        "paid_orders_without_receipt_in_database": paid_without_receipt_anywhere,
        "receipts": receipts,
        "refunds": refunds,
        "outbox_events_delivered_during_run": OutboxEvent.objects.filter(
            delivered_at__gte=received_since, delivered_at__lte=run_end
        ).count(),
        "outbox_pending_after_run": OutboxEvent.objects.filter(delivered_at__isnull=True).count(),
        "checks": checks,
        "zero_double_counted_payments": all(checks.values()),
    }


def queries() -> dict[str, Any]:
    """SQL statements of one IPN and of its repeat (Django's test client: the server's middleware and
    API stack), on one pool transaction (settled by it)."""
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from queries import _kind

    cfg = vnpay.gateway_config()
    txn = pending().select_related("order").order_by("-id").first()
    if txn is None:
        return {}
    path = (
        IPN_PATH
        + "?"
        + urlencode(ipn_params(txn, pay_date=vnpay.gmt7(timezone.now()), secret=cfg.hash_secret, tmn_code=cfg.tmn_code))
    )
    client = Client()
    out = {}
    for name in ("first", "repeat"):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        captured = list(ctx.captured_queries)
        out[name] = {
            "status": response.status_code,
            "answer": response.json().get("RspCode"),
            "queries": len(captured),
            "by_statement": dict(Counter(_kind(q["sql"]) for q in captured).most_common()),
        }
    return out


def drain(start_at: float) -> dict[str, Any]:
    """``start_at``: the moment (epoch seconds) the processes started side by side begin together,
    after each has loaded Django."""
    import resource

    from django.db.models import Q

    from hcmgov.core.models import OutboxEvent

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    connection.ensure_connection()
    time.sleep(max(0.0, start_at - time.time()))
    started = timezone.now()
    t0, c0 = time.monotonic(), cpu()
    delivered = 0
    while n := core_services.outbox_deliver(batch=200):
        delivered += n
    wall, used = time.monotonic() - t0, cpu() - c0
    by_topic = dict(
        OutboxEvent.objects.filter(Q(delivered_at__gte=started)).values_list("topic").annotate(n=Count("id"))
    )
    return {
        "delivered": delivered,
        "seconds": round(wall, 3),
        "cpu_s": round(used, 3),
        "delivered_since_start_by_topic": by_topic,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pool")
    p.add_argument("--want", type=int, required=True)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=int(time.time()))
    m = sub.add_parser("make")
    m.add_argument("--count", type=int, required=True)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--job", default="0")
    w = sub.add_parser("lines")
    w.add_argument("--out", type=Path, required=True)
    w.add_argument("--transactions", type=int, required=True)
    w.add_argument("--duplicates", type=float, default=0.3)
    w.add_argument("--seed", type=int, default=17)
    sub.add_parser("queries")
    d = sub.add_parser("drain")
    d.add_argument("--start-at", type=float, default=0.0)
    v = sub.add_parser("verify")
    v.add_argument("--lines", type=Path, required=True)
    v.add_argument("--since", required=True, help="ISO time the run started (callbacks kept since)")
    v.add_argument("--until", required=True, help="ISO time the run ended")
    args = parser.parse_args()
    if args.command == "pool":
        info = pool(args.want, args.jobs, args.seed)
    elif args.command == "make":
        info = make(args.count, args.seed, args.job)
    elif args.command == "lines":
        info = lines(args.out, args.transactions, args.duplicates, args.seed)
    elif args.command == "queries":
        info = queries()
    elif args.command == "drain":
        info = drain(args.start_at)
    else:
        info = verify(args.lines, args.since, args.until)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
