# SPDX-License-Identifier: GPL-3.0-or-later
"""The backup module on its own: a backup is one self-contained, checked file; a database still open elsewhere
is not restored over; a WAL left beside the database is never applied to the restored one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from groupware.store import Database
from groupware.store.backup import BackupError, DatabaseInUse, backup, check_database, ensure_unused, restore


def groupware_database(path: Path, rows: int = 10) -> Database:
    db = Database(str(path))
    db.ensure("test", ["CREATE TABLE IF NOT EXISTS t (n INTEGER)"])
    with db.write() as conn:
        conn.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(rows)])
    return db


def count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])
    finally:
        conn.close()


def test_a_backup_is_one_checked_file_in_rollback_journal_mode(tmp_path: Path) -> None:
    db = groupware_database(tmp_path / "live.sqlite")
    seen: list[tuple[int, int]] = []
    report = backup(db.path, str(tmp_path / "copy.sqlite"), lambda done, total: seen.append((done, total)))
    db.close()
    assert seen and seen[-1][0] == seen[-1][1] == report.pages
    assert not (tmp_path / "copy.sqlite-wal").exists()
    conn = sqlite3.connect(tmp_path / "copy.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    check_database(str(tmp_path / "copy.sqlite"))
    assert count(tmp_path / "copy.sqlite") == 10
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_a_backup_never_replaces_a_file(tmp_path: Path) -> None:
    db = groupware_database(tmp_path / "live.sqlite")
    (tmp_path / "copy.sqlite").write_text("keep me")
    with pytest.raises(BackupError, match="already exists"):
        backup(db.path, str(tmp_path / "copy.sqlite"))
    db.close()
    assert (tmp_path / "copy.sqlite").read_text() == "keep me"


def test_a_database_open_elsewhere_is_in_use_until_closed(tmp_path: Path) -> None:
    db = groupware_database(tmp_path / "live.sqlite")
    with pytest.raises(DatabaseInUse, match="--force"):
        ensure_unused(db.path)
    db.close()
    ensure_unused(db.path)
    assert not (tmp_path / "live.sqlite-wal").exists()


def test_restore_keeps_the_old_database_and_moves_its_wal_aside(tmp_path: Path) -> None:
    source = groupware_database(tmp_path / "source.sqlite", rows=3)
    backup(source.path, str(tmp_path / "backup.sqlite"))
    source.close()
    target = tmp_path / "data" / "groupware.sqlite"
    target.parent.mkdir()
    old = groupware_database(target, rows=7)
    old.close()
    (tmp_path / "data" / "groupware.sqlite-wal").write_bytes(b"\0" * 64)  # left by a crash
    report = restore(str(tmp_path / "backup.sqlite"), str(target), force=True)
    assert report.kept == f"{target}.before-restore"
    assert not (tmp_path / "data" / "groupware.sqlite-wal").exists()
    assert (tmp_path / "data" / "groupware.sqlite.before-restore-wal").read_bytes() == b"\0" * 64
    assert count(target) == 3 and count(Path(report.kept)) == 7


def test_restore_into_a_new_folder_keeps_nothing(tmp_path: Path) -> None:
    source = groupware_database(tmp_path / "source.sqlite", rows=4)
    backup(source.path, str(tmp_path / "backup.sqlite"))
    source.close()
    target = tmp_path / "new" / "folder" / "groupware.sqlite"
    report = restore(str(tmp_path / "backup.sqlite"), str(target))
    assert report.kept is None and count(target) == 4
