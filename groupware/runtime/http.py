# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTTP door: the keep-alive HTTP server (waitress) around the WSGI application.

Radicale's built-in server answers HTTP/1.0 and closes every connection; phones polling every few minutes and
Thunderbird syncing many collections pay a TCP (and TLS) handshake per request. We run the WSGI application
under waitress instead: HTTP/1.1 keep-alive, an asynchronous accept loop that keeps idle connections cheap, a
bounded worker pool and a request-size limit (see ``benchmarks/auth.py`` for the measurement).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import radicale.config

from groupware.config import LimitsConfig
from groupware.dav.forwarded import ForwardedMiddleware, Proxies
from groupware.runtime.connections import ConnectionPolicy, bound_connections

__all__ = ["WORKER_THREADS", "HttpDoor"]

log = logging.getLogger("groupware.server")

#: waitress worker threads. The work is CPU-bound Python under one GIL, and every SQLite or LDAP call hands
#: the GIL over: more threads only wait longer for it. Measured with wrk, 20 connections, small GETs: 2
#: threads 1,820 req/s (p99 22 ms), 4 threads 1,490 (27 ms), 8 threads 1,300 (30 ms), 16 threads 1,000 (39
#: ms). Four keep a slow request (a first LDAP login, a 52,000-card listing) from holding up the others. More
#: cores are used by more processes (``[server] workers``, :mod:`groupware.runtime.workers`): two processes of
#: four threads gave 3,300 req/s where one gave 1,270 on the storage benchmark's GET/PROPFIND mix.
WORKER_THREADS = 4


def listen_string(configuration: radicale.config.Configuration) -> str:
    """``[server] hosts`` as waitress's ``listen`` string (IPv6 hosts in brackets)."""
    hosts = configuration.get("server", "hosts")
    return " ".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in hosts)


class HttpDoor:
    """Serves ``app`` on ``sockets`` (bound by the caller); :meth:`run` blocks until :meth:`stop`."""

    name = "http"

    def __init__(
        self,
        configuration: radicale.config.Configuration,
        app: Callable[..., Any],
        sockets: list[socket.socket],
        threads: int = WORKER_THREADS,
        limits: LimitsConfig | None = None,
    ) -> None:
        import waitress.server

        limits = limits or LimitsConfig()
        _allow_descriptors(limits.max_connections + 64)
        self._server = waitress.server.create_server(
            app,
            sockets=sockets,
            threads=threads,
            ident="groupware",
            connection_limit=limits.max_connections,
            # poll(2), not select(2): no limit of 1,024 descriptors on the connections held open.
            asyncore_use_poll=True,
            # The idle and header deadlines are checked in the maintenance pass: once a second.
            cleanup_interval=1,
            channel_timeout=max(int(configuration.get("server", "timeout")), 1),
            max_request_body_size=configuration.get("server", "max_content_length"),
            # A whole 52,000-card listing is 13 MB: keep answers that size in memory, not in a temporary file.
            outbuf_overflow=32 * 1024 * 1024,
            # Forwarding headers are read (from trusted proxies only) and removed by groupware.dav.forwarded.
            clear_untrusted_proxy_headers=False,
            # Read ahead while a request runs: a client that has gone is seen, and its request's work stops
            # (groupware.dav.budget); one request read ahead per connection at most.
            channel_request_lookahead=1,
        )
        proxies = app.proxies if isinstance(app, ForwardedMiddleware) else Proxies()
        policy = ConnectionPolicy(limits.max_connections_per_address, limits.header_timeout, proxies.is_proxy)
        bound_connections(self._socket_map(), policy)
        self._stopped = threading.Event()
        self._running = threading.Event()
        self._done = threading.Event()

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) pairs actually bound (useful with port 0)."""
        server: Any = self._server
        if hasattr(server, "effective_listen"):
            return [(str(host), int(port)) for host, port in server.effective_listen]
        return [(str(server.effective_host), int(server.effective_port))]

    def start(self) -> None:
        """Nothing to do: the sockets listen already, and :meth:`run` serves them in the caller's thread."""

    def run(self) -> None:
        """Serve until :meth:`stop` (returns at once if it was stopped before)."""
        self._running.set()
        try:
            if not self._stopped.is_set():
                self._server.run()
        finally:
            self._done.set()

    def _socket_map(self) -> dict[int, Any]:
        server: Any = self._server
        found: dict[int, Any] = getattr(server, "map", None) or server._map
        return found

    def stop(self) -> None:
        """Let requests in progress finish, then close the sockets and connections (thread-safe, once).

        The sockets are closed by the serving loop itself (through waitress's trigger): closing them from
        another thread while that loop waits in ``select`` on them fails there with ``EBADF``.
        """
        from waitress import wasyncore
        from waitress.trigger import trigger

        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.task_dispatcher.shutdown(timeout=5)  # requests in progress finish first
        socket_map = self._socket_map()
        waker = next((channel for channel in socket_map.values() if isinstance(channel, trigger)), None)
        if self._running.is_set() and not self._done.is_set() and waker is not None:
            # The loop runs the trigger's thunks under its lock, maybe woken by an earlier pull (a worker's,
            # at the end of a request): holding the lock until our byte is written keeps the thunk, which
            # closes the trigger's pipe, from running before the write (EBADF, or a byte in a reused fd).
            with waker.lock:
                waker.thunks.append(lambda: wasyncore.close_all(socket_map))
                waker.pull_trigger()
            if self._done.wait(10):
                return
        wasyncore.close_all(socket_map)


def _allow_descriptors(wanted: int) -> None:
    """Raise this process's soft limit of open files towards ``wanted`` (never above the hard limit)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
