# SPDX-License-Identifier: GPL-3.0-or-later
"""Composition root of the serving processes: the keep-alive HTTP server (waitress) around the application, the
helper processes of ``[server] workers`` and the signals that stop them.

Radicale's built-in server answers HTTP/1.0 and closes every connection; phones polling every few minutes and
Thunderbird syncing many collections pay a TCP (and TLS) handshake per request. We run Radicale's WSGI
application under waitress instead: HTTP/1.1 keep-alive, an asynchronous accept loop that keeps idle connections
cheap, a bounded worker pool and a request-size limit (see ``benchmarks/auth.py`` for the measurement).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

from groupware.addressbooks_door import start_beside
from groupware.config import Config
from groupware.server import make_app, radicale_configuration, server_workers
from groupware.workers import Workers, bind_sockets

__all__ = ["WORKER_THREADS", "Server", "install_signal_handlers"]

log = logging.getLogger("groupware.server")


#: waitress worker threads. The work is CPU-bound Python under one GIL, and every SQLite or LDAP call hands the
#: GIL over: more threads only wait longer for it. Measured with wrk, 20 connections, small GETs: 2 threads
#: 1,820 req/s (p99 22 ms), 4 threads 1,490 (27 ms), 8 threads 1,300 (30 ms), 16 threads 1,000 (39 ms). Four
#: keep a slow request (a first LDAP login, a 52,000-card listing) from holding up the others. More cores are
#: used by more processes (``[server] workers``, :mod:`groupware.workers`): two processes of four threads gave
#: 3,300 req/s where one gave 1,270 on the storage benchmark's GET/PROPFIND mix.
WORKER_THREADS = 4


class Server:
    """The keep-alive HTTP server (waitress) around the application; ``run()`` blocks until ``stop()``."""

    def __init__(
        self,
        config: Config,
        app: Callable[..., Any] | None = None,
        threads: int = WORKER_THREADS,
        sockets: list[socket.socket] | None = None,
    ) -> None:
        """Bind the configured addresses, or serve ``sockets`` inherited from the first process (a helper of
        ``[server] workers``: no helpers, no periodic address-book sync of its own)."""
        import waitress.server

        configuration = radicale_configuration(config)
        self.first = sockets is None
        if sockets is None:
            hosts = configuration.get("server", "hosts")
            sockets = bind_sockets(
                " ".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in hosts)
            )
        try:
            self.app = app or make_app(config)
            self._server = waitress.server.create_server(
                self.app,
                sockets=sockets,
                threads=threads,
                ident="groupware",
                connection_limit=max(configuration.get("server", "max_connections"), 100),
                channel_timeout=max(int(configuration.get("server", "timeout")), 1),
                max_request_body_size=configuration.get("server", "max_content_length"),
                # A whole 52,000-card listing is 13 MB: keep answers that size in memory, not in a temporary file.
                outbuf_overflow=32 * 1024 * 1024,
                clear_untrusted_proxy_headers=True,
            )
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        self._stopped = threading.Event()
        helpers = server_workers(config) - 1 if self.first else 0
        self.workers = Workers(config, sockets, helpers) if helpers > 0 else None
        self.addressbooks = start_beside(config, self.app) if self.first else None

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) pairs actually bound (useful with port 0)."""
        server: Any = self._server
        if hasattr(server, "effective_listen"):
            return [(str(host), int(port)) for host, port in server.effective_listen]
        return [(str(server.effective_host), int(server.effective_port))]

    def run(self) -> None:
        """Serve until :meth:`stop` or Ctrl-C / SIGTERM (with the helper processes of ``[server] workers``)."""
        if self.first:
            for host, port in self.addresses:
                log.info("listening", extra={"event": "listening", "url": f"http://{host}:{port}/"})
        try:
            if self.workers is not None:
                self.workers.start()
            self._server.run()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.close()

    def stop(self) -> None:
        """Ask the serving loop to finish (thread-safe); closing twice would write to a closed trigger."""
        self.close()

    def close(self) -> None:
        """Release the sockets and the directory."""
        if not self._stopped.is_set():
            self._stopped.set()
            if self.workers is not None:  # they finish their own requests meanwhile
                self.workers.stop()
            dispatcher = getattr(self._server, "task_dispatcher", None)
            if dispatcher is not None:  # let requests in progress finish before their channels go away
                dispatcher.shutdown(timeout=5)
            self._server.close()
            if self.addressbooks is not None:
                self.addressbooks.stop()
            services = getattr(self.app, "_services", None)
            if services is not None:
                services.directory.close()
                if services.sharing is not None:
                    services.sharing.db.close()
            storage_close = getattr(getattr(self.app, "_storage", None), "close", None)
            if callable(
                storage_close
            ):  # groupware's storage holds database connections; Radicale's holds none
                storage_close()
            log.info("stopped", extra={"event": "stopped"})


def install_signal_handlers() -> None:
    """Make SIGINT (Ctrl-C) and SIGTERM stop the server cleanly, even when started in the background. The first
    signal stops; later ones are ignored, so that they cannot interrupt the stopping (helpers that do not finish
    are killed after a while, see :meth:`groupware.workers.Workers.stop`)."""

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
