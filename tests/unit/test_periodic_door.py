# SPDX-License-Identifier: GPL-3.0-or-later
"""The background duties (address-book sync, outgoing queue) share one loop: a failed round is logged and
counted, the next one runs on time, and stop ends the thread."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from groupware.runtime.doors import PeriodicDoor


class Flaky(PeriodicDoor):
    """Fails its first round, then counts the others."""

    name = "flaky"

    def __init__(self) -> None:
        super().__init__()
        self.rounds = 0
        self.failures = 0
        self.second = threading.Event()

    def round(self) -> None:
        self.rounds += 1
        if self.rounds == 1:
            raise OSError("directory down")
        self.second.set()

    def failed(self) -> None:
        self.failures += 1

    def interval(self) -> float:
        return 0.01


def test_a_failed_round_is_logged_counted_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    door = Flaky()
    with caplog.at_level(logging.ERROR, logger="groupware.runtime.doors"):
        door.start()
        assert door.second.wait(5)
        door.stop()
    assert door.failures == 1
    assert door.rounds >= 2
    events = [getattr(record, "event", "") for record in caplog.records]
    assert events == ["flaky_failed"]
    assert not door._thread.is_alive()
    assert door.addresses == []


def test_stop_during_the_wait_returns_at_once() -> None:
    door = Flaky()
    door.interval = lambda: 3600.0  # type: ignore[method-assign]
    door.start()
    deadline = time.monotonic() + 5
    while door.failures == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    door.stop()
    assert time.monotonic() - started < 2
    assert not door._thread.is_alive()
    assert door.rounds == 1
    door.stop()  # safe twice
