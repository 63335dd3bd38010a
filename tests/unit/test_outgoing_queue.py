# SPDX-License-Identifier: GPL-3.0-or-later
"""The outgoing queue (RFC 5321 §4.5.4.1): durable before the first attempt, retried with growing delays,
given up after a permanent refusal or its lifetime, each message sent once even with several flushers."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from groupware.sieve.delivery import (
    Outgoing,
    OutgoingQueue,
    RelayPermanentError,
    RelayTemporaryError,
    RetryPolicy,
    SqliteReplyTracker,
)

MESSAGE = b"From: a@example.org\nSubject: hi\n\nhello\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Relay:
    """Fails with ``fail`` while it is set; records what it took."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.refuse: set[str] = set()
        self.sent: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        if self.fail is not None:
            raise self.fail
        if self.refuse.intersection(recipients):
            raise RelayPermanentError("550 5.1.1 refused")
        with self.lock:
            self.sent.append((sender, list(recipients), message))


def queue(folder: Path, relay: Relay, clock: Clock) -> OutgoingQueue:
    return OutgoingQueue(folder, relay, RetryPolicy(first=60, longest=300, lifetime=3600), "mx.test", clock)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.msg"))


def test_accepted_at_once_leaves_nothing_queued(tmp_path: Path) -> None:
    relay, clock = Relay(), Clock()
    assert queue(tmp_path, relay, clock).send(Outgoing("notify", "", ("p@example.org",)), MESSAGE) is True
    assert relay.sent == [("", ["p@example.org"], MESSAGE)]
    assert files(tmp_path) == [] and list((tmp_path / "tmp").iterdir()) == []


def test_a_deferred_message_survives_a_restart_and_is_sent_once(tmp_path: Path) -> None:
    down, clock = Relay(RelayTemporaryError("connection refused")), Clock()
    assert queue(tmp_path, down, clock).send(Outgoing("vacation", "", ("p@example.org",)), MESSAGE) is False
    assert len(files(tmp_path)) == 1
    (entry,) = queue(tmp_path, down, clock).entries()
    assert entry.item.attempts == 1 and "connection refused" in entry.item.last_error
    assert entry.size == len(MESSAGE)
    up = Relay()
    restarted = queue(tmp_path, up, clock)  # a new process: only the folder is shared
    assert restarted.flush().sent == []  # not due yet
    clock.now += 60
    report = restarted.flush()
    assert len(report.sent) == 1 and up.sent == [("", ["p@example.org"], MESSAGE)]
    assert restarted.flush(force=True).sent == [] and files(tmp_path) == []


def test_retries_back_off_up_to_the_longest_delay() -> None:
    retry = RetryPolicy(first=60, longest=300, lifetime=3600)
    assert [retry.delay(n) for n in (1, 2, 3, 4, 5, 60)] == [60, 120, 240, 300, 300, 300]


def test_attempt_times_follow_the_backoff(tmp_path: Path) -> None:
    relay, clock = Relay(RelayTemporaryError("451 busy")), Clock()
    q = queue(tmp_path, relay, clock)
    q.send(Outgoing("notify", "", ("p@example.org",)), MESSAGE)
    start = clock.now
    waits = []
    for _ in range(4):
        (entry,) = q.entries()
        waits.append(entry.item.next_attempt - clock.now)
        clock.now = entry.item.next_attempt - 1
        assert q.flush().deferred == []  # one second early: not tried
        clock.now += 1
        assert len(q.flush().deferred) == 1
    assert waits == [60, 120, 240, 300]
    assert q.entries()[0].item.attempts == 5 and q.entries()[0].item.created == start


def test_past_its_lifetime_a_message_is_given_up_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    relay, clock = Relay(RelayTemporaryError("connection refused")), Clock()
    q = queue(tmp_path, relay, clock)
    q.send(Outgoing("notify", "", ("p@example.org",)), MESSAGE)
    clock.now += 3600
    with caplog.at_level("ERROR", logger="groupware.sieve.outgoing"):
        report = q.flush()
    assert len(report.given_up) == 1 and files(tmp_path) == []
    assert any(getattr(r, "event", "") == "notify_given_up" for r in caplog.records)


