# SPDX-License-Identifier: GPL-3.0-or-later
"""Materialize the books in the storage engine and share them, incrementally.

One run reads the directory once (paged, RFC 2696), builds every book's desired cards, compares them with the
book's items by href and entity tag (:mod:`groupware.addressbooks.planner`) and writes only the difference,
:data:`BATCH` operations per transaction: large enough to be fast, short enough that the server's own writers
(a user's PUT) wait at most a fraction of a second for the write lock, while readers never wait (SQLite WAL).
Every write goes through :class:`groupware.store.Store`, so the book's change log records exactly the items
that changed and a client's sync-collection (RFC 6578 §3.2) returns exactly those.

Books are registered in the sharing database as agendas of kind ``addressbook`` with ``read`` grants
(:mod:`groupware.addressbooks.books` says to whom); grants made by the sync carry ``granted_by =
addressbooks`` and are the only ones it revokes. Books the directory no longer calls for (an établissement
closed) are deleted with their registration.

A directory that offers a ``fingerprint()`` (a digest of every entry's DN and modification time, far cheaper
than a full read) lets a run end early: :func:`up_to_date` compares it, with the settings and the card format,
to the one the last complete run recorded on the owner's collection (``/annuaire/``, which no client can
read).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from groupware.addressbooks.books import Book, BookSettings, build_books
from groupware.addressbooks.planner import BookPlan, plan
from groupware.addressbooks.vcard import PRODID, Card
from groupware.directory import Group, Person
from groupware.sharing.database import SharingDatabase
from groupware.sharing.model import Level
from groupware.store import ItemData, Store

__all__ = [
    "BATCH",
    "GRANTED_BY",
    "KIND",
    "BookReport",
    "Progress",
    "SyncReport",
    "stamp_of",
    "sync_books",
    "up_to_date",
]

log = logging.getLogger("groupware.addressbooks")

BATCH = 1000
GRANTED_BY = "addressbooks"
KIND = "addressbook"
FINGERPRINT = "groupware:directory-fingerprint"
FORMAT = "1"  # bump when the cards' text changes for the same directory entry
# progress(done, total, what): items written or checked so far, in all books, and the book at hand
Progress = Callable[[int, int, str], None]
_lock = threading.Lock()  # one sync at a time in a process (the command and the server's thread)


@dataclass(frozen=True)
class BookReport:
    """What one run did to one book."""

    path: str
    added: int
    changed: int
    removed: int
    unchanged: int


@dataclass
class SyncReport:
    """What one run did: per book, books deleted, people read, seconds taken."""

    books: list[BookReport] = field(default_factory=list)
    deleted_books: list[str] = field(default_factory=list)
    people: int = 0
    seconds: float = 0.0
    skipped: bool = False
    #: Why a book is empty or unread (:func:`groupware.directory.survey.book_warnings`), for the operator.
    warnings: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        """Items written or deleted in all books."""
        return sum(b.added + b.changed + b.removed for b in self.books)


def _item(card: Card) -> ItemData:
    return ItemData(card.href, card.text, card.etag, card.uid, "VCARD", "", contact=card.contact)


class _Writer:
    """Applies plans in transactions of about :data:`BATCH` operations, small books grouped together, and
    reports progress."""

    def __init__(self, store: Store, total: int, progress: Progress | None) -> None:
        self.store, self.total, self.progress = store, total, progress
        self.done = 0
        self._pending: list[tuple[Book, list[Card | str], int]] = []
        self._size = 0

    def apply(self, book: Book, book_plan: BookPlan) -> None:
        """Queue the book's operations; write once a batch is full."""
        operations: list[Card | str] = [*book_plan.added, *book_plan.changed, *book_plan.removed]
        for start in range(0, max(len(operations), 1), BATCH):
            chunk = operations[start : start + BATCH]
            self._pending.append((book, chunk, book_plan.unchanged if start == 0 else 0))
            self._size += len(chunk) + 1
            if self._size >= BATCH:
                self.flush()

    def flush(self) -> None:
        """Write what is queued in one transaction."""
        if not self._pending:
            return
        with self.store.transaction():
            for book, chunk, _ in self._pending:
                collection_id = _collection_id(self.store, book)
                for operation in chunk:
                    if isinstance(operation, str):
                        self.store.delete_item(collection_id, operation)
                    else:
                        self.store.put_item(collection_id, _item(operation))
        for book, chunk, unchanged in self._pending:
            self.done += len(chunk) + unchanged
            if self.progress is not None:
                self.progress(min(self.done, self.total), self.total, book.path)
        self._pending, self._size = [], 0


