# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware serve``: one supervisor starts the services, the doors and the helper processes, in order, and
stops them in the reverse order.

The first process binds the HTTP sockets, builds the services once (:mod:`groupware.runtime.services`) and
starts, as the configuration asks: the helper processes of ``[server] workers``
(:mod:`groupware.runtime.workers`), ManageSieve, LMTP (both on one shared event loop), the retries of the
outgoing mail queue and the periodic address-book sync; then it waits until Ctrl-C, SIGTERM or
:meth:`Supervisor.stop`. A helper process runs a supervisor on the inherited sockets that serves HTTP only.

With ``workers = 1`` the first process serves HTTP itself, in its own thread, and there is no helper. With
more, every HTTP request is served by a helper: a request that runs away with the CPU or the memory of its
process, or kills it, never takes ManageSieve, LMTP, the queue or the sync with it, and the first process
starts a new helper in the place of one that died.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from typing import Any

from groupware import metrics
from groupware.config import Config
from groupware.dav.app import GroupwareApplication, make_app
from groupware.dav.configuration import radicale_configuration
from groupware.runtime.addressbooks import AddressBookSync
from groupware.runtime.doors import Door, DoorFailed
from groupware.runtime.http import HttpDoor, listen_string
from groupware.runtime.loop import EventLoopThread
from groupware.runtime.services import Services, build_services
from groupware.runtime.workers import Workers, bind_sockets, worker_count
from groupware.store import Store

__all__ = ["Supervisor", "install_signal_handlers", "server_workers"]

log = logging.getLogger("groupware.server")


def server_workers(config: Config) -> int:
    """``[server] workers``: how many processes serve HTTP (``auto``, the default: one per processor core)."""
    return worker_count(config.radicale_sections.get("server", {}).get("workers", "auto"))


class Supervisor:
    """The doors of one process around one set of services; :meth:`run` blocks until :meth:`stop`.

    ``sockets``: the listening sockets inherited from the first process (a helper of ``[server] workers``,
    which serves HTTP only). Raises ``ConfigError`` (an admin script) or ``OSError`` (an address) when a door
    cannot be built; nothing is left open then.
    """

    def __init__(self, config: Config, sockets: list[socket.socket] | None = None) -> None:
        self.config = config
        self.first = sockets is None
        #: Whether this process accepts HTTP connections: a helper, or a first process without helpers.
        self.serves_http = not self.first or server_workers(config) == 1
        self._stop_requested = threading.Event()
        #: The folder where every process of this server counts its metrics (helpers only).
        self.metrics_folder = metrics.share_between_processes() if not self.serves_http else None
        configuration = radicale_configuration(config)
        sockets = bind_sockets(listen_string(configuration)) if sockets is None else sockets
        self.doors: list[Door] = []
        self.loop = EventLoopThread()
        self.workers: Workers | None = None
        self.addressbooks: AddressBookSync | None = None
        self._running = self._stopped = False
        self._state = threading.Lock()
        try:
            self.services: Services = build_services(config)
            wsgi, self.app = make_app(self.services)
            self.http = HttpDoor(configuration, wsgi, sockets, limits=config.limits)
            if self.first:
                self._build_first_process_doors(sockets)
        except BaseException:
            for sock in sockets:
                sock.close()
            self.close()
            raise

    def _build_first_process_doors(self, sockets: list[socket.socket]) -> None:
        from groupware.runtime.mail_doors import LmtpDoor, ManageSieveDoor, queue_door

        helpers = server_workers(self.config) if not self.serves_http else 0
        if helpers > 0:
            self.workers = Workers(self.config, sockets, helpers)
            self.doors.append(self.workers)
        if self.config.sieve.enabled:
            self.doors.append(ManageSieveDoor(self.config, self.services, self.loop))
        if self.config.lmtp.enabled:
            self.doors.append(LmtpDoor(self.config, self.services, self.loop))
        mail_queue = queue_door(self.config)
        if mail_queue is not None:
            self.doors.append(mail_queue)
        self.addressbooks = _address_book_sync(self.config, self.app, self.services)
        if self.addressbooks is not None:
            self.doors.append(self.addressbooks)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where HTTP listens (the ports picked, with port 0 in the configuration)."""
        return self.http.addresses

    def run(self) -> None:
        """Start the other doors, then serve HTTP in this thread (or, when helpers serve it, wait) until
        :meth:`stop`, Ctrl-C or SIGTERM."""
        started: list[Door] = []
        with self._state:
            if self._stopped:
                return
            self._running = True
        try:
            for door in self.doors:
                try:
                    door.start()
                except OSError as exc:
                    raise DoorFailed(door.name, exc) from exc
                started.append(door)
            if self.first:
                for host, port in self.addresses:
                    log.info("listening", extra={"event": "listening", "url": f"http://{host}:{port}/"})
            if self.serves_http:
                self.http.run()
            else:
                while not self._stop_requested.wait(1.0):
                    pass
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.doors = started
            self.close()

    def stop(self) -> None:
        """Ask :meth:`run` to return (thread-safe); closes the doors here if it never ran."""
        with self._state:
            self._stopped, running = True, self._running
        self._stop_requested.set()
        self.http.stop()
        if not running:
            self.close()

    def close(self) -> None:
        """Stop every door in the reverse order of their start, then release the services."""
        http = getattr(self, "http", None)
        if http is not None:
            http.stop()
        for door in reversed(self.doors):
            try:
                door.stop()
            except Exception:  # one door's failure must not keep the others open
                log.exception("door did not stop cleanly", extra={"event": "stop_failed", "door": door.name})
        self.doors = []
        self.loop.close()
        services = getattr(self, "services", None)
        if services is not None:
            services.close()
        app = getattr(self, "app", None)
        close_storage = getattr(app.internals.storage, "close", None) if app is not None else None
        if callable(close_storage):  # the engine holds database connections; Radicale's storage holds none
            close_storage()
        if self.metrics_folder is not None:
            metrics.remove_shared(self.metrics_folder)
        if http is not None:
            log.info("stopped", extra={"event": "stopped"})


def _address_book_sync(
    config: Config, app: GroupwareApplication, services: Services
) -> AddressBookSync | None:
    """The periodic sync of a running server (None when the books are off or ``interval`` is 0), on the
    application's own store when its storage is the engine."""
    section = config.addressbooks
    if not section.enabled or section.interval <= 0:
        return None
    store: Any = getattr(app.internals.storage, "store", None)
    if not isinstance(store, Store):
        log.warning("address books need groupware's storage engine", extra={"event": "addressbooks_disabled"})
        return None
    return AddressBookSync(config, store, services.directory, services.sharing.db)


def install_signal_handlers() -> None:
    """Make SIGINT (Ctrl-C) and SIGTERM stop the server cleanly, even when started in the background. The
    first signal stops; later ones are ignored, so that they cannot interrupt the stopping (helpers that do
    not finish are killed after a while, see :meth:`groupware.runtime.workers.Workers.stop`)."""

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