def test_a_permanent_refusal_at_once_raises_and_queues_nothing(tmp_path: Path) -> None:
    q = queue(tmp_path, Relay(RelayPermanentError("550 5.1.1 no such user")), Clock())
    with pytest.raises(RelayPermanentError):
        q.send(Outgoing("notify", "", ("p@example.org",)), MESSAGE)
    assert files(tmp_path) == []


def test_a_permanent_refusal_on_retry_is_not_retried(tmp_path: Path) -> None:
    relay, clock = Relay(RelayTemporaryError("down")), Clock()
    q = queue(tmp_path, relay, clock)
    q.send(Outgoing("notify", "", ("p@example.org",)), MESSAGE)
    relay.fail = RelayPermanentError("554 5.7.1 relay access denied")
    report = q.flush(force=True)
    assert len(report.given_up) == 1 and files(tmp_path) == []
    relay.fail = None
    assert q.flush(force=True).sent == [] and relay.sent == []


def test_a_given_up_redirect_is_kept_in_inbox(tmp_path: Path) -> None:
    relay, clock = Relay(RelayTemporaryError("down")), Clock()
    q = queue(tmp_path / "queue", relay, clock)
    maildir = tmp_path / "home" / "Maildir"
    item = Outgoing(
        "redirect", "a@example.org", ("p@example.org",), keep_maildir=str(maildir), keep_address="h@x"
    )
    q.send(item, b"X-Sieve-Redirected-From: h@x\n" + MESSAGE)
    relay.fail = RelayPermanentError("550 no")
    q.flush(force=True)
    (kept,) = (maildir / "new").iterdir()
    data = kept.read_bytes()
    assert data.startswith(b"Return-Path: <a@example.org>\nDelivered-To: h@x\n")
    assert data.endswith(MESSAGE) and b"\r" not in data


def test_the_tracker_key_is_recorded_on_acceptance_and_forgotten_when_given_up(tmp_path: Path) -> None:
    relay, clock = Relay(RelayTemporaryError("down")), Clock()
    home = tmp_path / "home"
    tracker = SqliteReplyTracker(home)
    reserved = dt.datetime.fromtimestamp(clock.now, dt.UTC)
    for key in ("accepted", "refused"):
        assert tracker.check_and_record(key, 3600, reserved) is False
    q = queue(tmp_path / "queue", relay, clock)
    for key in ("accepted", "refused"):
        q.send(Outgoing("vacation", "", (f"{key}@example.org",), str(home), key), MESSAGE)
    relay.fail, relay.refuse = None, {"refused@example.org"}
    clock.now += 3000  # accepted 3000 s after its reservation: its period starts then
    report = q.flush(force=True)
    assert len(report.sent) == 1 and len(report.given_up) == 1
    later = dt.datetime.fromtimestamp(clock.now + 1000, dt.UTC)
    assert tracker.check_and_record("accepted", 3600, later) is True  # within the period since sending
    assert tracker.check_and_record("refused", 3600, later) is False  # forgotten: answered next time


def test_two_flushers_send_each_message_once(tmp_path: Path) -> None:
    relay, clock = Relay(RelayTemporaryError("down")), Clock()
    q = queue(tmp_path, relay, clock)
    for n in range(40):
        q.send(Outgoing("notify", "", (f"p{n}@example.org",)), MESSAGE)
    relay.fail = None
    flushers = [queue(tmp_path, relay, clock) for _ in range(4)]
    threads = [threading.Thread(target=f.flush, kwargs={"force": True}) for f in flushers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(to[0] for _, to, _ in relay.sent) == sorted(f"p{n}@example.org" for n in range(40))
    assert files(tmp_path) == []


def test_an_unreadable_file_is_set_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "0000000001-bad.msg").write_bytes(b"garbage")
    relay = Relay()
    with caplog.at_level("ERROR", logger="groupware.sieve.outgoing"):
        queue(tmp_path, relay, Clock()).flush(force=True)
    assert files(tmp_path) == [] and (tmp_path / "0000000001-bad.corrupt").exists()
    assert relay.sent == [] and any(getattr(r, "event", "") == "outgoing_corrupt" for r in caplog.records)
