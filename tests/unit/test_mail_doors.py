# SPDX-License-Identifier: GPL-3.0-or-later
"""The outgoing queue door of ``groupware serve``: built only when LMTP delivers through a relay; it sends
at start what a previous run left (RFC 5321 §4.5.4.1) and keeps retrying until stopped."""

from __future__ import annotations

from pathlib import Path

from smtp_sink import SmtpSink
from support import free_port, write_sieve_config

from groupware import config as config_module
from groupware.runtime.mail_doors import OutgoingQueueDoor, queue_door
from groupware.sieve.delivery import Outgoing, OutgoingQueue, Relay, RetryPolicy


def configuration(tmp_path: Path, lmtp: str) -> config_module.Config:
    tmp_path.mkdir()
    path = write_sieve_config(tmp_path / "groupware.conf", {})
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n[lmtp]\n" + lmtp)
    return config_module.load(path)


def test_the_door_exists_only_when_lmtp_delivers_through_a_relay(tmp_path: Path) -> None:
    assert queue_door(configuration(tmp_path / "a", "enabled = true\n")) is None
    assert queue_door(configuration(tmp_path / "b", "relay = 127.0.0.1:25\n")) is None
    door = queue_door(
        configuration(tmp_path / "c", "enabled = true\nrelay = 127.0.0.1:25\nqueue_retry = 5\n")
    )
    assert door is not None and door.tick == 5 and door.addresses == []
    assert door.queue.folder == tmp_path / "c" / "mail" / ".queue"
    slow = queue_door(configuration(tmp_path / "d", "enabled = true\nrelay = 127.0.0.1:25\n"))
    assert slow is not None and slow.tick == 60


def test_the_door_sends_what_a_previous_run_left_and_stops(tmp_path: Path) -> None:
    folder = tmp_path / "queue"
    left = OutgoingQueue(folder, Relay("127.0.0.1", free_port(), timeout=2), RetryPolicy(first=0.2))
    assert left.send(Outgoing("notify", "", ("paul@example.org",)), b"Subject: x\n\nhi\n") is False
    with SmtpSink() as sink:
        door = OutgoingQueueDoor(OutgoingQueue(folder, Relay("127.0.0.1", sink.port)), tick=0.1)
        door.start()
        try:
            received = sink.wait_for(1)
            assert [m.recipients for m in received] == [("paul@example.org",)]
            assert received[0].data == b"Subject: x\r\n\r\nhi\r\n"
        finally:
            door.stop()
    assert left.entries() == [] and not door._thread.is_alive()
