# SPDX-License-Identifier: GPL-3.0-or-later
"""The indexed storage engine: collections, items stored once, an RFC 6578 change log, and indexes for UIDs,
calendar time spans with recurrence instances (RFC 4791 §9.9) and folded contact fields (RFC 6352 §10.5).

SQLite in WAL mode is the embedded backend; the SQL stays portable so that a PostgreSQL backend can follow.
Nothing here imports Radicale nor reads XML: queries are typed (:mod:`groupware.store.query`, built from the
request at the DAV edge by :mod:`groupware.dav.filters`), and :mod:`groupware.plugins.storage` adapts this
engine to Radicale's storage API. :class:`~groupware.store.database.Database` is the one SQL connection layer,
shared with the sharing tables and the login lockouts.
"""

from __future__ import annotations

from groupware.store.database import Database
from groupware.store.errors import CollectionNotFound, StoreError, UidConflict, UnknownSyncToken
from groupware.store.query import ContactFilter, ContactQuery, PropFilter, TextMatch, TimeRange
from groupware.store.records import TIMESTAMP_MAX, TIMESTAMP_MIN, CollectionRecord, ItemData, StoredItem
from groupware.store.store import Store
from groupware.store.text import CONTACT_FIELDS, contact_values, fold

__all__ = [
    "CONTACT_FIELDS",
    "TIMESTAMP_MAX",
    "TIMESTAMP_MIN",
    "CollectionNotFound",
    "CollectionRecord",
    "ContactFilter",
    "ContactQuery",
    "Database",
    "ItemData",
    "PropFilter",
    "Store",
    "StoreError",
    "StoredItem",
    "TextMatch",
    "TimeRange",
    "UidConflict",
    "UnknownSyncToken",
    "contact_values",
    "fold",
]
