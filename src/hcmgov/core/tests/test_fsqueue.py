"""The embedded task queue (``hcmgov.core.fsqueue``): messages written and taken while other
processes write and take, as the web workers, the scheduler and the task worker do."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection, Exchange, Queue
from kombu.simple import SimpleQueue

from hcmgov.core import fsqueue

N_WRITERS, PER_WRITER = 4, 250
PAD = "x" * 200_000  # a large message widens a non-atomic writer's window


def _connection(folder: Path) -> Connection:
    return Connection(
        "filesystem://",
        transport=fsqueue.Transport,
        transport_options={
            "data_folder_in": str(folder / "out"),
            "data_folder_out": str(folder / "out"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        },
    )


def _write(folder: str, writer: int) -> None:
    with _connection(Path(folder)) as conn:
        queue = SimpleQueue(conn, "jobs")
        for i in range(PER_WRITER):
            queue.put({"writer": writer, "i": i, "pad": PAD})
        queue.close()


def _bind(folder: str, n: int) -> None:
    with _connection(Path(folder)) as conn:
        exchange = Exchange("fanout-bench", type="fanout")
        Queue(f"q{n}", exchange=exchange)(conn.default_channel).declare()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "out").mkdir()
    return tmp_path


def test_every_message_is_taken_whole_once_while_others_write(folder: Path) -> None:
    """Four processes write while this one takes: kombu's own transport exposes a message file
    before writing it, and the reader then fails on an empty payload; here none is lost, none is
    read twice, none is read in part."""
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_write, args=(str(folder), w)) for w in range(N_WRITERS)]
    for p in writers:
        p.start()
    seen: set[tuple[int, int]] = set()
    deadline = time.monotonic() + 60
    with _connection(folder) as conn:
        channel = conn.default_channel
        while len(seen) < N_WRITERS * PER_WRITER and time.monotonic() < deadline:
            try:  # the transport's own take, in a tight loop: the worst case for a writer's window
                message = channel._get("jobs")
            except Empty:
                continue
            body = channel.message_to_python(message).decode()
            assert body["pad"] == PAD
            key = (body["writer"], body["i"])
            assert key not in seen
            seen.add(key)
    assert len(seen) == N_WRITERS * PER_WRITER
    for p in writers:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert not [n for n in os.listdir(folder / "out") if not n.startswith(".")]  # nothing left behind
    assert not list((folder / "out").glob(".*.part"))  # no temporary file left either


def test_concurrent_bindings_of_one_exchange_all_land(folder: Path) -> None:
    """Processes binding queues to one fanout exchange at once (each worker's control queue): the
    binding table ends with every queue, and readers never meet a half-written table."""
    ctx = multiprocessing.get_context("spawn")
    binders = [ctx.Process(target=_bind, args=(str(folder), n)) for n in range(6)]
    for p in binders:
        p.start()
    for p in binders:
        p.join(timeout=30)
        assert p.exitcode == 0
    with _connection(folder) as conn:
        table = conn.default_channel.get_table("fanout-bench")
    assert sorted(q.queue for q in table) == [f"q{n}" for n in range(6)]


def test_a_publisher_before_any_worker_makes_the_folders(tmp_path: Path) -> None:
    """The web (or a test) may queue a task on a fresh machine before a worker ever started: the
    queue's folders are made then, not only by ``hcmgov worker``."""
    with _connection(tmp_path) as conn:
        queue = SimpleQueue(conn, "jobs")
        queue.put({"job": 1})
        assert queue.get(timeout=1).payload == {"job": 1}
        queue.close()
    assert (tmp_path / "out").is_dir()
    assert (tmp_path / "processed").is_dir()
