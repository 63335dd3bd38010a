# SPDX-License-Identifier: GPL-3.0-or-later
"""The storage engine: collections, items stored once, the RFC 6578 change log and the query indexes.

Every method runs in a transaction of its own, or joins the caller's :meth:`Store.transaction` (the Radicale
adapter opens one per writing request, so that the checks a request makes and the write it does commit
together). Reads need no lock: in WAL mode they see the last committed state and never wait for a writer.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager

from groupware.store import carddav
from groupware.store.database import Database
from groupware.store.errors import CollectionNotFound, UidConflict, UnknownSyncToken
from groupware.store.migrations import ensure_schema
from groupware.store.query import ContactQuery, TimeRange
from groupware.store.records import SYNC_PREFIX, CollectionRecord, ItemData, StoredItem
from groupware.store.schema import SEARCHED_FIELDS

__all__ = ["Store"]

COLLECTION_COLUMNS = "id, path, tag, props, revision, generation, modified"
ITEM_COLUMNS = "i.href, i.text, i.etag, i.uid, i.name, i.component, i.modified, i.span_start, i.span_end"
CHUNK = 500


def parent_of(path: str) -> str:
    """The parent collection's path ("" for the root and its children)."""
    return path.rpartition("/")[0]


def _collection(row: Sequence[object]) -> CollectionRecord:
    return CollectionRecord(*row)  # type: ignore[arg-type]


def _item(row: Sequence[object]) -> StoredItem:
    href, text, etag, uid, name, component, modified, start, end = row
    return StoredItem(href, text, etag, uid, name, component, modified, (start, end))  # type: ignore[arg-type]


