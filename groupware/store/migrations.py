# SPDX-License-Identifier: GPL-3.0-or-later
"""The storage engine's tables in a :class:`~groupware.store.database.Database`, and their upgrades.

Version 1 folded contact values with ``str.lower``; version 2 with full case folding
(:func:`groupware.store.text.fold`, RFC 4790 ``i;unicode-casemap`` as used for contact search). Since
``fold(old_fold(x)) == fold(x)`` for every character, an old file is brought up to date from its stored
values alone: each folded value is folded again and the trigram index rebuilt, without re-parsing any card.
"""

from __future__ import annotations

import sqlite3

from groupware.store.database import Database
from groupware.store.schema import SCHEMA, SCHEMA_VERSION, SQLITE_SEARCH, SQLITE_SEARCH_FILL
from groupware.store.text import fold

__all__ = ["SCHEMA_NAME", "ensure_schema", "refold_contacts", "upgrade"]

#: The name under which the engine's schema version is kept in ``meta``.
SCHEMA_NAME = "schema_version"


def ensure_schema(db: Database) -> None:
    """Create or upgrade the engine's tables and its SQLite trigram index (once per :class:`Database`)."""
    db.ensure(SCHEMA_NAME, SCHEMA + SQLITE_SEARCH, SCHEMA_VERSION, upgrade)


def upgrade(conn: sqlite3.Connection, version: int) -> None:
    """Bring the engine's tables from ``version`` to :data:`~groupware.store.schema.SCHEMA_VERSION`."""
    if version < 2:
        refold_contacts(conn)
        # Rebuilt from the refolded rows; this also fills an index created just now, for a version 1 file
        # written before the index existed.
        conn.execute("INSERT INTO contact_trigrams (contact_trigrams) VALUES ('delete-all')")
        conn.execute(SQLITE_SEARCH_FILL)


def refold_contacts(conn: sqlite3.Connection) -> int:
    """Fold every stored contact value again with :func:`~groupware.store.text.fold` (the trigram index is
    the caller's to rebuild); returns how many changed. ASCII values are skipped: every version folded them
    alike."""
    changed = 0
    rows = conn.execute("SELECT id, value FROM contact_fields WHERE value IS NOT NULL").fetchall()
    for row_id, value in rows:
        folded = value if value.isascii() else fold(value)
        if folded != value:
            conn.execute("UPDATE contact_fields SET value = ? WHERE id = ?", (folded, row_id))
            changed += 1
    return changed
