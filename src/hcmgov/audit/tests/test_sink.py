"""Every audit event is also shipped, once linked into the chain after its transaction commits
(by whichever linker linked it), to a sink outside the database: a JSON Lines file and a syslog
receiver (a UDP socket of the test). A sink that fails loses its copy only: the event stays in the
database and the request goes on; the failure is counted."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from django.db import transaction

from hcmgov.audit import chain, sink
from hcmgov.audit.models import AuditEvent
from hcmgov.audit.services import audit_record
from hcmgov.common import context

pytestmark = pytest.mark.django_db


def record(i: int) -> AuditEvent:
    with context.acting_as(context.Actor(3, "Trần Thị Bình", context.AuthMethod.PASSWORD, 1, "r")):
        return audit_record(
            action="dossier.act",
            obj=None,
            object_type="dossiers.dossier",
            object_id=str(i),
            after={"step": "Thẩm định"},
        )


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    """A syslog receiver: a UDP socket on this machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(5)
        yield udp


def test_nothing_is_shipped_without_a_sink(settings, django_capture_on_commit_callbacks):
    settings.AUDIT_SINK_FILE = settings.AUDIT_SINK_SYSLOG = ""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = record(1)
    assert [type(c) for c in callbacks] == [chain._Linker]  # the linking only: no shipping after it
    assert event.seq is not None


def test_events_go_to_the_file_after_commit_and_not_after_a_rollback(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    path = tmp_path / "audit.jsonl"
    settings.AUDIT_SINK_FILE, settings.AUDIT_SINK_SYSLOG = str(path), ""
    with django_capture_on_commit_callbacks(execute=True):
        first, second = record(1), record(2)

    def failed_change() -> None:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            record(3)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failed_change()
    lines = [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines()]
    assert [(row["id"], row["seq"], row["hash"], row["prev_hash"]) for row in lines] == [
        (first.pk, first.seq, first.hash, first.prev_hash),
        (second.pk, second.seq, second.hash, second.prev_hash),
    ]
    assert lines[1]["actor_label"] == "Trần Thị Bình"
    assert lines[1]["after"] == {"step": "Thẩm định"}
    assert lines[1]["prev_hash"] == lines[0]["hash"]  # the copy carries the chain too


def test_an_event_linked_by_the_periodic_task_is_shipped_too(settings, tmp_path, django_capture_on_commit_callbacks):
    """Its process died after the commit: the linker that links it ships it."""
    path = tmp_path / "audit.jsonl"
    settings.AUDIT_SINK_FILE, settings.AUDIT_SINK_SYSLOG = str(path), ""
    with django_capture_on_commit_callbacks() as callbacks:
        event = record(1)
    assert not path.exists()  # committed, not linked: nothing shipped yet
    assert len(callbacks) == 1  # … and its linker never runs
    with django_capture_on_commit_callbacks(execute=True):
        assert chain.link_pending() == 1
    [row] = [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines()]
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (row["id"], row["seq"], row["hash"]) == (stored.pk, stored.seq, stored.hash)


def test_events_go_to_syslog_over_udp(settings, receiver, django_capture_on_commit_callbacks):
    host, port = receiver.getsockname()
    settings.AUDIT_SINK_FILE, settings.AUDIT_SINK_SYSLOG = "", f"{host}:{port}"
    with django_capture_on_commit_callbacks(execute=True):
        event = record(1)
    datagram = receiver.recv(65535).decode()
    assert datagram.startswith("<38>hcmgov-audit: ")  # facility auth (4) × 8 + info (6)
    body = json.loads(datagram.removeprefix("<38>hcmgov-audit: ").rstrip("\x00"))
    assert (body["seq"], body["hash"], body["action"]) == (event.seq, event.hash, "dossier.act")


def test_a_failing_sink_loses_no_event_and_fails_no_request(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.AUDIT_SINK_FILE = str(tmp_path)  # a folder: cannot be opened for appending
    settings.AUDIT_SINK_SYSLOG = str(tmp_path / "no-syslog-here.sock")  # no receiver
    before = sink.failures
    with django_capture_on_commit_callbacks(execute=True):
        event = record(1)
    assert sink.failures == before + 2  # both sinks counted
    assert AuditEvent.objects.filter(pk=event.pk, hash=event.hash).exists()
    assert sink.FAILURES.labels(sink="file")._value.get() >= 1
