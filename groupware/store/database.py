# SPDX-License-Identifier: GPL-3.0-or-later
"""The one SQL connection layer of groupware: SQLite connections and transactions, one connection per thread
(and per process), WAL journal.

:class:`Database` knows no table of its own but ``meta`` (one row per user of the file, its schema version):
the storage engine (:class:`groupware.store.Store`), the sharing tables and the login lockouts each call
:meth:`Database.ensure` with their idempotent DDL, and share one object, hence one connection per thread and
one transaction per request, when they live in one file.

In WAL mode readers never wait for a writer and a writer never waits for readers; writers take the database's
write lock at ``BEGIN IMMEDIATE`` and wait for each other up to ``busy_timeout``, across threads and
processes. A write transaction is re-entrant within a thread: inner units run in a ``SAVEPOINT`` so that a
failed unit (e.g. a UID conflict) is undone without undoing the rest of the outer transaction.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from groupware.store.errors import StoreBusy

__all__ = ["SYNCHRONOUS", "Database", "Upgrade"]

SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
#: SQLite's answers when the lock stayed taken for the whole busy timeout (result codes 5 and 6).
BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
META = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"

#: Brings the tables of one user from the version stored in ``meta`` to the current one, inside the write
#: transaction of :meth:`Database.ensure` (``(connection, stored version)``).
Upgrade = Callable[[sqlite3.Connection, int], None]


class _ThreadState(threading.local):
    pid: int = -1
    connection: sqlite3.Connection | None = None
    depth: int = 0


class Database:
    """An SQLite database file shared by every thread and process that opens it."""

    def __init__(self, path: str, synchronous: str = "FULL", busy_timeout: float = 30.0) -> None:
        if synchronous.upper() not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}, not {synchronous!r}")
        self.path = path
        self._synchronous = synchronous.upper()
        self._busy_timeout = busy_timeout
        self._state = _ThreadState()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._ensured: dict[str, int] = {}
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        with self._all_lock:
            self._all.append(conn)
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (a new one after ``fork``)."""
        state = self._state
        if state.connection is None or state.pid != os.getpid():
            state.connection, state.pid, state.depth = self._open(), os.getpid(), 0
        return state.connection

    def ensure(
        self, name: str, statements: Iterable[str], version: int = 1, upgrade: Upgrade | None = None
    ) -> int:
        """Create the tables of the user ``name`` (idempotent DDL) and bring them to ``version``.

        Runs once per object and name, in one write transaction (joined when the caller holds one). The
        version is kept in ``meta`` under ``name``: a new file records ``version``; a file recorded at an
        older version runs ``upgrade(connection, old_version)`` first (e.g. to rewrite derived values), in
        the same transaction, so that every process sees either the old tables or the upgraded ones.
        Returns the version found before (``version`` for a new file; a file recorded at a newer version is
        left as it is).
        """
        if name in self._ensured:
            return self._ensured[name]
        nested = self.in_transaction  # the caller's transaction may still roll back: remember nothing then
        with self.write() as conn:
            conn.execute(META)
            for statement in statements:
                conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
            found = int(row[0]) if row else version
            if found < version and upgrade is not None:
                upgrade(conn, found)
            if row is None or found < version:
                conn.execute(
                    "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = "
                    "excluded.value",
                    (name, str(version)),
                )
        if not nested:
            self._ensured[name] = found
        return found

    @property
    def in_transaction(self) -> bool:
        """Whether this thread is inside :meth:`write`."""
        return self._state.depth > 0 and self._state.pid == os.getpid()

    def _begin(self, conn: sqlite3.Connection) -> None:
        """Take the write lock, waiting up to ``busy_timeout``; :class:`StoreBusy` when it stays taken."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode in BUSY_CODES:
                raise StoreBusy(self.path) from exc
            raise

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested calls run in a savepoint of the outer one."""
        conn = self.connection()
        state = self._state
        if state.depth == 0:
            self._begin(conn)
            state.depth = 1
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                try:
                    conn.execute("COMMIT")
                except (
                    BaseException
                ):  # disk full, I/O error: never leave this thread's connection mid-transaction
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                state.depth = 0
            return
        name = f"unit{state.depth}"
        conn.execute(f"SAVEPOINT {name}")
        state.depth += 1
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        else:
            conn.execute(f"RELEASE {name}")
        finally:
            state.depth -= 1

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several statements (inside a write transaction: that transaction)."""
        conn = self.connection()
        if self._state.depth > 0:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this object opened (call when no thread uses it any more)."""
        with self._all_lock:
            connections, self._all = self._all, []
        for conn in connections:
            with contextlib.suppress(sqlite3.ProgrammingError):  # another thread's: it goes with its thread
                conn.close()
        self._state = _ThreadState()
