# SPDX-License-Identifier: GPL-3.0-or-later
"""Connection bounds of the HTTP door: per client address, and a deadline for a request's headers.

waitress reads requests in its one asynchronous loop and hands only complete ones to the worker threads, so a
slow or idle client costs a socket, not a thread. What it lacks, and this module adds through its documented
``channel_class`` seam (one subclass of :class:`waitress.channel.HTTPChannel`):

* ``max_connections_per_address``: an address holding that many connections has its next one closed at once,
  so one client cannot take the process's ``max_connections`` from everyone else (a trusted reverse proxy,
  ``[server] trusted_proxies``, carries everyone's connections and is not bounded so);
* ``header_timeout``: a request whose headers are not complete that many seconds after its first byte has its
  connection closed (a slow-header client, RFC 9112 §9.5 lets a server close an idle or slow connection),
  while waitress's own ``channel_timeout`` still closes connections silent for ``[server] timeout``. Both are
  checked in waitress's periodic maintenance pass, once a second, not at every turn of its loop.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

__all__ = ["ConnectionPolicy", "bound_connections"]

log = logging.getLogger("groupware.server")


class ConnectionPolicy:
    """The connections each client address holds, across every listening socket of one process."""

    def __init__(
        self, per_address: int, header_timeout: float, unbounded: Callable[[str], bool] | None = None
    ) -> None:
        self.per_address = per_address
        self.header_timeout = header_timeout
        self._unbounded = unbounded or (lambda address: False)
        self._held: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def admit(self, address: str) -> bool:
        """Count one more connection from ``address``; False (and not counted) when it holds enough. An
        ``unbounded`` address (a trusted reverse proxy, which carries every client's connections) is only
        bounded by the process's ``max_connections``."""
        unbounded = self._unbounded(address)
        with self._lock:
            if self._held[address] >= self.per_address and not unbounded:
                return False
            self._held[address] += 1
            return True

    def release(self, address: str) -> None:
        """One connection from ``address`` closed."""
        with self._lock:
            self._held[address] -= 1
            if self._held[address] <= 0:
                del self._held[address]

    def held(self, address: str) -> int:
        """How many connections ``address`` holds now."""
        with self._lock:
            return self._held[address]


def _channel_class(policy: ConnectionPolicy) -> type[HTTPChannel]:
    """An HTTPChannel that applies ``policy``: admission (a refused connection is closed before any channel
    is built or registered), the start time of each request, release on close."""

    class BoundedChannel(HTTPChannel):  # type: ignore[misc]  # waitress is untyped
        _held_for: str | None = None
        _request_started = 0.0

        def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:
            address = str(addr[0]) if isinstance(addr, tuple) and addr else str(addr)
            if not policy.admit(address):
                log.debug("too many connections", extra={"event": "connection_refused", "address": address})
                with contextlib.suppress(OSError):
                    sock.close()
                return
            self._held_for = address
            try:
                super().__init__(server, sock, addr, adj, map)
            except BaseException:
                policy.release(address)
                self._held_for = None
                raise

        def received(self, data: bytes) -> bool:
            if self.request is None:
                self._request_started = time.monotonic()
            return bool(super().received(data))

        def headers_overdue(self, now: float) -> bool:
            """Whether a request has been arriving for longer than the header deadline, headers unfinished."""
            request = self.request
            return (
                request is not None
                and not request.headers_finished
                and now - self._request_started > policy.header_timeout
            )

        def del_channel(self, map: Any = None) -> None:
            if self._held_for is not None:
                policy.release(self._held_for)
                self._held_for = None
            super().del_channel(map)

    return BoundedChannel


def _sweeping(server: Any) -> Any:
    """``server.maintenance`` (waitress calls it every ``cleanup_interval`` seconds; it closes idle channels)
    extended to close the channels whose request headers are overdue: one pass a second over the channels,
    instead of a check in every channel at every turn of the loop."""
    original = server.maintenance

    def maintenance(now: float) -> None:
        original(now)
        monotonic = time.monotonic()
        for channel in list(server.active_channels.values()):
            overdue = getattr(channel, "headers_overdue", None)
            if overdue is not None and not channel.will_close and overdue(monotonic):
                log.info(
                    "request headers too slow", extra={"event": "header_timeout", "address": channel.addr}
                )
                channel.will_close = True

    return maintenance


def bound_connections(socket_map: dict[int, Any], policy: ConnectionPolicy) -> None:
    """Make every listening server of ``socket_map`` (a waitress map) accept through ``policy`` and sweep
    overdue headers (waitress must run with ``cleanup_interval`` of about a second)."""
    channel = _channel_class(policy)
    for dispatcher in socket_map.values():
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = channel
            dispatcher.maintenance = _sweeping(dispatcher)
