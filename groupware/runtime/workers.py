# SPDX-License-Identifier: GPL-3.0-or-later
"""Several server processes on the same listening sockets (``[server] workers``).

The DAV work is Python under one interpreter lock: one process uses one core whatever its thread count. So
``groupware serve`` binds its sockets, then starts ``workers`` helper processes (fresh interpreters, started
with ``python -m groupware.runtime.helper``) that inherit those sockets and accept on them; the kernel hands
each new connection to one of them (with ``workers = 1``, the first process serves HTTP itself and starts
none). Everything they share lives in the database (collections, grants, lockouts); each keeps its own caches
(logins, directory entries), which only ever hold what the database or the directory said within their time
to live.

The first process keeps the other doors (ManageSieve, LMTP) and the periodic address-book sync, watches the
helpers and starts a new one when one dies. A helper's standard input is a pipe from the first process: the
configuration that process loaded comes first, then the end of the pipe, when the first process stops or is
killed, tells the helper to stop. Helpers run in their own session, so that Ctrl-C stops the first process,
which then stops them in order.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from groupware import metrics

if TYPE_CHECKING:
    from groupware.config import Config

__all__ = ["Workers", "bind_sockets", "cpu_quota", "worker_count"]

log = logging.getLogger("groupware.workers")

#: A helper that dies is started again after 1 s, then 2, 4 … up to this many seconds while it keeps dying
#: within :data:`STABLE` seconds of its start (a helper failing at start would otherwise spin).
MAX_RESTART_DELAY = 60.0
STABLE = 30.0
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def cpu_quota(cpu_max: str) -> int | None:
    """The CPUs a cgroup v2 ``cpu.max`` line allows (``"200000 100000"`` → 2, ``"max 100000"`` → None)."""
    parts = cpu_max.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return max(1, math.ceil(quota / period)) if quota > 0 and period > 0 else None


def _available_cpus() -> int:
    """Cores this process may run on, within its container's CPU quota when it has one."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota = cpu_quota(CGROUP_CPU_MAX.read_text(encoding="ascii"))
    except OSError:
        quota = None
    return max(1, min(cpus, quota or cpus))


def worker_count(value: str) -> int:
    """``auto`` (one per processor core available, container quota included, and at least two: HTTP then never
    runs in the process of the mail doors) or a positive number.

    Raises:
        ValueError: anything else.
    """
    if value.strip().lower() == "auto":
        return max(2, _available_cpus())
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError("auto or a whole number of at least 1")
    return count


def bind_sockets(listen: str, backlog: int = 1024) -> list[socket.socket]:
    """Listening TCP sockets for waitress's ``listen`` string (``host:port ...``; names: every address)."""
    from waitress.adjustments import Adjustments

    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, address in Adjustments(listen=listen).listen:
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


@dataclass
class _Slot:
    """One helper's place: the process running there (if any), and when to start the next one."""

    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float = 0.0
    quick_deaths: int = 0


class Workers:
    """Starts ``count`` helper processes serving ``sockets`` with ``config`` (the configuration the first
    process loaded, handed over on their standard input: a file edited meanwhile does not split the
    processes), restarts those that die, and stops them.

    A helper that exits with status 0 was asked to stop (SIGTERM to it, or to the whole service) and is not
    restarted; one that dies otherwise is, after a delay that grows while it keeps dying young.
    """

    name = "workers"

    def __init__(self, config: Config, sockets: Sequence[socket.socket], count: int) -> None:
        self._config = pickle.dumps(config)
        self._sockets = list(sockets)
        self._slots = [_Slot() for _ in range(count)]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, name="groupware-workers", daemon=True)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """None of their own: the helpers serve the first process's sockets."""
        return []

    @property
    def pids(self) -> list[int]:
        """The process ids of the helpers running now."""
        with self._lock:
            return [s.process.pid for s in self._slots if s.process is not None and s.process.poll() is None]

    def start(self) -> None:
        """Start every helper and the thread that watches them."""
        with self._lock:
            for slot in self._slots:
                self._start(slot)
        self._watcher.start()
        log.info(
            "workers started",
            extra={
                "event": "workers_started",
                "workers": len(self._slots),
                "pids": ",".join(str(pid) for pid in self.pids),
            },
        )

    def _start(self, slot: _Slot) -> None:
        """Start a helper in ``slot``; when that fails, log it and try again later."""
        fds = [sock.fileno() for sock in self._sockets]
        command = [sys.executable, "-m", "groupware.runtime.helper", "--sockets", ",".join(map(str, fds))]
        try:
            process = subprocess.Popen(command, pass_fds=fds, stdin=subprocess.PIPE, start_new_session=True)
            assert process.stdin is not None
            process.stdin.write(self._config)
            process.stdin.flush()
        except (OSError, ValueError) as exc:
            slot.process, slot.restart_at = None, time.monotonic() + self._delay(slot)
            log.error("cannot start a worker", extra={"event": "worker_start_failed", "error": str(exc)})
            return
        slot.process, slot.started = process, time.monotonic()

    @staticmethod
    def _delay(slot: _Slot) -> float:
        slot.quick_deaths += 1
        return min(MAX_RESTART_DELAY, 2.0 ** (slot.quick_deaths - 1))

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                if self._stopping.is_set():
                    return
                for slot in self._slots:
                    self._check(slot, time.monotonic())

    def _check(self, slot: _Slot, now: float) -> None:
        process = slot.process
        if process is None:
            if slot.restart_at and now >= slot.restart_at:
                slot.restart_at = 0.0
                self._start(slot)
            return
        status = process.poll()
        if status is None:
            return
        _close(process.stdin)
        slot.process = None
        metrics.process_gone(process.pid)
        if status == 0:
            log.info("worker stopped", extra={"event": "worker_stopped", "pid": process.pid})
            return
        if now - slot.started >= STABLE:
            slot.quick_deaths = 0
        slot.restart_at = now + self._delay(slot)
        log.error(
            "worker died, starting another",
            extra={
                "event": "worker_died",
                "pid": process.pid,
                "status": status,
                "restart_in": round(slot.restart_at - now, 1),
            },
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every helper to finish its requests and exit; kill those still running after ``timeout``."""
        self._stopping.set()
        with self._lock:
            processes = [slot.process for slot in self._slots if slot.process is not None]
            for slot in self._slots:
                slot.process = None
        for process in processes:
            _close(process.stdin)  # the end of their standard input is the helpers' signal to stop
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker killed", extra={"event": "worker_killed", "pid": process.pid})
                process.kill()
                process.wait()


def _close(stream: IO[bytes] | None) -> None:
    if stream is not None:
        with contextlib.suppress(OSError):  # the helper is gone: nothing was left to flush
            stream.close()
