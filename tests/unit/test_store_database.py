# SPDX-License-Identifier: GPL-3.0-or-later
"""One SQL connection layer: one :class:`Database` shared by the store, the sharing tables, the lockouts."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from groupware.accounts.lockouts import DatabaseThrottle
from groupware.sharing import Grantee, GranteeKind, Level, SharingDatabase
from groupware.store import Database, Store


@pytest.fixture
def database(tmp_path: Path) -> Database:
    return Database(str(tmp_path / "groupware.sqlite"), synchronous="NORMAL")


def test_a_new_database_has_no_table_but_meta_until_its_users_ensure_theirs(database: Database) -> None:
    assert database.ensure("test_version", ["CREATE TABLE IF NOT EXISTS t (x INTEGER)"]) == 1
    names = {
        row[0] for row in database.connection().execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    assert names == {"meta", "t"}


def test_three_users_share_one_connection_per_thread_and_record_their_versions(database: Database) -> None:
    store, sharing = Store(database), SharingDatabase(database)
    throttle = DatabaseThrottle(database, window=60, lockout=120)
    assert store.db is sharing.db is database
    with database.read() as conn:
        versions = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    assert versions == {"schema_version": "2", "sharing_version": "1", "lockouts_version": "1"}
    assert throttle.fail(("login", "marie"), limit=1)
    sharing.create_agenda("marie/cours", "marie", "person", "Cours")
    book = store.create_collection("marie/book", {"tag": "VADDRESSBOOK"})[0]
    connections: list[sqlite3.Connection] = []
    worker = threading.Thread(target=lambda: connections.append(database.connection()))
    worker.start()
    worker.join()
    assert connections[0] is not database.connection()  # one connection per thread, not per user
    assert throttle.locked(("login", "marie")) and sharing.agenda("marie/cours") is not None
    assert store.get_collection(book.path) is not None


def test_one_transaction_spans_the_three_users(database: Database) -> None:
    store, sharing = Store(database), SharingDatabase(database)
    throttle = DatabaseThrottle(database, window=60, lockout=120)
    sharing.create_agenda("marie/cours", "marie", "person", "Cours")
    with pytest.raises(RuntimeError), store.transaction():
        store.ensure_collection("marie/calendar")
        sharing.grant("marie/cours", Grantee(GranteeKind.PERSON, "paul"), Level.READ, "marie")
        throttle.fail(("login", "paul"), limit=1)
        raise RuntimeError("the request fails after its writes")
    assert store.get_collection("marie/calendar") is None
    assert sharing.grants("marie/cours") == [] and not throttle.locked(("login", "paul"))


def test_users_on_a_shared_database_leave_it_open_and_close_what_they_opened(tmp_path: Path) -> None:
    shared = Database(str(tmp_path / "shared.sqlite"))
    Store(shared).close()
    SharingDatabase(shared).close()
    assert shared.connection().execute("SELECT count(*) FROM collections").fetchone()[0] == 1
    own = Store(str(tmp_path / "own.sqlite"))
    conn = own.db.connection()
    own.close()
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")
    shared.close()


def test_ensure_runs_once_per_object_and_upgrades_older_files(database: Database) -> None:
    statements = ["CREATE TABLE IF NOT EXISTS t (x INTEGER)"]
    calls: list[int] = []
    database.ensure("t_version", statements, version=1)
    database.connection().execute("INSERT INTO t VALUES (1)")
    database.close()
    reopened = Database(database.path)

    def upgrade(conn: sqlite3.Connection, old: int) -> None:
        calls.append(old)
        conn.execute("UPDATE t SET x = x + 1")

    assert reopened.ensure("t_version", statements, version=3, upgrade=upgrade) == 1
    assert reopened.ensure("t_version", statements, version=3, upgrade=upgrade) == 1  # cached: no second run
    assert calls == [1]
    assert reopened.connection().execute("SELECT x FROM t").fetchone()[0] == 2
    assert Database(database.path).ensure("t_version", statements, version=3, upgrade=upgrade) == 3
    assert calls == [1]
