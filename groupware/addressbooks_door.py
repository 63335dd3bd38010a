# SPDX-License-Identifier: GPL-3.0-or-later
"""Composition root for the academic address books (:mod:`groupware.addressbooks`).

* ``groupware addressbooks sync``: one sync from the configured directory into the storage engine, with a
  progress bar on stderr;
* :class:`PeriodicSync`: inside ``groupware serve``, a daemon thread that syncs every ``[addressbooks] interval``
  seconds; requests go on meanwhile (readers never wait in SQLite's WAL mode, writers wait at most one batch);
* :class:`AddressBookAnswers`: the application mixin that serves our cards as vCard 4.0 when a REPORT asks for
  ``address-data`` version 4.0 (RFC 6352 §10.4) and advertises 4.0 in ``supported-address-data`` (§6.2.2) on
  the books, since Radicale 3.9 returns stored text as is.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import xml.etree.ElementTree as ET
from typing import Any

from groupware import registry
from groupware.addressbooks import BookSettings, SyncReport, sync_books, to_vcard4
from groupware.addressbooks.mapping import DEFAULT_MAPPING
from groupware.addressbooks.sync import up_to_date
from groupware.config import Config, storage_database
from groupware.directory import Directory
from groupware.sharing.database import SharingDatabase
from groupware.store import Store

__all__ = [
    "AddressBookAnswers",
    "PeriodicSync",
    "add_arguments",
    "run",
    "settings_of",
    "start_beside",
    "sync_once",
]

log = logging.getLogger("groupware.addressbooks")

CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
DAV = "{DAV:}"


def settings_of(config: Config) -> BookSettings:
    """The book settings of ``[addressbooks]``."""
    section = config.addressbooks
    mapping = dict(section.mapping) if section.mapping else dict(DEFAULT_MAPPING)
    return BookSettings(section.owner, section.academie, section.books, section.groups, mapping)


def sync_once(
    config: Config,
    store: Store,
    directory: Directory,
    sharing: SharingDatabase | None,
    progress: Any = None,
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
    return sync_books(store, people, groups, settings, sharing, progress, fingerprint)


class _Bar:
    """A progress bar on stderr: ``[#####.....] done/total book``."""

    def __init__(self) -> None:
        self._last = (-1, "")
        self._finished = False

    def __call__(self, done: int, total: int, what: str) -> None:
        width = 30
        filled = width if total == 0 else width * done // total
        if (filled, what) == self._last or self._finished:
            return
        self._last = (filled, what)
        self._finished = done >= total
        end = "\n" if self._finished else "\r"
        print(
            f"addressbooks [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} /{what}/".ljust(100),
            end=end,
            file=sys.stderr,
            flush=True,
        )


def run(config: Config, args: argparse.Namespace) -> int:
    """``groupware addressbooks sync``: sync once and print what changed."""
    from groupware.directory.factory import open_directory

    directory = open_directory(config.directory)
    store = Store(storage_database(config), synchronous="NORMAL")
    sharing = (
        SharingDatabase(store.db) if not config.sharing.database else SharingDatabase(config.sharing.database)
    )
    try:
        report = sync_once(config, store, directory, sharing, None if args.quiet else _Bar(), args.full)
    finally:
        directory.close()
        store.close()
    for book in report.books:
        if book.added or book.changed or book.removed or args.verbose:
            print(f"/{book.path}/: +{book.added} ~{book.changed} -{book.removed} ={book.unchanged}")
    for path in report.deleted_books:
        print(f"/{path}/: deleted")
    if report.skipped:
        print("directory unchanged since the last sync: 0 changes (--full reads it all the same)")
        return 0
    print(
        f"{len(report.books)} books, {report.people} people, {report.changes} changes in {report.seconds:.1f} s"
    )
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``groupware addressbooks sync [--config FILE] [--quiet] [--verbose]``."""
    sub = parser.add_subparsers(dest="addressbooks_command", required=True)
    sync = sub.add_parser("sync", help="build or update the address books from the directory")
    sync.add_argument("--config", help="configuration file (default: the demo configuration)")
    sync.add_argument("--quiet", action="store_true", help="no progress bar")
    sync.add_argument("--verbose", action="store_true", help="list unchanged books too")
    sync.add_argument(
        "--full", action="store_true", help="read the whole directory even if it seems unchanged"
    )


class PeriodicSync:
    """Syncs every ``interval`` seconds in a daemon thread until :meth:`stop`; the first sync runs at once."""

    def __init__(self, config: Config, store: Store, services: registry.Services) -> None:
        self._config, self._store, self._services = config, store, services
        self._stop = threading.Event()
        self.last: SyncReport | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="addressbooks-sync", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sharing = self._services.sharing.db if self._services.sharing is not None else None
                self.last = sync_once(self._config, self._store, self._services.directory, sharing)
            except Exception:  # the next round may succeed (directory back, disk freed)
                log.exception("address book sync failed", extra={"event": "addressbooks_failed"})
            self.done.set()
            if self._stop.wait(self._config.addressbooks.interval):
                return

    def stop(self) -> None:
        """Ask the thread to finish and wait a little for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


def _convert(root: ET.Element) -> None:
    """Every ``CR:address-data`` of ours, as vCard 4.0 (RFC 6352 §10.4)."""
    for element in root.iter(CARDDAV + "address-data"):
        if element.text:
            element.text = to_vcard4(element.text)


def _advertise(root: ET.Element, owner: str) -> None:
    """``CR:supported-address-data`` of the books lists vCard 4.0 beside 3.0 (RFC 6352 §6.2.2)."""
    for response in root.iter(DAV + "response"):
        href = (response.findtext(DAV + "href") or "").rstrip("/")
        segments = href.split("/")
        if not (len(segments) >= 2 and (segments[-2] == owner or segments[-1].startswith(owner + "-"))):
            continue
        for supported in response.iter(CARDDAV + "supported-address-data"):
            if not any(t.get("version") == "4.0" for t in supported):
                ET.SubElement(
                    supported, CARDDAV + "address-data-type", {"content-type": "text/vcard", "version": "4.0"}
                )


def _wants_vcard4(root: ET.Element | None) -> bool:
    if root is None:
        return False
    return any(e.get("version") == "4.0" for e in root.iter(CARDDAV + "address-data"))


class AddressBookAnswers:
    """Application mixin: vCard 4.0 on request for our cards; 4.0 advertised on the books."""

    _services: registry.Services

    def do_REPORT(
        self,
        environ: Any,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> Any:
        """RFC 6352 §8.6, §8.7: remember whether ``address-data`` asks for version 4.0."""
        from groupware.server import _parsed_body

        if self._services.config.addressbooks.enabled and _wants_vcard4(_parsed_body(environ)):
            request_info["groupware_vcard4"] = True
        return super().do_REPORT(environ, base_prefix, path, user, user_groups, request_info)  # type: ignore[misc]

    def _xml_response(self, xml_content: ET.Element, request_info: dict[str, Any]) -> bytes:
        section = self._services.config.addressbooks
        if section.enabled:
            if request_info.get("groupware_vcard4"):
                _convert(xml_content)
            _advertise(xml_content, section.owner)
        return super()._xml_response(xml_content, request_info)  # type: ignore[misc,no-any-return]


def start_beside(config: Config, app: Any) -> PeriodicSync | None:
    """The periodic sync of a running server (``None`` when the books are off or ``interval`` is 0), started
    on the application's own store when its storage is the engine."""
    section = config.addressbooks
    services = getattr(app, "_services", None)
    if not section.enabled or section.interval <= 0 or services is None:
        return None
    store = getattr(getattr(app, "_storage", None), "store", None)
    if not isinstance(store, Store):
        log.warning("address books need groupware's storage engine", extra={"event": "addressbooks_disabled"})
        return None
    periodic = PeriodicSync(config, store, services)
    periodic.start()
    return periodic
