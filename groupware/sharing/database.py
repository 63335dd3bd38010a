# SPDX-License-Identifier: GPL-3.0-or-later
"""Agendas and grants in the storage engine's SQLite file (through
:class:`groupware.store.database.Database`).

One source of truth for every server process: nothing is cached in memory, every question is one indexed query
in a WAL snapshot, so a grant or a revoke made by any process (CLI, API, another server) counts on the next
request. ``sharing_revision`` counts changes, for whoever wants to cache answers across requests.

Costs: the agendas shared with a viewer come from the ``sharing_grants_grantee`` index, one probe per (kind,
value) the viewer has (their user name, their mail domain, each of their groups): proportional to the grants
that concern them, not to the number of grants on the site. The level of one viewer on one agenda reads the
grants of that agenda only (``sharing_grants`` primary key starts with the path).

The SQL is portable (SQLite and PostgreSQL): plain types, ``ON CONFLICT … DO UPDATE`` upserts.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from groupware.sharing.model import (
    Agenda,
    AgendaExists,
    Grant,
    Grantee,
    GranteeKind,
    Level,
    SharedAgenda,
    UnknownAgenda,
    Viewer,
)
from groupware.store.database import Database

__all__ = ["SHARING_SCHEMA", "SharingDatabase"]

SHARING_SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS sharing_agendas (
        path TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        slug TEXT NOT NULL UNIQUE,
        created BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS sharing_agendas_owner ON sharing_agendas (owner)",
    """CREATE TABLE IF NOT EXISTS sharing_grants (
        path TEXT NOT NULL REFERENCES sharing_agendas (path) ON DELETE CASCADE,
        grantee_kind TEXT NOT NULL,
        grantee TEXT NOT NULL,
        level INTEGER NOT NULL,
        granted_by TEXT NOT NULL,
        created BIGINT NOT NULL,
        PRIMARY KEY (path, grantee_kind, grantee))""",
    "CREATE INDEX IF NOT EXISTS sharing_grants_grantee ON sharing_grants (grantee_kind, grantee)",
    """CREATE TABLE IF NOT EXISTS sharing_revision (
        id INTEGER PRIMARY KEY,
        value BIGINT NOT NULL)""",
    "INSERT INTO sharing_revision (id, value) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
)

_AGENDA_COLUMNS = "a.path, a.owner, a.kind, a.title, a.slug, a.created"


def _agenda(row: Any) -> Agenda:
    return Agenda(str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), int(row[5]))


def slug_of(path: str) -> str:
    """The name under which the agenda at ``path`` appears in members' homes: its segments joined by ``-``."""
    return "-".join(part for part in path.split("/") if part)


def _matching_grants(viewer: Viewer, path: str | None = None) -> tuple[str, list[str]]:
    """A query (``path, level`` rows) of the grants that apply to ``viewer`` (on ``path`` only, if given): one
    indexed probe per subject (user name, mail domain, each group)."""
    where, tail = (" AND path = ?", [path]) if path is not None else ("", [])
    head = "SELECT path, level FROM sharing_grants WHERE grantee_kind = "
    parts = [f"{head}'person' AND grantee = ?{where}"]
    params = [viewer.user, *tail]
    if viewer.domain:
        parts.append(f"{head}'domain' AND grantee = ?{where}")
        params += [viewer.domain, *tail]
    if viewer.groups:
        marks = ", ".join("?" for _ in viewer.groups)
        parts.append(f"{head}'group' AND grantee IN ({marks}){where}")
        params += [*sorted(viewer.groups), *tail]
    return " UNION ALL ".join(parts), params


