# SPDX-License-Identifier: GPL-3.0-or-later
"""Backup and restore of the groupware database file, while the servers run.

:func:`backup` copies the database with SQLite's online backup API (``sqlite3.Connection.backup``) inside one
read transaction on the source: in WAL mode that transaction sees one snapshot from its first step to its
last, so the copy is the database as it was at one instant, every transaction committed before it complete and
none after it; the servers' writers never wait for it (they append to the WAL meanwhile). The copy is checked
with ``PRAGMA integrity_check``, left in rollback-journal mode (one self-contained file) and put in place
under its name only when whole, without ever replacing a file already there.

:func:`restore` checks the backup (``PRAGMA integrity_check``, and that it is a groupware database), refuses a
database that some process still has open unless told, copies the backup beside the database, checks the copy,
then swaps it in with one ``rename``; the database replaced is kept as ``<name>.before-restore``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from groupware.store.errors import StoreError

__all__ = ["BackupError", "BackupReport", "DatabaseInUse", "backup", "check_database", "restore"]

#: ``progress(pages copied, pages in all)``.
Progress = Callable[[int, int], None]
STEP_PAGES = 1024
KEPT_SUFFIX = ".before-restore"


class BackupError(StoreError):
    """A backup or a restore could not be made; nothing was replaced."""


class DatabaseInUse(BackupError):
    """Some process (a running server) has the database open."""


@dataclass(frozen=True)
class BackupReport:
    """What a backup or a restore copied."""

    source: str
    destination: str
    pages: int
    size: int
    seconds: float
    kept: str | None = None


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _integrity(conn: sqlite3.Connection, what: str) -> None:
    try:
        rows = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what}: not a readable SQLite database: {exc}") from exc
    if rows != ["ok"]:
        raise BackupError(f"{what}: integrity check failed: " + "; ".join(rows[:5]))


def check_database(path: str) -> None:
    """Check that ``path`` is a whole groupware database.

    Raises:
        BackupError: no such file, not SQLite, damaged (``PRAGMA integrity_check``), or not ours.
    """
    if not os.path.isfile(path):
        raise BackupError(f"{path}: no such file")
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        _integrity(conn, path)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a readable SQLite database: {exc}") from exc
    finally:
        conn.close()
    if "meta" not in tables:
        raise BackupError(f"{path}: not a groupware database (no meta table)")


def _copy(source: str, target: str, progress: Progress | None, step_pages: int = STEP_PAGES) -> int:
    """Copy ``source`` into the new file ``target`` from one snapshot, check it, fsync it; its page count."""
    src = sqlite3.connect(source, timeout=30, isolation_level=None)
    dst = sqlite3.connect(target, isolation_level=None)
    try:
        src.execute("BEGIN")  # one read transaction: every step copies the same snapshot, never restarted
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()

        def step(_status: int, remaining: int, total: int) -> None:
            if progress is not None:
                progress(total - remaining, total)

        src.backup(dst, pages=step_pages, progress=step)
        src.execute("COMMIT")
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file; servers set WAL again
        _integrity(dst, target)
        pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy {source}: {exc}") from exc
    finally:
        dst.close()
        src.close()
    _fsync_path(target)
    return pages


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def backup(
    source: str, destination: str, progress: Progress | None = None, step_pages: int = STEP_PAGES
) -> BackupReport:
    """Copy the database ``source`` to the new file ``destination``, consistently, while servers write;
    ``progress`` is called after every ``step_pages`` pages.

    Raises:
        BackupError: no database at ``source``, ``destination`` exists, or the copy failed (nothing is left
            at ``destination`` then).
    """
    if not os.path.isfile(source):
        raise BackupError(f"{source}: no database there (wrong --config?)")
    if os.path.lexists(destination):
        raise BackupError(f"{destination}: already exists; back up to a new file")
    folder = os.path.dirname(os.path.abspath(destination))
    os.makedirs(folder, exist_ok=True)
    partial = f"{destination}.partial-{os.getpid()}"
    started = time.monotonic()
    try:
        pages = _copy(source, partial, progress, step_pages)
        try:
            os.link(partial, destination)  # never replaces a file that appeared meanwhile
        except FileExistsError as exc:
            raise BackupError(f"{destination}: already exists; back up to a new file") from exc
    finally:
        _remove(partial)
    _fsync_path(folder)
    return BackupReport(source, destination, pages, os.path.getsize(destination), time.monotonic() - started)


def ensure_unused(path: str) -> None:
    """Check that no process has the database ``path`` open, and leave it as one file (no WAL beside it).

    Leaving WAL mode needs every other connection closed; a server keeps its connections open while it runs.

    Raises:
        DatabaseInUse: some process has it open.
    """
    if not os.path.exists(path):
        return
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        mode = str(probe.execute("PRAGMA journal_mode = DELETE").fetchone()[0]).lower()
    except sqlite3.OperationalError:
        mode = "in use"
    finally:
        probe.close()
    if mode != "delete":
        raise DatabaseInUse(
            f"{path} is in use (is a server running on it?): stop the servers first, or restore with --force"
        )


def _keep(target: str) -> str | None:
    """Keep the database about to be replaced (and any WAL of it) as ``<target>.before-restore``; the path
    kept, or None when there was no database."""
    kept = target + KEPT_SUFFIX
    for suffix in ("", "-wal", "-shm", "-journal"):
        _remove(kept + suffix)
    existed = os.path.exists(target)
    if existed:
        try:
            os.link(target, kept)
        except OSError:
            shutil.copy2(target, kept)
    for suffix in ("-wal", "-shm", "-journal"):  # left beside it, they belong to the old file, not the new
        if os.path.exists(target + suffix):
            os.replace(target + suffix, kept + suffix)
    return kept if existed else None


def restore(source: str, target: str, force: bool = False, progress: Progress | None = None) -> BackupReport:
    """Replace the database ``target`` with the backup ``source``, checked first, in one rename.

    Raises:
        BackupError: the backup is missing, damaged or not a groupware database; or the copy failed.
        DatabaseInUse: a process has ``target`` open (unless ``force``: its later writes are then lost).
    """
    check_database(source)
    if not force:
        ensure_unused(target)
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    partial = f"{target}.restoring-{os.getpid()}"
    _remove(partial)
    started = time.monotonic()
    try:
        pages = _copy(source, partial, progress)
        if not force:
            ensure_unused(target)
        kept = _keep(target)
        os.replace(partial, target)
    finally:
        _remove(partial)
    _fsync_path(folder)
    return BackupReport(source, target, pages, os.path.getsize(target), time.monotonic() - started, kept)