def _collection_id(store: Store, book: Book) -> int:
    record = store.get_collection(book.path)
    if record is None:
        record, _, _ = store.create_collection(book.path, book.props)
    elif record.props != book.props:
        record = store.set_props(record.id, book.props)
    return record.id


def _register(sharing: SharingDatabase, book: Book) -> None:
    """The book as an agenda of kind ``addressbook`` with exactly the sync's ``read`` grants."""
    path = f"/{book.path}/"
    agenda = sharing.agenda(path)
    if agenda is None:
        sharing.create_agenda(path, book.path.split("/")[0], KIND, book.title)
    wanted = set(book.readers)
    for grant in sharing.grants(path):
        if grant.level > Level.READ:  # the books are read-only, whoever granted more
            sharing.grant(path, grant.grantee, Level.READ, grant.granted_by)
        if grant.grantee in wanted:
            wanted.discard(grant.grantee)
        elif grant.granted_by == GRANTED_BY:
            sharing.revoke(path, grant.grantee)
    for grantee in sorted(wanted, key=str):
        sharing.grant(path, grantee, Level.READ, GRANTED_BY)


def _remove_stale(
    store: Store, sharing: SharingDatabase | None, owner: str, kept: set[str], report: SyncReport
) -> None:
    for record in store.children(owner):
        if record.path not in kept and record.tag == "VADDRESSBOOK":
            store.delete_collection(record.path)
            if sharing is not None and sharing.agenda(f"/{record.path}/") is not None:
                sharing.delete_agenda(f"/{record.path}/")
            report.deleted_books.append(record.path)


def stamp_of(fingerprint: str, settings: BookSettings) -> str:
    """What a complete run records: the directory's fingerprint, the settings and the card format."""
    if not fingerprint:
        return ""
    return hashlib.sha256(f"{fingerprint}\0{settings!r}\0{PRODID}\0{FORMAT}".encode()).hexdigest()


def up_to_date(store: Store, settings: BookSettings, fingerprint: str) -> bool:
    """Whether the last complete run saw this very directory with these settings."""
    record = store.get_collection(settings.owner)
    stamp = stamp_of(fingerprint, settings)
    return bool(stamp) and record is not None and record.props.get(FINGERPRINT) == stamp


def _record_stamp(store: Store, settings: BookSettings, fingerprint: str) -> None:
    record = store.get_collection(settings.owner) or store.ensure_collection(settings.owner)
    stamp = stamp_of(fingerprint, settings)
    if record.props.get(FINGERPRINT) != stamp:
        store.set_props(record.id, {**record.props, FINGERPRINT: stamp})


def sync_books(
    store: Store,
    people: Sequence[Person],
    groups: Sequence[Group],
    settings: BookSettings,
    sharing: SharingDatabase | None = None,
    progress: Progress | None = None,
    fingerprint: str = "",
    departements: Mapping[str, str] | None = None,
) -> SyncReport:
    """Bring every book to what ``people`` and ``groups`` call for; returns what changed. ``fingerprint`` (the
    directory's, taken before ``people`` were read) is recorded once every book is written."""
    started = time.monotonic()
    report = SyncReport(people=len(people))
    with _lock:
        books = list(build_books(people, groups, settings, departements))
        writer = _Writer(store, sum(len(book.cards) for book in books), progress)
        for book in books:
            record = store.get_collection(book.path)
            current = {row[0]: row[1] for row in store.summaries(record.id)} if record is not None else {}
            book_plan = plan(book.cards, current)
            if book_plan.changes or record is None or record.props != book.props:
                writer.apply(book, book_plan)
            elif progress is not None:
                writer.done += book_plan.unchanged
            report.books.append(
                BookReport(
                    book.path,
                    len(book_plan.added),
                    len(book_plan.changed),
                    len(book_plan.removed),
                    book_plan.unchanged,
                )
            )
        writer.flush()
        if progress is not None:
            progress(writer.total, writer.total, settings.owner)
        if sharing is not None:
            with sharing.db.write():  # one transaction (the grants' database may be another connection)
                for book in books:
                    _register(sharing, book)
        _remove_stale(store, sharing, settings.owner, {book.path for book in books}, report)
        _record_stamp(store, settings, fingerprint)
    report.seconds = time.monotonic() - started
    log.info(
        "address books synced",
        extra={
            "event": "addressbooks_synced",
            "books": len(report.books),
            "changes": report.changes,
            "seconds": round(report.seconds, 2),
        },
    )
    return report