class Store:
    """Collections and items in one SQL database (SQLite in WAL mode)."""

    def __init__(self, database: Database | str, synchronous: str = "FULL") -> None:
        """Open the engine on ``database``: a shared :class:`Database` (``synchronous`` is then its own), or a
        file to open (and to close with :meth:`close`)."""
        self._owns_db = not isinstance(database, Database)
        self.db = database if isinstance(database, Database) else Database(database, synchronous=synchronous)
        ensure_schema(self.db)
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM collections WHERE path = ''").fetchone() is None:
                self._insert_collection(conn, "", {})

    def close(self) -> None:
        """Close the database connections, when this store opened the database (a shared one is its
        owner's to close)."""
        if self._owns_db:
            self.db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction that the engine's methods join (re-entrant; inner failures roll back alone)."""
        return self.db.write()

    # Collections ------------------------------------------------------------------------------------------

    def get_collection(self, path: str) -> CollectionRecord | None:
        """The collection at ``path`` (no leading or trailing slash; "" is the root), in one indexed read."""
        row = (
            self.db.connection()
            .execute(f"SELECT {COLLECTION_COLUMNS} FROM collections WHERE path = ?", (path,))
            .fetchone()
        )
        return _collection(row) if row else None

    def collection(self, path: str) -> CollectionRecord:
        """Like :meth:`get_collection`, raising :class:`CollectionNotFound`."""
        record = self.get_collection(path)
        if record is None:
            raise CollectionNotFound(path)
        return record

    def children(self, path: str) -> list[CollectionRecord]:
        """The collections directly inside ``path``."""
        rows = (
            self.db.connection()
            .execute(
                f"SELECT {COLLECTION_COLUMNS} FROM collections WHERE parent = ? AND path <> '' ORDER BY path",
                (path,),
            )
            .fetchall()
        )
        return [_collection(row) for row in rows]

    def _insert_collection(self, conn: sqlite3.Connection, path: str, props: Mapping[str, str]) -> None:
        conn.execute(
            "INSERT INTO collections (path, parent, tag, props, revision, generation, modified) "
            "VALUES (?, ?, ?, ?, 0, ?, ?)",
            (
                path,
                parent_of(path),
                props.get("tag", ""),
                json.dumps(dict(props), sort_keys=True),
                secrets.token_hex(8),
                int(time.time()),
            ),
        )

    def ensure_collection(self, path: str) -> CollectionRecord:
        """The collection at ``path``, created without properties (with its missing parents) if absent."""
        with self.db.write() as conn:
            parts = path.split("/") if path else []
            for depth in range(1, len(parts) + 1):
                sub = "/".join(parts[:depth])
                if conn.execute("SELECT 1 FROM collections WHERE path = ?", (sub,)).fetchone() is None:
                    parent_id = self._id(conn, parent_of(sub))
                    if conn.execute(
                        "SELECT 1 FROM items WHERE collection_id = ? AND href = ?",
                        (parent_id, parts[depth - 1]),
                    ).fetchone():
                        raise ValueError(f"an item already exists at {sub!r}")
                    self._insert_collection(conn, sub, {})
        return self.collection(path)

    def _id(self, conn: sqlite3.Connection, path: str) -> int:
        row = conn.execute("SELECT id FROM collections WHERE path = ?", (path,)).fetchone()
        if row is None:
            raise CollectionNotFound(path)
        return int(row[0])

    def create_collection(
        self, path: str, props: Mapping[str, str], items: Iterable[ItemData] = ()
    ) -> tuple[CollectionRecord, dict[str, StoredItem], list[str]]:
        """Create or replace the collection at ``path`` with ``props`` and ``items``.

        A replaced collection keeps its identity: its items are deleted and the new ones stored through the
        change log, so that clients' sync tokens stay valid (RFC 6578 §3.2). Returns the collection, the items
        replaced under an href that the new content uses again, and the hrefs that are new.
        """
        replaced: dict[str, StoredItem] = {}
        new_hrefs: list[str] = []
        with self.db.write() as conn:
            record = self.ensure_collection(path)
            old = {item.href: item for item in self._iter_items(conn, record.id)}
            self.set_props(record.id, props)
            for data in items:
                if data.href in old:
                    replaced[data.href] = old.pop(data.href)
                else:
                    new_hrefs.append(data.href)
                self._delete_item(conn, record.id, data.href, log=False)
                self.put_item(record.id, data)
            for href in old:
                self._delete_item(conn, record.id, href)
        return self.collection(path), replaced, new_hrefs

    def set_props(self, collection_id: int, props: Mapping[str, str]) -> CollectionRecord:
        """Replace the collection's properties (RFC 4918 §9.2 PROPPATCH); ``props["tag"]`` is its type."""
        with self.db.write() as conn:
            revision = self._bump(conn, collection_id)
            conn.execute(
                "UPDATE collections SET props = ?, tag = ? WHERE id = ?",
                (json.dumps(dict(props), sort_keys=True), props.get("tag", ""), collection_id),
            )
            row = conn.execute(
                f"SELECT {COLLECTION_COLUMNS} FROM collections WHERE id = ?", (collection_id,)
            ).fetchone()
        assert row is not None and row[4] == revision
        return _collection(row)

    def delete_collection(self, path: str) -> None:
        """Delete the collection at ``path`` with everything inside it."""
        if path == "":
            raise ValueError("the root collection cannot be deleted")
        with self.db.write() as conn:
            like = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM collections WHERE path = ? OR path LIKE ? ESCAPE '\\'", (path, like)
                )
            ]
            for table in ("instances", "contact_fields", "changes", "items"):
                conn.executemany(f"DELETE FROM {table} WHERE collection_id = ?", [(i,) for i in ids])
            conn.executemany("DELETE FROM collections WHERE id = ?", [(i,) for i in ids])

    def _bump(self, conn: sqlite3.Connection, collection_id: int) -> int:
        row = conn.execute(
            "UPDATE collections SET revision = revision + 1, modified = ? WHERE id = ? RETURNING revision",
            (int(time.time()), collection_id),
        ).fetchone()
        if row is None:
            raise CollectionNotFound(str(collection_id))
        return int(row[0])

    # Items ------------------------------------------------------------------------------------------------

    def get_item(self, collection_id: int, href: str) -> StoredItem | None:
        """One item by href, in one primary-key read."""
        row = (
            self.db.connection()
            .execute(
                f"SELECT {ITEM_COLUMNS} FROM items i WHERE i.collection_id = ? AND i.href = ?",
                (collection_id, href),
            )
            .fetchone()
        )
        return _item(row) if row else None

    def get_items(self, collection_id: int, hrefs: Iterable[str]) -> Iterator[tuple[str, StoredItem | None]]:
        """``(href, item or None)`` for each distinct href (RFC 6352 §8.7 / RFC 4791 §7.9 multiget)."""
        wanted = list(dict.fromkeys(hrefs))
        conn = self.db.connection()
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            found = {
                row[0]: _item(row)
                for row in conn.execute(
                    f"SELECT {ITEM_COLUMNS} FROM items i WHERE i.collection_id = ? AND i.href IN ({marks})",
                    (collection_id, *chunk),
                )
            }
            for href in chunk:
                yield href, found.get(href)

    def iter_items(self, collection_id: int) -> Iterator[StoredItem]:
        """Every item of the collection, in href order."""
        return self._iter_items(self.db.connection(), collection_id)

    @staticmethod
    def _iter_items(conn: sqlite3.Connection, collection_id: int) -> Iterator[StoredItem]:
        cursor = conn.execute(
            f"SELECT {ITEM_COLUMNS} FROM items i WHERE i.collection_id = ? ORDER BY i.href", (collection_id,)
        )
        return (_item(row) for row in cursor)

    def summaries(self, collection_id: int) -> list[tuple[str, str, int, str, str, int]]:
        """``(href, etag, modified, name, component, size in bytes)`` of every item, in href order (the order
        of :meth:`iter_items`), without building items: what a whole-collection listing needs (RFC 4918 §9.1),
        read from the covering index ``items_summary``."""
        return list(self.iter_summaries(collection_id))

    def iter_summaries(
        self, collection_id: int, batch: int = 1000
    ) -> Iterator[tuple[str, str, int, str, str, int]]:
        """:meth:`summaries`, read ``batch`` rows at a time from one statement (one snapshot of the
        collection): a whole-collection answer streamed from it holds a batch in memory, not the collection.
        Close the iterator when abandoning it early, to end the statement."""
        cursor = self.db.connection().execute(
            "SELECT href, etag, modified, name, component, size FROM items "
            "WHERE collection_id = ? ORDER BY href",
            (collection_id,),
        )
        try:
            while rows := cursor.fetchmany(batch):
                yield from rows
        finally:
            cursor.close()

    def hrefs(self, collection_id: int) -> list[str]:
        """The hrefs of every item of the collection."""
        return [
            row[0]
            for row in self.db.connection().execute(
                "SELECT href FROM items WHERE collection_id = ? ORDER BY href", (collection_id,)
            )
        ]

    def href_of_uid(self, collection_id: int, uid: str) -> str | None:
        """The href of the item with ``uid`` in the collection, through the UID index (``uid <> ''`` lets the
        planner use the partial index)."""
        row = (
            self.db.connection()
            .execute(
                "SELECT href FROM items WHERE collection_id = ? AND uid = ? AND uid <> ''",
                (collection_id, uid),
            )
            .fetchone()
        )
        return str(row[0]) if row else None

    def has_uid(self, collection_id: int, uid: str) -> bool:
        """Whether an item of the collection has ``uid`` (RFC 4791 §5.3.2.1 no-uid-conflict)."""
        return self.href_of_uid(collection_id, uid) is not None

    def put_item(self, collection_id: int, data: ItemData) -> tuple[StoredItem, StoredItem | None]:
        """Store ``data`` under its href (create or replace); returns the stored item and the replaced one.

        Raises:
            UidConflict: another href of the collection holds the same UID (checked inside the transaction
                and guarded by the unique index, so two concurrent writers cannot both succeed).
        """
        now = int(time.time())
        with self.db.write() as conn:
            old = self._get(conn, collection_id, data.href)
            if data.uid:
                row = conn.execute(
                    "SELECT href FROM items WHERE collection_id = ? AND uid = ? AND uid <> '' AND href <> ?",
                    (collection_id, data.uid, data.href),
                ).fetchone()
                if row is not None:
                    raise UidConflict(str(collection_id), data.uid, str(row[0]))
            revision = self._bump(conn, collection_id)
            if old is not None:
                self._drop_index(conn, collection_id, data.href)
            try:
                self._insert_item(conn, collection_id, data, now)
            except sqlite3.IntegrityError as exc:
                raise UidConflict(str(collection_id), data.uid, "?") from exc
            self._log(conn, collection_id, data.href, revision, deleted=False)
        stored = StoredItem(
            data.href, data.text, data.etag, data.uid, data.name, data.component, now, data.span
        )
        return stored, old

    @staticmethod
    def _insert_item(conn: sqlite3.Connection, collection_id: int, data: ItemData, now: int) -> None:
        conn.execute(
            "INSERT INTO items (collection_id, href, uid, etag, name, component, text, size, modified, "
            "span_start, "
            "span_end, instances_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (collection_id, href) DO UPDATE SET uid = excluded.uid, etag = excluded.etag, "
            "name = excluded.name, component = excluded.component, text = excluded.text, size = "
            "excluded.size, "
            "modified = excluded.modified, span_start = excluded.span_start, span_end = excluded.span_end, "
            "instances_until = excluded.instances_until",
            (
                collection_id,
                data.href,
                data.uid,
                data.etag,
                data.name,
                data.component,
                data.text,
                len(data.text.encode("utf-8")),
                now,
                data.span[0],
                data.span[1],
                data.instances_until,
            ),
        )
        if data.instances:
            conn.executemany(
                "INSERT INTO instances (collection_id, href, start_at, end_at) VALUES (?, ?, ?, ?)",
                [(collection_id, data.href, start, end) for start, end in data.instances],
            )
        if data.contact:
            _insert_contact_fields(conn, collection_id, data.href, data.contact)

    @staticmethod
    def _drop_index(conn: sqlite3.Connection, collection_id: int, href: str) -> None:
        conn.execute("DELETE FROM instances WHERE collection_id = ? AND href = ?", (collection_id, href))
        conn.execute("DELETE FROM contact_fields WHERE collection_id = ? AND href = ?", (collection_id, href))

    @staticmethod
    def _get(conn: sqlite3.Connection, collection_id: int, href: str) -> StoredItem | None:
        row = conn.execute(
            f"SELECT {ITEM_COLUMNS} FROM items i WHERE i.collection_id = ? AND i.href = ?",
            (collection_id, href),
        ).fetchone()
        return _item(row) if row else None

    @staticmethod
    def _log(conn: sqlite3.Connection, collection_id: int, href: str, revision: int, deleted: bool) -> None:
        conn.execute(
            "INSERT INTO changes (collection_id, href, revision, deleted) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (collection_id, href) DO UPDATE SET revision = excluded.revision, "
            "deleted = excluded.deleted",
            (collection_id, href, revision, int(deleted)),
        )

    def delete_item(self, collection_id: int, href: str) -> StoredItem | None:
        """Delete one item (logged as a tombstone for sync); returns it, or ``None`` if absent."""
        with self.db.write() as conn:
            return self._delete_item(conn, collection_id, href)

    def _delete_item(
        self, conn: sqlite3.Connection, collection_id: int, href: str, log: bool = True
    ) -> StoredItem | None:
        old = self._get(conn, collection_id, href)
        if old is None:
            return None
        self._drop_index(conn, collection_id, href)
        conn.execute("DELETE FROM items WHERE collection_id = ? AND href = ?", (collection_id, href))
        if log:
            self._log(conn, collection_id, href, self._bump(conn, collection_id), deleted=True)
        return old

    def move_item(
        self, source_id: int, href: str, target_id: int, target_href: str, data: ItemData | None = None
    ) -> StoredItem:
        """Move an item (RFC 4918 §9.9), replacing ``target_href``; ``data`` re-indexes it under the new
        href.
        """
        with self.db.write() as conn:
            old = self._get(conn, source_id, href)
            if old is not None and data is None:
                data = self._item_data(conn, source_id, old, target_href)
            old = self._delete_item(conn, source_id, href)
            if old is None or data is None:
                raise LookupError(f"no item {href!r} in collection {source_id}")
            self._delete_item(conn, target_id, target_href, log=False)
            stored, _ = self.put_item(target_id, data)
        return stored

    @staticmethod
    def _item_data(conn: sqlite3.Connection, collection_id: int, item: StoredItem, href: str) -> ItemData:
        """The stored item with its index rows, ready to be stored again under ``href``."""
        key = (collection_id, item.href)
        until = conn.execute(
            "SELECT instances_until FROM items WHERE collection_id = ? AND href = ?", key
        ).fetchone()[0]
        instances = tuple(
            (int(a), int(b))
            for a, b in conn.execute(
                "SELECT start_at, end_at FROM instances WHERE collection_id = ? AND href = ?", key
            )
        )
        contact = tuple(
            (str(f), v)
            for f, v in conn.execute(
                "SELECT field, value FROM contact_fields WHERE collection_id = ? AND href = ?", key
            )
        )
        return ItemData(
            href,
            item.text,
            item.etag,
            item.uid,
            item.name,
            item.component,
            item.span,
            instances,
            int(until),
            contact,
        )

    # Sync (RFC 6578) ----------------------------------------------------------------------------------------

    def changes_since(self, collection_id: int, token: str = "") -> tuple[str, list[str]]:
        """The current sync token and the hrefs changed or deleted since ``token`` (RFC 6578 §3.2), in
        O(changes) through the revision index. Without a token, every current href.

        Raises:
            UnknownSyncToken: malformed, from another collection (or an earlier one at this path), newer than
                the collection, or older than the pruned part of the log.
        """
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT {COLLECTION_COLUMNS}, sync_floor FROM collections WHERE id = ?", (collection_id,)
            ).fetchone()
            if row is None:
                raise CollectionNotFound(str(collection_id))
            record, floor = _collection(row[:7]), int(row[7])
            if not token:
                return record.sync_token, [
                    r[0]
                    for r in conn.execute(
                        "SELECT href FROM items WHERE collection_id = ? ORDER BY href", (collection_id,)
                    )
                ]
            revision = self._token_revision(token, record, floor)
            if revision == record.revision:
                return record.sync_token, []
            hrefs = [
                r[0]
                for r in conn.execute(
                    "SELECT href FROM changes WHERE collection_id = ? AND revision > ? ORDER BY revision",
                    (collection_id, revision),
                )
            ]
        return record.sync_token, hrefs

    @staticmethod
    def _token_revision(token: str, record: CollectionRecord, floor: int) -> int:
        if not token.startswith(SYNC_PREFIX):
            raise UnknownSyncToken(token, "not issued by this server")
        generation, _, revision_text = token[len(SYNC_PREFIX) :].partition("-")
        if generation != record.generation or not (revision_text.isascii() and revision_text.isdigit()):
            raise UnknownSyncToken(token, "not issued for this collection")
        revision = int(revision_text)
        if revision > record.revision:
            raise UnknownSyncToken(token, "newer than the collection (restored from a backup?)")
        if revision < floor:
            raise UnknownSyncToken(token, "older than the kept change log")
        return revision

    def prune_changes(self, collection_id: int, before_revision: int) -> int:
        """Forget tombstones older than ``before_revision``; tokens older than that become unknown."""
        with self.db.write() as conn:
            deleted = conn.execute(
                "DELETE FROM changes WHERE collection_id = ? AND deleted = 1 AND revision < ?",
                (collection_id, before_revision),
            ).rowcount
            conn.execute(
                "UPDATE collections SET sync_floor = ? WHERE id = ? AND sync_floor < ?",
                (before_revision, collection_id, before_revision),
            )
        return int(deleted)

    # Queries ------------------------------------------------------------------------------------------------

    def time_range(self, collection_id: int, query: TimeRange) -> Iterator[tuple[StoredItem, bool | None]]:
        """Items whose time span overlaps ``[query.start, query.end)`` (RFC 4791 §9.9), of ``query.component``
        when set, with what the instance index says: ``True`` an instance overlaps, ``False`` none does
        (exactly), ``None`` the index cannot tell."""
        start, end = query.start, query.end
        sql = (
            f"SELECT {ITEM_COLUMNS}, CASE WHEN i.instances_until >= ? THEN (CASE WHEN EXISTS ("
            "SELECT 1 FROM instances x WHERE x.collection_id = i.collection_id AND x.href = i.href "
            "AND x.start_at < ? AND x.end_at > ?) THEN 1 ELSE 0 END) ELSE -1 END "
            "FROM items i WHERE i.collection_id = ? AND i.span_start < ? AND i.span_end > ?"
        )
        params: list[object] = [end, end, start, collection_id, end, start]
        if query.component is not None:
            sql += " AND i.component = ?"
            params.append(query.component)
        for row in self.db.connection().execute(sql + " ORDER BY i.href", params):
            yield _item(row[:9]), None if row[9] < 0 else bool(row[9])

    def contact_query(self, collection_id: int, query: ContactQuery) -> Iterator[StoredItem]:
        """Items that match every filter of ``query`` (RFC 6352 §10.5) in the contact index, by href; they
        match the request exactly when ``query.exact`` (see :mod:`groupware.store.carddav`)."""
        params: list[object] = [collection_id]
        condition = carddav.contact_sql(query.filters, collection_id, params)
        cursor = self.db.connection().execute(
            f"SELECT {ITEM_COLUMNS} FROM items i WHERE i.collection_id = ? AND {condition} ORDER BY i.href",
            params,
        )
        return (_item(row) for row in cursor)

    # Consistency --------------------------------------------------------------------------------------------

    def verify(self) -> list[str]:
        """Problems found in the database (empty when consistent)."""
        conn = self.db.connection()
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
        checks = {
            "items without a change-log entry": "SELECT COUNT(*) FROM items i WHERE NOT EXISTS (SELECT 1 "
            "FROM "
            "changes c WHERE c.collection_id = i.collection_id AND c.href = i.href AND c.deleted = 0)",
            "live change-log entries without an item": "SELECT COUNT(*) FROM changes c WHERE c.deleted = 0 "
            "AND "
            "NOT EXISTS (SELECT 1 FROM items i WHERE i.collection_id = c.collection_id AND i.href = c.href)",
            "change-log entries newer than their collection": "SELECT COUNT(*) FROM changes c JOIN "
            "collections k "
            "ON k.id = c.collection_id WHERE c.revision > k.revision",
            "collections without their parent": "SELECT COUNT(*) FROM collections k WHERE k.path <> '' AND "
            "NOT EXISTS (SELECT 1 FROM collections p WHERE p.path = k.parent)",
            "items of missing collections": "SELECT COUNT(*) FROM items i WHERE NOT EXISTS (SELECT 1 FROM "
            "collections k WHERE k.id = i.collection_id)",
        }
        for label, sql in checks.items():
            count = conn.execute(sql).fetchone()[0]
            if count:
                problems.append(f"{count} {label}")
        return problems


def _insert_contact_fields(
    conn: sqlite3.Connection, collection_id: int, href: str, values: Sequence[tuple[str, str | None]]
) -> None:
    """The folded contact values of one item, the searched ones also into the trigram index (see schema)."""
    insert = "INSERT INTO contact_fields (collection_id, href, field, value) VALUES (?, ?, ?, ?)"
    plain = [
        (collection_id, href, field, value)
        for field, value in values
        if value is None or field not in SEARCHED_FIELDS
    ]
    if plain:
        conn.executemany(insert, plain)
    searched = []
    for field, value in values:
        if value is not None and field in SEARCHED_FIELDS:
            row = conn.execute(insert + " RETURNING id", (collection_id, href, field, value)).fetchone()
            searched.append((row[0], value))
    if searched:
        conn.executemany("INSERT INTO contact_trigrams (rowid, value) VALUES (?, ?)", searched)
