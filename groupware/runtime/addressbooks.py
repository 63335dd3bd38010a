# SPDX-License-Identifier: GPL-3.0-or-later
"""The academic address books (:mod:`groupware.addressbooks`) kept in step with the directory.

* :func:`sync_once`: one sync from the configured directory into the storage engine (``groupware addressbooks
  sync`` and the periodic sync both use it);
* :class:`AddressBookSync`: inside ``groupware serve``, a door without an address: a daemon thread that syncs
  every ``[addressbooks] interval`` seconds; requests go on meanwhile (readers never wait in SQLite's WAL
  mode, writers wait at most one batch).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from groupware import metrics
from groupware.addressbooks import BookSettings, SyncReport, sync_books
from groupware.addressbooks.mapping import mapping_from
from groupware.addressbooks.sync import up_to_date
from groupware.config import Config
from groupware.directory import Directory
from groupware.directory.survey import book_warnings
from groupware.runtime.doors import PeriodicDoor
from groupware.sharing.database import SharingDatabase
from groupware.store import Store

__all__ = ["AddressBookSync", "settings_of", "sync_once"]

log = logging.getLogger("groupware.addressbooks")

#: ``progress(done, total, what)``: called as books are written.
Progress = Callable[[int, int, str], None]


def settings_of(config: Config) -> BookSettings:
    """The book settings of ``[addressbooks]``.

    Raises:
        ValueError: the ``mapping`` names an unknown property or field (see :func:`mapping_problems`).
    """
    section = config.addressbooks
    mapping = mapping_from(section.mapping)
    return BookSettings(section.owner, section.academie, section.books, section.groups, mapping)


def sync_once(
    config: Config,
    store: Store,
    directory: Directory,
    sharing: SharingDatabase | None,
    progress: Progress | None = None,
    full: bool = False,
) -> SyncReport:
    """Read the directory (past any cache) and sync the books; nothing more when the directory's fingerprint
    says that nothing changed since the last complete run (unless ``full``)."""
    source = getattr(directory, "inner", directory)
    settings = settings_of(config)
    probe = getattr(source, "fingerprint", None)
    fingerprint = str(probe()) if callable(probe) else ""
    if not full and up_to_date(store, settings, fingerprint):
        return SyncReport(skipped=True)
    people = list(source.iter_people())
    groups = list(source.iter_groups())
    entries = getattr(source, "iter_establishments", None)
    departements = {e.uai: e.departement for e in entries()} if callable(entries) else {}
    report = sync_books(store, people, groups, settings, sharing, progress, fingerprint, departements)
    report.warnings = book_warnings(people, groups, config.directory)
    for warning in report.warnings:
        log.warning("address books: %s", warning, extra={"event": "addressbooks_warning"})
    return report


class AddressBookSync(PeriodicDoor):
    """Syncs every ``interval`` seconds in a daemon thread until :meth:`stop`; the first sync runs at once."""

    name = "addressbooks"

    def __init__(self, config: Config, store: Store, directory: Directory, sharing: SharingDatabase) -> None:
        self._config, self._store, self._directory, self._sharing = config, store, directory, sharing
        self.last: SyncReport | None = None
        self.done = threading.Event()
        super().__init__()

    def round(self) -> None:
        """One sync, timed; :attr:`done` is set after the first round, whatever its outcome."""
        started = time.monotonic()
        try:
            self.last = sync_once(self._config, self._store, self._directory, self._sharing)
            metrics.observe("groupware_addressbook_sync_seconds", time.monotonic() - started)
        finally:
            self.done.set()

    def failed(self) -> None:
        """Count the failed sync."""
        metrics.count("groupware_addressbook_sync_failures_total")

    def interval(self) -> float:
        """``[addressbooks] interval``."""
        return float(self._config.addressbooks.interval)
