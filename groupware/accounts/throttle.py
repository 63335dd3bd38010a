# SPDX-License-Identifier: GPL-3.0-or-later
"""Failure counting with lockout: N failures within a sliding window lock a subject out for a while."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Protocol

__all__ = ["FailureCounter", "Throttle"]


class FailureCounter(Protocol):
    """What the login policy needs from a failure counter (this module's, or the database's in
    ``lockouts``).
    """

    def locked(self, subject: Hashable) -> bool:
        """True while ``subject`` is locked out."""

    def fail(self, subject: Hashable, limit: int) -> bool:
        """Record one failure; True when it locks ``subject`` out."""

    def reset(self, subject: Hashable) -> None:
        """Forget the failures of ``subject``."""

    def record(self, subject: Hashable) -> int:
        """Record one failure of ``subject`` that never locks it out; return its failures in the window."""


class Throttle:
    """Counts failures per subject (a login, a client address) in this process's memory and locks a subject
    out at its limit (one process; ``groupware serve`` uses
    :class:`~groupware.accounts.lockouts.DatabaseThrottle`).

    Memory stays bounded: subjects with no recent failure are pruned, and at most ``max_subjects`` are
    tracked.
    """

    def __init__(
        self,
        window: float,
        lockout: float,
        clock: Callable[[], float] = time.monotonic,
        max_subjects: int = 200_000,
    ) -> None:
        self._window = window
        self._lockout = lockout
        self._clock = clock
        self._max = max_subjects
        self._failures: dict[Hashable, deque[float]] = {}
        self._locked_until: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def locked(self, subject: Hashable) -> bool:
        """True while ``subject`` is locked out."""
        with self._lock:
            until = self._locked_until.get(subject)
            if until is None:
                return False
            if self._clock() >= until:
                del self._locked_until[subject]
                self._failures.pop(subject, None)
                return False
            return True

    def fail(self, subject: Hashable, limit: int) -> bool:
        """Record one failure; return True when this failure locks ``subject`` out."""
        now = self._clock()
        with self._lock:
            times = self._count(subject, now)
            if len(times) >= limit and subject not in self._locked_until:
                self._locked_until[subject] = now + self._lockout
                return True
            return False

    def record(self, subject: Hashable) -> int:
        """Record one failure of ``subject`` that never locks it out; return its failures in the window."""
        now = self._clock()
        with self._lock:
            times = self._count(subject, now)
            return len(times)

    def _count(self, subject: Hashable, now: float) -> deque[float]:
        times = self._failures.setdefault(subject, deque())
        times.append(now)
        while times and now - times[0] > self._window:
            times.popleft()
        if len(self._failures) > self._max:
            self._prune(now)
        return times

    def reset(self, subject: Hashable) -> None:
        """Forget the failures of ``subject`` (after a successful login)."""
        with self._lock:
            self._failures.pop(subject, None)

    def _prune(self, now: float) -> None:
        stale = [s for s, t in self._failures.items() if not t or now - t[-1] > self._window]
        for subject in stale:
            del self._failures[subject]
        for subject in [s for s, until in self._locked_until.items() if now >= until]:
            del self._locked_until[subject]
        while len(self._failures) > self._max:
            self._failures.pop(next(iter(self._failures)))
