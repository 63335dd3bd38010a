# SPDX-License-Identifier: GPL-3.0-or-later
"""What the supervisor knows of a door: something that starts, stops and listens somewhere."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from groupware.errors import GroupwareError

__all__ = ["Door", "DoorFailed", "PeriodicDoor"]

log = logging.getLogger(__name__)


class DoorFailed(GroupwareError):
    """A door could not start (an address in use, a certificate unreadable …)."""

    def __init__(self, door: str, reason: Exception) -> None:
        super().__init__(f"cannot start {door}: {reason}")
        self.door = door


class Door(Protocol):
    """A way into groupware (HTTP, ManageSieve, LMTP) or a background duty (the address-book sync)."""

    #: A short name for logs and errors (``http``, ``managesieve``, ``lmtp``, ``addressbooks``).
    name: str

    def start(self) -> None:
        """Bind and begin serving in the background; return once serving (or raise ``OSError``)."""

    def stop(self) -> None:
        """Stop serving and release what :meth:`start` took; safe to call twice."""

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) pairs it listens on (none for a background duty)."""


class PeriodicDoor:
    """A background duty with no address: a daemon thread that runs :meth:`round` at once, then every
    :meth:`interval` seconds, until :meth:`stop`. A round that raises is logged (``event``:
    ``<name>_failed``) and the next one runs on time: a directory or a relay down now may be back then."""

    name = "periodic"
    #: How long :meth:`stop` waits for a round in progress to end.
    stop_timeout = 10.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)

    def round(self) -> None:
        """One unit of the duty (a sync, a queue flush)."""
        raise NotImplementedError

    def failed(self) -> None:
        """Called after a round raised (and was logged): count it, for instance."""

    def interval(self) -> float:
        """Seconds between the end of a round and the start of the next."""
        raise NotImplementedError

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """None: it listens nowhere."""
        return []

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.round()
            except Exception:  # the next round may succeed (directory back, disk freed, relay up)
                log.exception("%s round failed", self.name, extra={"event": f"{self.name}_failed"})
                self.failed()
            if self._stop.wait(self.interval()):
                return

    def stop(self) -> None:
        """Ask the thread to finish (after the round in progress, if any) and wait a little for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.stop_timeout)
