# SPDX-License-Identifier: GPL-3.0-or-later
"""Several server processes on the same listening sockets (``[server] workers``).

The DAV work is Python under one interpreter lock: one process uses one core whatever its thread count. So
``groupware serve`` binds its sockets, then starts ``workers - 1`` helper processes (fresh interpreters, started
with ``python -m groupware.workers``) that inherit those sockets and accept on them beside the first process; the
kernel hands each new connection to one of them. Everything they share lives in the database (collections,
grants, lockouts); each keeps its own caches, which only ever hold what the database or the directory says.

The first process keeps the other doors (ManageSieve, LMTP) and the periodic address-book sync, watches the
helpers and starts a new one when one dies. Each helper holds the read end of a pipe whose write end only the
first process holds: when that process goes away, even killed, the helpers see the end of the pipe and stop.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Workers", "bind_sockets", "worker_count"]

log = logging.getLogger("groupware.workers")

#: Seconds a helper that died is left before it is started again (a helper failing at start would spin).
RESTART_DELAY = 1.0


def worker_count(value: str) -> int:
    """``auto`` (one per processor core this process may run on) or a positive number.

    Raises:
        ValueError: anything else.
    """
    if value.strip().lower() == "auto":
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError("auto or a whole number of at least 1")
    return count


def bind_sockets(listen: str, backlog: int = 1024) -> list[socket.socket]:
    """Listening TCP sockets for waitress's ``listen`` string (``host:port ...``; names resolve to every address)."""
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
class _Helper:
    process: subprocess.Popen[bytes]
    pipe: int  # write end of the pipe the helper watches
    started: float


class Workers:
    """Starts ``count`` helper processes serving ``sockets`` with the configuration file ``config_path``, keeps
    them running, and stops them."""

    def __init__(self, config_path: str, sockets: Sequence[socket.socket], count: int) -> None:
        self._config_path = config_path
        self._sockets = list(sockets)
        self._count = count
        self._helpers: list[_Helper | None] = [None] * count
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, name="groupware-workers", daemon=True)

    @property
    def pids(self) -> list[int]:
        """The process ids of the helpers running now."""
        with self._lock:
            return [h.process.pid for h in self._helpers if h is not None and h.process.poll() is None]

    def start(self) -> None:
        """Start every helper and the thread that restarts them."""
        with self._lock:
            for slot in range(self._count):
                self._helpers[slot] = self._spawn()
        self._watcher.start()
        log.info("workers started", extra={"event": "workers_started", "workers": self._count + 1,
                                           "pids": ",".join(str(pid) for pid in self.pids)})

    def _spawn(self) -> _Helper:
        read_end, write_end = os.pipe()
        fds = [sock.fileno() for sock in self._sockets]
        command = [sys.executable, "-m", "groupware.workers", "--config", self._config_path,
                   "--sockets", ",".join(map(str, fds)), "--parent", str(read_end)]
        try:
            process = subprocess.Popen(command, pass_fds=[*fds, read_end], stdin=subprocess.DEVNULL)
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        os.set_inheritable(write_end, False)
        return _Helper(process, write_end, time.monotonic())

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                for slot, helper in enumerate(self._helpers):
                    if helper is None or helper.process.poll() is None or self._stopping.is_set():
                        continue
                    if time.monotonic() - helper.started < RESTART_DELAY:
                        continue
                    log.error("worker exited, starting another", extra={
                        "event": "worker_exited", "pid": helper.process.pid, "status": helper.process.returncode})
                    os.close(helper.pipe)
                    self._helpers[slot] = self._spawn()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every helper to finish its requests and exit; kill those still running after ``timeout``."""
        self._stopping.set()
        with self._lock:
            helpers, self._helpers = [h for h in self._helpers if h is not None], []
        for helper in helpers:
            os.close(helper.pipe)  # the end of the pipe is the helper's signal to stop
        deadline = time.monotonic() + timeout
        for helper in helpers:
            try:
                helper.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker killed", extra={"event": "worker_killed", "pid": helper.process.pid})
                helper.process.kill()
                helper.process.wait()


def _stop_with_parent(pipe: int) -> None:
    """Block until the first process closes its end of the pipe (or dies), then stop this helper as SIGTERM
    does (requests in progress finish)."""
    try:
        while os.read(pipe, 1):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    """A helper process: serve the inherited sockets until the first process stops or goes away."""
    parser = argparse.ArgumentParser(prog="python -m groupware.workers", description=main.__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--sockets", required=True, help="inherited listening sockets (file descriptors)")
    parser.add_argument("--parent", type=int, required=True, help="read end of the first process's pipe")
    args = parser.parse_args(argv)

    from groupware import config as config_module
    from groupware import logs, server

    loaded = config_module.load(args.config)
    logs.setup(loaded.radicale_sections.get("logging", {}).get("level", "info"))
    server.install_signal_handlers()
    sockets = [socket.socket(fileno=int(fd)) for fd in args.sockets.split(",")]
    http = server.Server(loaded, sockets=sockets)
    threading.Thread(target=_stop_with_parent, args=(args.parent,), daemon=True).start()
    log.info("worker serving", extra={"event": "worker_serving", "pid": os.getpid()})
    http.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
