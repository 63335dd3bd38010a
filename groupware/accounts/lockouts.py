# SPDX-License-Identifier: GPL-3.0-or-later
"""Failure counting with lockout kept in the database, so that every server process counts the same failures.

``groupware serve`` runs several worker processes (``[server] workers``); a counter in each process's memory
would let a guesser try ``workers`` times the limit, and a restart would forget a lockout. This one keeps the
failures and the lockouts in two small tables of the groupware database (the one
:class:`~groupware.store.database.Database` the runtime shares between the store, the sharing tables and
this throttle), read and written in short transactions: a check is one indexed read, only failures and a
first successful login after failures write. Times are wall-clock seconds, the one clock that processes share
and that survives a restart.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Hashable

from groupware.store.database import Database
from groupware.store.errors import StoreBusy

__all__ = ["DatabaseThrottle"]

log = logging.getLogger("groupware.accounts")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS login_failures (subject TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS login_failures_by_subject ON login_failures (subject, at)",
    "CREATE INDEX IF NOT EXISTS login_failures_by_time ON login_failures (at)",
    "CREATE TABLE IF NOT EXISTS login_lockouts (subject TEXT PRIMARY KEY, until REAL NOT NULL)",
)


def _key(subject: Hashable) -> str:
    """``("login", "marie.martin")`` → ``login:marie.martin`` (a text key any SQL database indexes)."""
    if isinstance(subject, tuple):
        return ":".join(str(part) for part in subject)
    return str(subject)


class DatabaseThrottle:
    """The :class:`~groupware.accounts.throttle.Throttle` interface over database tables shared by processes.

    The tables stay small: each failure removes every failure older than the window, and an expired lockout is
    removed with its failures when it is next looked at or when a failure is recorded. When the database
    cannot be read or written (busy past its timeout, disk full), the check lets the login through to the
    directory and the failure goes uncounted, with a log line: the DAV door keeps working as far as the
    storage does.
    """

    def __init__(
        self, db: Database, window: float, lockout: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
        self._window = window
        self._lockout = lockout
        self._clock = clock
        db.ensure("lockouts_version", SCHEMA)

    def locked(self, subject: Hashable) -> bool:
        """True while ``subject`` is locked out (by this process or another)."""
        key = _key(subject)
        try:
            row = (
                self._db.connection()
                .execute("SELECT until FROM login_lockouts WHERE subject = ?", (key,))
                .fetchone()
            )
            if row is None:
                return False
            now = self._clock()
            if now < row[0]:
                if (
                    row[0] - now > self._lockout
                ):  # the clock went back: the lockout still ends `lockout` from now
                    with self._db.write() as conn:
                        conn.execute(
                            "UPDATE login_lockouts SET until = ? WHERE subject = ?",
                            (now + self._lockout, key),
                        )
                return True
            with self._db.write() as conn:  # expired: the failures that led to it are forgotten with it
                conn.execute("DELETE FROM login_lockouts WHERE subject = ? AND until <= ?", (key, now))
                conn.execute("DELETE FROM login_failures WHERE subject = ?", (key,))
        except (sqlite3.Error, StoreBusy) as exc:
            _unavailable("lockout not checked", exc)
        return False

    def _insert(self, conn: sqlite3.Connection, key: str, now: float) -> int:
        """Forget what the window and expired lockouts let go, record one failure of ``key``, count its
        failures."""
        conn.execute(
            "DELETE FROM login_failures WHERE at < ? OR subject IN "
            "(SELECT subject FROM login_lockouts WHERE until <= ?)",
            (now - self._window, now),
        )
        conn.execute("DELETE FROM login_lockouts WHERE until <= ?", (now,))
        conn.execute("INSERT INTO login_failures (subject, at) VALUES (?, ?)", (key, now))
        count: int = conn.execute("SELECT count(*) FROM login_failures WHERE subject = ?", (key,)).fetchone()[
            0
        ]
        return count

    def record(self, subject: Hashable) -> int:
        """Record one failure of ``subject`` that never locks it out; return its failures within the window
        (0 when the database cannot count)."""
        key, now = _key(subject), self._clock()
        try:
            with self._db.write() as conn:
                return self._insert(conn, key, now)
        except (sqlite3.Error, StoreBusy) as exc:
            _unavailable("failure not counted", exc)
            return 0

    def fail(self, subject: Hashable, limit: int) -> bool:
        """Record one failure; return True when this failure locks ``subject`` out."""
        key, now = _key(subject), self._clock()
        try:
            with self._db.write() as conn:
                count = self._insert(conn, key, now)
                if count < limit:
                    return False
                inserted = conn.execute(
                    "INSERT INTO login_lockouts (subject, until) VALUES (?, ?) "
                    "ON CONFLICT (subject) DO NOTHING",
                    (key, now + self._lockout),
                )
                return inserted.rowcount == 1
        except (sqlite3.Error, StoreBusy) as exc:
            _unavailable("failure not counted", exc)
            return False

    def reset(self, subject: Hashable) -> None:
        """Forget the failures of ``subject`` (after a successful login); no write when it has none."""
        key = _key(subject)
        try:
            conn = self._db.connection()
            if (
                conn.execute("SELECT 1 FROM login_failures WHERE subject = ? LIMIT 1", (key,)).fetchone()
                is None
            ):
                return
            with self._db.write() as conn:
                conn.execute("DELETE FROM login_failures WHERE subject = ?", (key,))
        except (sqlite3.Error, StoreBusy) as exc:
            _unavailable("failures not reset", exc)

    def lockouts(self) -> list[tuple[str, float]]:
        """The subjects locked out now (``login:NAME``, ``addr:ADDRESS``) and until when (clock seconds)."""
        now = self._clock()
        rows = (
            self._db.connection()
            .execute("SELECT subject, until FROM login_lockouts WHERE until > ? ORDER BY subject", (now,))
            .fetchall()
        )
        return [(str(subject), float(until)) for subject, until in rows]

    def unlock(self, subject: str) -> bool:
        """Lift the lockout of ``subject`` (as :meth:`lockouts` names it) and forget its failures; False when
        it was not locked out."""
        with self._db.write() as conn:
            lifted = conn.execute("DELETE FROM login_lockouts WHERE subject = ?", (subject,)).rowcount
            conn.execute("DELETE FROM login_failures WHERE subject = ?", (subject,))
        return lifted > 0


def _unavailable(what: str, exc: sqlite3.Error | StoreBusy) -> None:
    log.warning(f"{what}: database unavailable", extra={"event": "lockout_database_error", "error": str(exc)})
