"""The embedded default's task queue: kombu's filesystem transport, its files written atomically.

kombu's own transport creates a message file and then writes it, and truncates an exchange's
binding table before rewriting it: a consumer listing the folder in between reads an empty file,
and the worker dies on the JSONDecodeError (kombu issue #1551; seen here under load). Here a
message or a table is written to a hidden temporary file in the same folder and renamed over its
name (``os.replace``, atomic on one filesystem), so a reader sees the whole file or none of it.
A consumer takes a message by renaming it into the processed folder, also atomic: of two
consumers only one gets it. Used when ``CELERY_BROKER_URL`` is ``filesystem://`` (settings); a
city-scale deployment sets RabbitMQ or Redis and never loads this.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.transport import filesystem
from kombu.utils.json import dumps, loads


def _write_atomic(path: Path | str, data: bytes) -> None:
    path = Path(path)
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")  # no reader matches a dot name
    try:
        with open(part, "wb") as f:
            f.write(data)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


class Channel(filesystem.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # a process that only publishes (the web, a test) may come before any worker made them
        for folder in (self.data_folder_in, self.data_folder_out, self.processed_folder):
            Path(folder).mkdir(parents=True, exist_ok=True)

    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        try:
            _write_atomic(os.path.join(self.data_folder_out, name), dumps(payload).encode())
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {name!r} to directory") from exc

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        wanted = f"{queue}.msg"
        taken = Path(self.processed_folder)
        taken.mkdir(parents=True, exist_ok=True)
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.startswith(".") or name.partition(".")[2] != wanted:
                continue
            target = taken / name
            try:
                os.rename(os.path.join(self.data_folder_in, name), target)  # one consumer wins
            except OSError:
                continue  # another consumer took it
            try:
                payload = target.read_bytes()
                if not self.store_processed:
                    target.unlink()
            except OSError as exc:
                raise filesystem.ChannelError(f"Cannot read file {name!r} from queue.") from exc
            return loads(payload.decode())
        raise Empty()

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        # binders of one exchange take turns on a lock file; readers never wait (atomic rename)
        with open(file.with_name(f".{file.name}.lock"), "wb") as guard:
            filesystem.lock(guard, filesystem.LOCK_EX)
            try:
                queues = self.get_table(exchange)
                if entry in queues:
                    return
                queues.insert(0, entry)
                _write_atomic(file, dumps(queues).encode())
            except OSError as exc:
                raise filesystem.ChannelError(f"Cannot open {file}") from exc
            finally:
                filesystem.unlock(guard)


class Transport(filesystem.Transport):
    Channel = Channel
