# SPDX-License-Identifier: GPL-3.0-or-later
"""The storage engine's tables in a :class:`~groupware.store.database.Database`, and their upgrades.

Version 1 folded contact values with ``str.lower``; version 2 with full case folding
(:func:`groupware.store.text.fold`, RFC 4790 ``i;unicode-casemap`` as used for contact search). Since
``fold(old_fold(x)) == fold(x)`` for every character, an old file is brought up to date from its stored
values alone: each folded value is folded again (the trigram index in step), without re-parsing any card.
"""

from __future__ import annotations

import sqlite3

from groupware.store.database import Database
from groupware.store.schema import SCHEMA, SCHEMA_VERSION, SEARCHED_FIELDS, SQLITE_SEARCH, SQLITE_SEARCH_FILL
from groupware.store.text import fold

__all__ = ["SCHEMA_NAME", "ensure_schema", "refold_contacts", "upgrade"]

#: The name under which the engine's schema version is kept in ``meta``.
SCHEMA_NAME = "schema_version"


def ensure_schema(db: Database) -> None:
    """Create or upgrade the engine's tables and its SQLite trigram index, in one write transaction."""
    with db.write() as conn:
        db.ensure(SCHEMA_NAME, SCHEMA, SCHEMA_VERSION, upgrade)
        new_index = (
            conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'contact_trigrams'").fetchone() is None
        )
        for statement in SQLITE_SEARCH:
            conn.execute(statement)
        if new_index:  # a database written before the index existed: index what it holds
            conn.execute(SQLITE_SEARCH_FILL)


def upgrade(conn: sqlite3.Connection, version: int) -> None:
    """Bring the engine's tables from ``version`` to :data:`~groupware.store.schema.SCHEMA_VERSION`."""
    if version < 2:
        refold_contacts(conn)


def refold_contacts(conn: sqlite3.Connection) -> int:
    """Fold every stored contact value again with :func:`~groupware.store.text.fold`; returns how many
    changed. ASCII values are skipped: every version folded them alike."""
    indexed = (
        conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'contact_trigrams'").fetchone() is not None
    )
    changed = 0
    rows = conn.execute("SELECT id, field, value FROM contact_fields WHERE value IS NOT NULL").fetchall()
    for row_id, field, value in rows:
        folded = value if value.isascii() else fold(value)
        if folded == value:
            continue
        searched = indexed and field in SEARCHED_FIELDS
        if searched:
            conn.execute(
                "INSERT INTO contact_trigrams (contact_trigrams, rowid, value) VALUES ('delete', ?, ?)",
                (row_id, value),
            )
        conn.execute("UPDATE contact_fields SET value = ? WHERE id = ?", (folded, row_id))
        if searched:
            conn.execute("INSERT INTO contact_trigrams (rowid, value) VALUES (?, ?)", (row_id, folded))
        changed += 1
    return changed
