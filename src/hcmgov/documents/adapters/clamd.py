"""Client of the ClamAV daemon (clamd), over its own socket protocol.

The protocol (clamd(8), "INSTREAM"): the client sends ``zINSTREAM\\0``, then the content in chunks,
each preceded by its length as 4 bytes big-endian, and a zero-length chunk to end; clamd answers one
line ended by ``\\0``: ``stream: OK``, ``stream: <signature> FOUND``, or ``<reason> ERROR`` (for
instance ``INSTREAM size limit exceeded. ERROR`` past its ``StreamMaxLength``, after which it
closes the connection, possibly while we are still sending). clamd listens on TCP or on a UNIX
socket: ``HCMGOV_CLAMD_URL`` is ``tcp://host:port`` or ``unix:///path/to/clamd.ctl``.

Written by hand, ~150 lines: the ``clamd`` package on PyPI has had no release since 2017, and
``pyclamd`` none since 2017 either; the protocol is small and stable since ClamAV 0.95.

Failures are :class:`ClamdError` (an :class:`~hcmgov.common.errors.OutsideSystemError`):
:class:`ClamdUnavailable` (clamd down, a timeout, an unreadable answer: retryable) or
:class:`ClamdLimitExceeded` (the content is larger than clamd accepts: not retryable).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

from hcmgov.common.config import config
from hcmgov.common.errors import Message, OutsideSystemError

CHUNK = 64 * 1024
MAX_ANSWER = 4096


@dataclass(frozen=True)
class ClamdConfig:
    url: str
    timeout: float

    @property
    def enabled(self) -> bool:
        return bool(self.url)


def clamd_config() -> ClamdConfig:
    """clamd's settings, read from the environment now."""
    return ClamdConfig(
        url=config(
            "HCMGOV_CLAMD_URL",
            "",
            help="Address of the ClamAV daemon that scans uploads: tcp://127.0.0.1:3310 or "
            "unix:///run/clamav/clamd.ctl. Empty: no scanning (files are recorded as unscanned).",
            group="files",
        ),
        timeout=config(
            "HCMGOV_CLAMD_TIMEOUT", 30.0, help="Seconds to wait for clamd to connect and to answer.", group="files"
        ),
    )


clamd_config()  # declare the settings when the module is imported (`hcmgov configdoc` lists them)


class ClamdError(OutsideSystemError):
    """A scan clamd did not do."""


class ClamdUnavailable(ClamdError):
    """clamd could not be reached, did not answer in time, or answered something unreadable."""

    retryable = True


class ClamdLimitExceeded(ClamdError):
    """The content is larger than clamd's StreamMaxLength."""


_DOWN = Message("Không kết nối được dịch vụ quét mã độc.", "The malware scanner could not be reached.")
_UNREADABLE = Message("Không đọc được trả lời của dịch vụ quét mã độc.", "The malware scanner's answer was unreadable.")
_FAILED = Message("Dịch vụ quét mã độc báo lỗi.", "The malware scanner reported an error.")
_LIMIT = Message(
    "Tệp lớn hơn giới hạn của dịch vụ quét mã độc.", "The file is larger than the malware scanner accepts."
)


@dataclass(frozen=True)
class ScanResult:
    """clamd's verdict: ``signature`` is the name of what it found ("" when clean)."""

    clean: bool
    signature: str = ""


def scan_bytes(data: bytes, *, settings: ClamdConfig | None = None) -> ScanResult:
    """Scan ``data`` with clamd's INSTREAM command."""
    settings = settings or clamd_config()
    answer = _exchange(settings, b"zINSTREAM\0", data)
    return _verdict(answer)


def ping(*, settings: ClamdConfig | None = None) -> bool:
    """Whether clamd answers PING with PONG (health checks)."""
    settings = settings or clamd_config()
    try:
        return _exchange(settings, b"zPING\0", None) == "PONG"
    except ClamdError:
        return False


def version(*, settings: ClamdConfig | None = None) -> str:
    """clamd's version and signature database, e.g. ``ClamAV 1.4.6/27470/Thu Nov 26 …``."""
    return _exchange(settings or clamd_config(), b"zVERSION\0", None)


def _verdict(answer: str) -> ScanResult:
    if answer.endswith("ERROR"):
        if "size limit exceeded" in answer:
            raise ClamdLimitExceeded(_LIMIT, detail=answer)
        raise ClamdUnavailable(_FAILED, detail=answer)
    _, sep, result = answer.partition(": ")
    if not sep:
        raise ClamdUnavailable(_UNREADABLE, detail=answer[:200])
    if result == "OK":
        return ScanResult(clean=True)
    if result.endswith(" FOUND"):
        return ScanResult(clean=False, signature=result.removesuffix(" FOUND"))
    raise ClamdUnavailable(_UNREADABLE, detail=answer[:200])


def _connect(settings: ClamdConfig) -> socket.socket:
    parts = urlsplit(settings.url)
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(settings.timeout)
            try:
                sock.connect(parts.path)
            except BaseException:
                sock.close()
                raise
            return sock
        if parts.scheme == "tcp" and parts.hostname and parts.port:
            return socket.create_connection((parts.hostname, parts.port), timeout=settings.timeout)
    except OSError as exc:
        raise ClamdUnavailable(_DOWN, detail=f"{settings.url}: {exc}") from exc
    raise ClamdUnavailable(_DOWN, detail=f"not a clamd address (tcp://host:port or unix:///path): {settings.url!r}")


def _exchange(settings: ClamdConfig, command: bytes, data: bytes | None) -> str:
    """Send ``command`` (and ``data`` as INSTREAM chunks), return clamd's answer without its ``\\0``."""
    if not settings.enabled:
        raise ClamdUnavailable(_DOWN, detail="HCMGOV_CLAMD_URL is empty")
    with _connect(settings) as sock:
        try:
            sock.sendall(command)
            if data is not None:
                view = memoryview(data)
                for start in range(0, len(view), CHUNK):
                    piece = view[start : start + CHUNK]
                    sock.sendall(struct.pack(">I", len(piece)))
                    sock.sendall(piece)
                sock.sendall(struct.pack(">I", 0))
        except (BrokenPipeError, ConnectionResetError):
            pass  # clamd stopped reading (a limit): its answer says why
        except OSError as exc:
            raise ClamdUnavailable(_DOWN, detail=str(exc)) from exc
        try:
            answer = _read_answer(sock)
        except OSError as exc:  # a timeout included
            raise ClamdUnavailable(_DOWN, detail=str(exc)) from exc
    if not answer:
        raise ClamdUnavailable(_UNREADABLE, detail="clamd closed the connection without answering")
    return answer


def _read_answer(sock: socket.socket) -> str:
    received = b""
    while b"\0" not in received and len(received) < MAX_ANSWER:
        part = sock.recv(MAX_ANSWER)
        if not part:
            break
        received += part
    return received.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
