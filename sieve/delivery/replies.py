# SPDX-License-Identifier: GPL-3.0-or-later
"""Persistent, atomic reply tracking per user: the :class:`~groupware.sieve.host.ReplyTracker` of delivery.

RFC 5230 §4.2 asks for one vacation reply per sender (and ``:handle``) per period, and RFC 7352 §3 for a
memory of the messages the ``duplicate`` test has seen. Both live in one SQLite file under the user's mail
home. The check and the record happen in one ``BEGIN IMMEDIATE`` transaction, which SQLite serialises across
threads and processes, so two deliveries running at once for the same sender never both reply.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import random
import sqlite3
import threading
from pathlib import Path

__all__ = ["FILE_NAME", "SqliteReplyTracker"]

FILE_NAME = ".groupware-replies.sqlite"
#: Records older than this are dropped now and then (the longest vacation period, RFC 5230 §4.1, is 90 days).
KEEP_SECONDS = 91 * 24 * 3600
_SCHEMA = "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, at REAL NOT NULL) WITHOUT ROWID"


class SqliteReplyTracker:
    """``check_and_record`` on ``<home>/.groupware-replies.sqlite``; a connection per call, so that a tracker
    per user costs nothing while idle and can be used from any thread."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / FILE_NAME

    def _create(self) -> None:
        """Make the database with its schema in WAL mode under another name, then link it into place: a
        journal-mode change cannot wait for other connections, so it never happens on the shared file."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f"{FILE_NAME}.{os.getpid()}.{threading.get_ident()}")
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
        finally:
            conn.close()
        with contextlib.suppress(FileExistsError):
            os.link(tmp, self.path)
        tmp.unlink()

    def _connect(self) -> sqlite3.Connection:
        if not self.path.exists():
            self._create()
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def check_and_record(self, key: str, seconds: int, now: _dt.datetime) -> bool:
        """True when ``key`` was recorded less than ``seconds`` ago; otherwise record it now and return
        False.
        """
        at = now.timestamp()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT at FROM replies WHERE key = ?", (key,)).fetchone()
                if row is not None and at - float(row[0]) < seconds:
                    conn.execute("COMMIT")
                    return True
                conn.execute("INSERT OR REPLACE INTO replies (key, at) VALUES (?, ?)", (key, at))
                if random.random() < 0.01:
                    conn.execute("DELETE FROM replies WHERE at < ?", (at - KEEP_SECONDS,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
        return False

    def record(self, key: str, now: _dt.datetime | float) -> None:
        """Record ``key`` at ``now`` whatever was there: a reply reserved by :meth:`check_and_record` has been
        accepted by the relay, and its period (RFC 5230 §4.2) counts from then."""
        at = now if isinstance(now, float | int) else now.timestamp()
        conn = self._connect()
        try:
            conn.execute("INSERT OR REPLACE INTO replies (key, at) VALUES (?, ?)", (key, float(at)))
        finally:
            conn.close()

    def forget(self, key: str) -> None:
        """Drop ``key`` (an action recorded before it was carried out, and then failed or was given up)."""
        conn = self._connect()
        try:
            conn.execute("DELETE FROM replies WHERE key = ?", (key,))
        finally:
            conn.close()
