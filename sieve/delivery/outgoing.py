# SPDX-License-Identifier: GPL-3.0-or-later
"""The outgoing queue: redirects, vacation replies and notifications kept on disk until the relay takes them.

RFC 5321 §4.5.4.1 asks a sender to queue what it could not send and retry, with growing delays, until a
maximum age; so does this queue, one file per message in one folder (``[lmtp] queue``):

* :meth:`OutgoingQueue.send` writes the message (``fsync``, then renamed into place, so that a crash leaves
  either nothing or a whole file) and tries the relay at once. Accepted: the file goes. A temporary failure
  (connection refused, timeout, 4xx): the file stays with its next attempt time. A permanent one (5xx, a
  missing SMTPUTF8/8BITMIME): the file goes and :class:`~.relay.RelayPermanentError` is raised, so that the
  caller decides (a redirect is then kept in INBOX).
* :meth:`OutgoingQueue.flush` retries what is due: the delay doubles from :attr:`RetryPolicy.first` to
  :attr:`RetryPolicy.longest`; past :attr:`RetryPolicy.lifetime`, or on a permanent refusal, the message is
  given up and logged. A given-up redirect is stored in the user's INBOX instead, so that nothing is lost.

Every file is locked (``flock``) while it is being sent and its inode checked after locking, so that several
threads or processes flushing the same folder (the server, ``groupware sieve queue flush``) send each message
once. A message may carry a reply-tracker key (RFC 5230 §4.2): it is confirmed when the relay accepts the
message and forgotten when the message is given up, so that a vacation reply counts as sent only once it is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .maildir import Maildir
from .relay import RelayPermanentError, RelayTemporaryError
from .replies import SqliteReplyTracker

__all__ = ["FlushReport", "Outgoing", "OutgoingQueue", "QueueEntry", "RetryPolicy", "Sender"]

log = logging.getLogger("groupware.sieve.outgoing")

MAGIC = b"groupware-outgoing 1\n"
SUFFIX = ".msg"


class Sender(Protocol):
    """What sends a message (:class:`~.relay.Relay` is one); raises the relay's errors."""

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try again (RFC 5321 §4.5.4.1): ``first`` seconds after the first failure, then twice as long
    each time up to ``longest``; a message older than ``lifetime`` seconds is given up (Postfix's
    ``maximal_queue_lifetime`` is 5 days)."""

    first: float = 300.0
    longest: float = 3600.0
    lifetime: float = 5 * 86400.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure (1, 2, …)."""
        return float(min(self.longest, self.first * 2 ** min(max(failures - 1, 0), 32)))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """The envelope of a queued message and what to do once it is sent or given up.

    ``tracker_home``/``tracker_key``: a reply-tracker entry (:class:`~.replies.SqliteReplyTracker` of that
    home) recorded when the relay accepts, forgotten when given up. ``keep_maildir``/``keep_address``: a
    redirect's Maildir and recipient, where the message is stored if it is given up.
    """

    kind: str
    sender: str
    recipients: tuple[str, ...]
    tracker_home: str = ""
    tracker_key: str = ""
    keep_maildir: str = ""
    keep_address: str = ""
    created: float = 0.0
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A queued message as listed: its id (the file name), envelope and size in octets."""

    id: str
    item: Outgoing
    size: int


@dataclass(slots=True)
class FlushReport:
    """What one :meth:`OutgoingQueue.flush` did."""

    sent: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)


def _encode(item: Outgoing, message: bytes) -> bytes:
    return MAGIC + json.dumps(dataclasses.asdict(item), ensure_ascii=True).encode() + b"\n" + message


def _decode(data: bytes) -> tuple[Outgoing, bytes]:
    """Raises ValueError on anything but a queue file."""
    if not data.startswith(MAGIC):
        raise ValueError("not a queue file")
    head, sep, message = data[len(MAGIC) :].partition(b"\n")
    if not sep:
        raise ValueError("truncated queue file")
    fields: dict[str, Any] = json.loads(head)
    fields["recipients"] = tuple(fields["recipients"])
    return Outgoing(**fields), message


def _read_fd(fd: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class OutgoingQueue:
    """One folder of queued messages sent through ``relay``; thread-safe, and several processes may share
    the folder."""

    def __init__(
        self,
        folder: Path,
        relay: Sender,
        retry: RetryPolicy | None = None,
        hostname: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.folder = Path(folder)
        self.relay = relay
        self.retry = retry or RetryPolicy()
        self.hostname = hostname
        self.clock = clock

    # -- files --------------------------------------------------------------------------------------------
    def _tmp(self) -> Path:
        tmp = self.folder / "tmp"
        tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        return tmp / f"{uuid.uuid4().hex}.{os.getpid()}"

    def _write(self, path: Path, item: Outgoing, message: bytes, lock: bool = False) -> int | None:
        """Write the file under ``tmp/``, ``fsync`` it and rename it to ``path``; with ``lock``, return its
        descriptor locked (the lock is taken before the file is visible)."""
        tmp = self._tmp()
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if lock:
                fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(_encode(item, message))
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            os.replace(tmp, path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(self.folder)
        if lock:
            return fd
        os.close(fd)
        return None

    def _remove(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        _fsync_dir(self.folder)

    @contextlib.contextmanager
    def _claimed(self, path: Path) -> Iterator[int | None]:
        """The file's descriptor, locked, or None when it is gone or another sender holds it."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            yield fd if same else None
        finally:
            os.close(fd)

    # -- sending ------------------------------------------------------------------------------------------
    def send(self, item: Outgoing, message: bytes) -> bool:
        """Queue ``message`` durably, then try the relay once: True when accepted, False when left queued for
        a later attempt.

        Raises:
            RelayPermanentError: the relay refused it for good; it is no longer queued.
            OSError: the queue folder cannot be written (nothing is queued).
        """
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        now = self.clock()
        item = dataclasses.replace(item, created=now, attempts=0, next_attempt=now, last_error="")
        path = self.folder / f"{int(now):010d}-{uuid.uuid4().hex}{SUFFIX}"
        fd = self._write(path, item, message, lock=True)
        assert fd is not None
        try:
            try:
                self.relay.send(item.sender, item.recipients, message)
            except RelayTemporaryError as exc:
                self._defer(path, item, message, str(exc))
                return False
            except RelayPermanentError:
                self._remove(path)
                raise
            self._sent(path, item)
            return True
        finally:
            os.close(fd)

    def _sent(self, path: Path, item: Outgoing) -> None:
        """The relay took it: drop the file, record its tracker key; a retry is logged here, a first attempt
        by the caller."""
        self._remove(path)
        if item.attempts:
            to, attempts = ", ".join(item.recipients), item.attempts
            extra = {"event": f"{item.kind}_sent", "to": to, "attempts": attempts}
            log.info("queued message sent", extra=extra)
        if item.tracker_key:
            SqliteReplyTracker(Path(item.tracker_home)).record(item.tracker_key, self.clock())

    def _defer(self, path: Path, item: Outgoing, message: bytes, error: str) -> None:
        failures = item.attempts + 1
        later = dataclasses.replace(
            item, attempts=failures, next_attempt=self.clock() + self.retry.delay(failures), last_error=error
        )
        self._write(path, later, message)
        log.warning(
            "outgoing message deferred",
            extra={"event": f"{item.kind}_deferred", "to": ", ".join(item.recipients), "error": error},
        )

    def _give_up(self, path: Path, item: Outgoing, message: bytes, error: str) -> None:
        """Drop the message: forget its tracker key, keep a redirect in the user's INBOX, log why."""
        if item.keep_maildir:
            maildir = Maildir(Path(item.keep_maildir), hostname=self.hostname)
            copy = b"Return-Path: <%s>\nDelivered-To: %s\n" % (
                item.sender.encode(),
                item.keep_address.encode(),
            ) + message.replace(b"\r\n", b"\n")
            prepared = maildir.prepare(maildir.ensure("INBOX"), copy, item.keep_address)
            maildir.commit([prepared])
        if item.tracker_key:
            SqliteReplyTracker(Path(item.tracker_home)).forget(item.tracker_key)
        self._remove(path)
        log.error(
            "outgoing message given up",
            extra={
                "event": f"{item.kind}_given_up",
                "to": ", ".join(item.recipients),
                "error": error,
                "attempts": item.attempts,
                "kept_in_inbox": bool(item.keep_maildir),
            },
        )

    def _retry(self, path: Path, fd: int, force: bool, report: FlushReport) -> None:
        try:
            item, message = _decode(_read_fd(fd))
        except (ValueError, TypeError, KeyError) as exc:
            log.error("queue file set aside", extra={"event": "outgoing_corrupt", "error": str(exc)})
            os.replace(path, path.with_suffix(".corrupt"))
            return
        now = self.clock()
        if not force and item.next_attempt > now:
            return
        try:
            self.relay.send(item.sender, item.recipients, message)
        except RelayTemporaryError as exc:
            if now - item.created >= self.retry.lifetime:
                self._give_up(path, item, message, f"still failing after the queue lifetime: {exc}")
                report.given_up.append(path.name)
            else:
                self._defer(path, item, message, str(exc))
                report.deferred.append(path.name)
            return
        except RelayPermanentError as exc:
            self._give_up(path, item, message, str(exc))
            report.given_up.append(path.name)
            return
        self._sent(path, item)
        report.sent.append(path.name)

    def flush(self, force: bool = False) -> FlushReport:
        """Try every message whose next attempt is due (every message with ``force``), oldest first."""
        report = FlushReport()
        for path in self._paths():
            with self._claimed(path) as fd:
                if fd is not None:
                    self._retry(path, fd, force, report)
        return report

    # -- listing ------------------------------------------------------------------------------------------
    def _paths(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.iterdir() if p.name.endswith(SUFFIX))
        except FileNotFoundError:
            return []

    def entries(self) -> list[QueueEntry]:
        """The queued messages, oldest first (files that vanish or cannot be read are left out)."""
        found = []
        for path in self._paths():
            try:
                data = path.read_bytes()
                item, message = _decode(data)
            except (OSError, ValueError, TypeError, KeyError):
                continue
            found.append(QueueEntry(path.name, item, len(message)))
        return found