class SharingDatabase:
    """Agendas and their grants, stored beside the collections in the storage engine's database."""

    def __init__(self, database: Database | str) -> None:
        """Keep the tables in ``database``: the shared :class:`Database` of the store and the lockouts, or a
        file of their own (opened here, closed by :meth:`close`)."""
        self._owns_db = not isinstance(database, Database)
        self.db = database if isinstance(database, Database) else Database(database)
        self.db.ensure("sharing_version", SHARING_SCHEMA)

    def _bump(self, conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE sharing_revision SET value = value + 1 WHERE id = 1")

    def revision(self) -> int:
        """How many changes were ever made to agendas and grants (any process)."""
        with self.db.read() as conn:
            row = conn.execute("SELECT value FROM sharing_revision WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    # Agendas
    # -------------------------------------------------------------------------------------------------
    def create_agenda(self, path: str, owner: str, kind: str, title: str) -> Agenda:
        """Register the agenda at ``path``.

        Raises:
            AgendaExists: an agenda is registered there already.
        """
        created = int(time.time())
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM sharing_agendas WHERE path = ?", (path,)).fetchone():
                raise AgendaExists(f"an agenda already exists at {path}")
            slug = base = slug_of(path)
            counter = 1
            while conn.execute("SELECT 1 FROM sharing_agendas WHERE slug = ?", (slug,)).fetchone():
                counter += 1
                slug = f"{base}-{counter}"
            conn.execute(
                "INSERT INTO sharing_agendas (path, owner, kind, title, slug, created) VALUES (?, ?, ?, ?, ?,"
                " ?)",
                (path, owner, kind, title, slug, created),
            )
            self._bump(conn)
        return Agenda(path, owner, kind, title, slug, created)

    def agenda(self, path: str) -> Agenda | None:
        """The agenda registered at ``path``, if any."""
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT {_AGENDA_COLUMNS} FROM sharing_agendas a WHERE a.path = ?", (path,)
            ).fetchone()
        return _agenda(row) if row else None

    def require_agenda(self, path: str) -> Agenda:
        """The agenda at ``path``.

        Raises:
            UnknownAgenda: none is registered there.
        """
        found = self.agenda(path)
        if found is None:
            raise UnknownAgenda(f"no agenda at {path}")
        return found

    def agenda_by_slug(self, slug: str) -> Agenda | None:
        """The agenda that appears as ``slug`` in members' homes."""
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT {_AGENDA_COLUMNS} FROM sharing_agendas a WHERE a.slug = ?", (slug,)
            ).fetchone()
        return _agenda(row) if row else None

    def agendas(self, owner: str | None = None, kind: str | None = None) -> list[Agenda]:
        """Every agenda (of ``owner``, of ``kind``), ordered by path."""
        sql = f"SELECT {_AGENDA_COLUMNS} FROM sharing_agendas a WHERE 1 = 1"
        params: list[str] = []
        if owner is not None:
            sql, params = sql + " AND a.owner = ?", [*params, owner]
        if kind is not None:
            sql, params = sql + " AND a.kind = ?", [*params, kind]
        with self.db.read() as conn:
            return [_agenda(row) for row in conn.execute(sql + " ORDER BY a.path", params)]

    def delete_agenda(self, path: str) -> None:
        """Forget the agenda at ``path`` and every grant on it.

        Raises:
            UnknownAgenda: none is registered there.
        """
        with self.db.write() as conn:
            conn.execute("DELETE FROM sharing_grants WHERE path = ?", (path,))
            if conn.execute("DELETE FROM sharing_agendas WHERE path = ?", (path,)).rowcount == 0:
                raise UnknownAgenda(f"no agenda at {path}")
            self._bump(conn)

    # Grants
    # --------------------------------------------------------------------------------------------------
    def grant(self, path: str, grantee: Grantee, level: Level, granted_by: str) -> Grant:
        """Give ``grantee`` ``level`` on the agenda at ``path`` (replacing their previous grant there).

        Raises:
            UnknownAgenda: no agenda is registered at ``path``.
        """
        created = int(time.time())
        with self.db.write() as conn:
            if not conn.execute("SELECT 1 FROM sharing_agendas WHERE path = ?", (path,)).fetchone():
                raise UnknownAgenda(f"no agenda at {path}")
            conn.execute(
                "INSERT INTO sharing_grants (path, grantee_kind, grantee, level, granted_by, created) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (path, grantee_kind, grantee) DO UPDATE SET "
                "level = excluded.level, granted_by = excluded.granted_by, created = excluded.created",
                (path, grantee.kind.value, grantee.value, int(level), granted_by, created),
            )
            self._bump(conn)
        return Grant(path, grantee, level, granted_by, created)

    def revoke(self, path: str, grantee: Grantee) -> bool:
        """Remove ``grantee``'s grant on ``path``; ``False`` when there was none."""
        with self.db.write() as conn:
            removed = conn.execute(
                "DELETE FROM sharing_grants WHERE path = ? AND grantee_kind = ? AND grantee = ?",
                (path, grantee.kind.value, grantee.value),
            ).rowcount
            if removed:
                self._bump(conn)
        return bool(removed)

    def grants(self, path: str) -> list[Grant]:
        """Every grant on the agenda at ``path``, most generous first."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT grantee_kind, grantee, level, granted_by, created FROM sharing_grants "
                "WHERE path = ? ORDER BY level DESC, grantee_kind, grantee",
                (path,),
            ).fetchall()
        return [
            Grant(path, Grantee(GranteeKind(r[0]), str(r[1])), Level(int(r[2])), str(r[3]), int(r[4]))
            for r in rows
        ]

    # Questions asked on every request
    # ------------------------------------------------------------------------
    def level(self, path: str, viewer: Viewer) -> Level | None:
        """The most generous level any grant on ``path`` gives ``viewer``, or ``None``."""
        matching, params = _matching_grants(viewer, path)
        with self.db.read() as conn:
            row = conn.execute(f"SELECT MAX(level) FROM ({matching}) AS m", params).fetchone()
        return Level(int(row[0])) if row and row[0] is not None else None

    def shared_with(self, viewer: Viewer) -> list[SharedAgenda]:
        """Every agenda shared with ``viewer`` (not their own), each with its most generous level, by slug."""
        matching, params = _matching_grants(viewer)
        sql = (
            f"SELECT {_AGENDA_COLUMNS}, MAX(m.level) FROM ({matching}) AS m "
            "JOIN sharing_agendas a ON a.path = m.path WHERE a.owner <> ? "
            f"GROUP BY {_AGENDA_COLUMNS} ORDER BY a.slug"
        )
        with self.db.read() as conn:
            rows = conn.execute(sql, [*params, viewer.user]).fetchall()
        return [SharedAgenda(_agenda(row), Level(int(row[6]))) for row in rows]

    def iter_all_grants(self) -> Iterator[Grant]:
        """Every grant of the site (for listings and checks; not for requests)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT path, grantee_kind, grantee, level, granted_by, created FROM sharing_grants "
                "ORDER BY path, level DESC"
            ).fetchall()
        for r in rows:
            yield Grant(
                str(r[0]), Grantee(GranteeKind(r[1]), str(r[2])), Level(int(r[3])), str(r[4]), int(r[5])
            )

    def close(self) -> None:
        """Close the database connections, when this object opened the database (a shared one is its
        owner's to close)."""
        if self._owns_db:
            self.db.close()
