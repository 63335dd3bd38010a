# SPDX-License-Identifier: GPL-3.0-or-later
"""Radicale storage adapter over the indexed engine :mod:`groupware.store` (``[storage] type =
groupware.plugins.storage``).

* Under ``groupware serve`` the store opens on the services' one :class:`~groupware.store.database.Database`
  (shared with the sharing tables and the lockouts, :func:`groupware.plugins.services_of`). Run by Radicale
  alone, it opens ``<filesystem_folder>/groupware.sqlite`` unless ``[storage] database`` names another file;
  ``[storage] synchronous`` (``FULL`` by default) is SQLite's durability level.
* No global lock: ``acquire_lock("w")`` opens one write transaction for the request, so the checks Radicale
  makes (existence, If-Match, UID) and the write commit together, and the answer leaves only after the commit.
  Readers take no lock at all.
* ``get_filtered`` answers from the indexes (the REPORT's filters made typed queries by
  :mod:`groupware.dav.filters`) and says ``True`` only where the index decides exactly;
  ``has_uid`` uses the UID index; ``sync`` reads the change log in O(changes) (RFC 6578); etag, ctag and
  properties are one-row reads. Items come back with etag, UID, component and time range filled in, so nothing
  re-parses them.
* An unknown sync token raises :class:`ValueError`, which Radicale answers ``403`` with
  ``DAV:valid-sync-token`` (RFC 6578 §3.2); DAVx5 then re-syncs from scratch.
"""

from __future__ import annotations

import math
import os
import posixpath
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from radicale import item as radicale_item
from radicale import pathutils, storage, types
from radicale.item import filter as radicale_filter
from radicale.log import logger

from groupware.config import LimitsConfig, database_file
from groupware.dav import filters as dav_filters
from groupware.dav.budget import spend
from groupware.dav.fastpath import ItemSummary, http_date
from groupware.dav.screening import QueryScreen
from groupware.plugins import services_of
from groupware.store import (
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    CollectionRecord,
    ItemData,
    Store,
    StoredItem,
    contact_values,
)
from groupware.store.database import Database

__all__ = ["Collection", "Storage", "close_store", "index_item", "open_store"]

# Instances of a recurring calendar object kept in the index: at most this many, starting before the horizon.
MAX_INSTANCES = 400
HORIZON = timedelta(days=3 * 366)
SUFFIXES = {"VCALENDAR": ".ics", "VADDRESSBOOK": ".vcf"}

_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def open_store(database: Database | str, synchronous: str = "FULL") -> Store:
    """The process's :class:`Store` for ``database`` (one per file, shared by every thread): on the running
    services' shared :class:`Database`, or on a file this process opens itself."""
    path = os.path.abspath(database.path if isinstance(database, Database) else database)
    with _stores_lock:
        cached = _stores.get(path)
        if cached is None or (isinstance(database, Database) and cached.db is not database):
            _stores[path] = Store(database, synchronous=synchronous)
        return _stores[path]


def close_store(path: str) -> None:
    """Close the process's store for ``path`` (at shutdown); the next :func:`open_store` opens it anew. A
    shared database stays open: the services close it."""
    with _stores_lock:
        store = _stores.pop(os.path.abspath(path), None)
    if store is not None:
        store.close()


def _instances(vobject_item: Any, component: str) -> tuple[tuple[tuple[int, int], ...], int]:
    """The time ranges of the object's instances, as Radicale's own time-range test walks them (RFC 4791
    §9.9), and the time before which the list is complete (``TIMESTAMP_MIN``: unknown)."""
    if component not in ("VEVENT", "VTODO", "VJOURNAL"):
        return (), TIMESTAMP_MIN
    spans: list[tuple[int, int]] = []
    until = TIMESTAMP_MAX
    horizon = datetime.now(UTC) + HORIZON

    def range_fn(start: datetime, end: datetime, is_recurrence: bool) -> bool:
        nonlocal until
        # Overrides (RECURRENCE-ID) are recorded past the horizon, but never more than MAX_INSTANCES in all:
        # a master that carries a RECURRENCE-ID makes every instance of its endless rule one.
        if len(spans) >= MAX_INSTANCES or (not is_recurrence and start > horizon):
            until = math.floor(start.timestamp())
            return True
        spans.append((math.floor(start.timestamp()), math.ceil(end.timestamp())))
        return False

    try:
        radicale_filter.visit_time_ranges(vobject_item, component, range_fn, lambda start: False)
    except Exception:
        return (), TIMESTAMP_MIN
    return tuple(spans), until


def index_item(href: str, item: radicale_item.Item, tag: str) -> ItemData:
    """The engine's record of ``item`` with its index data, from the already parsed item (no second parse)."""
    text, etag, uid, name, component = item.serialize(), item.etag, item.uid, item.name, item.component_name
    if tag == "VCALENDAR":
        instances, until = _instances(item.vobject_item, component)
        return ItemData(href, text, etag, uid, name, component, item.time_range, instances, until)
    if tag == "VADDRESSBOOK" and name == "VCARD":
        contact = tuple(contact_values(item.vobject_item))
        return ItemData(href, text, etag, uid, name, component, item.time_range, contact=contact)
    return ItemData(href, text, etag, uid, name, component, item.time_range)


class Collection(storage.BaseCollection):
    """A collection backed by one row of the engine; its etag, tag and properties are read with it."""

    def __init__(self, storage_: Storage, record: CollectionRecord) -> None:
        self._storage = storage_
        self._store = storage_.store
        self._record = record
        self._props: dict[str, str] | None = None

    @property
    def path(self) -> str:
        return self._record.path

    @property
    def etag(self) -> str:
        """O(1): the collection's generation and revision (changes with every item or property change)."""
        return self._record.etag

    @property
    def tag(self) -> str:
        return self._record.tag

    @property
    def last_modified(self) -> str:
        return http_date(self._record.modified)

    def _item(self, stored: StoredItem) -> radicale_item.Item:
        spend()  # every item a request reads is a step of its budget
        return radicale_item.Item(
            collection=self,
            href=stored.href,
            last_modified=http_date(stored.modified),
            text=stored.text,
            etag=stored.etag,
            uid=stored.uid,
            name=stored.name,
            component_name=stored.component,
            time_range=stored.span,
        )

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        """RFC 6578 §3.2: the current token and the hrefs changed or deleted since ``old_token``.

        Without a token the hrefs are listed only if iterated: a ``DAV:sync-token`` property asks for the
        token alone. The token then comes from the collection row read with this object, never newer than the
        list.
        """
        if not old_token:

            def every_href() -> Iterator[str]:
                yield from self._store.hrefs(self._record.id)

            return self._record.sync_token, every_href()
        return self._store.changes_since(self._record.id, old_token)

    def fast_summaries(self) -> Iterator[tuple[str, str, int, str, str, int]]:
        """Facts of every item (:class:`groupware.dav.fastpath.ItemSummary` order), in :meth:`get_all` order,
        for the whole-collection fast path, read as they are used (close the iterator to stop early); dates as
        POSIX seconds, written as HTTP dates like :meth:`_item` does."""
        return self._store.iter_summaries(self._record.id)

    def get_multi(self, hrefs: Iterable[str]) -> Iterator[tuple[str, radicale_item.Item | None]]:
        for href, stored in self._store.get_items(self._record.id, hrefs):
            yield href, self._item(stored) if stored is not None else None

    def get_all(self) -> Iterator[radicale_item.Item]:
        return (self._item(stored) for stored in self._store.iter_items(self._record.id))

    def get_filtered(self, filters: Iterable[ET.Element]) -> Iterator[tuple[radicale_item.Item, bool]]:
        """Items that may match ``filters``, flagged ``True`` where decided: exactly by the index, or by
        Radicale's own test run here, where an item that cannot be evaluated is left out and logged rather
        than failing the whole query (:mod:`groupware.dav.screening`)."""
        filters = list(filters)
        screen = QueryScreen(self.path, self.tag, filters, self._storage.limits)
        for stored, exact in self._filtered(filters):
            item = self._item(stored)
            if exact and screen.every_item:
                if screen.verdict(item, decided=True):
                    yield item, True
            elif exact or not screen.applies:
                yield item, exact
            elif screen.verdict(item):
                yield item, True

    def fast_query(self, filters: Iterable[ET.Element]) -> list[tuple[ItemSummary, str]] | None:
        """The facts and text of the items matching ``filters`` in :meth:`get_filtered` order, when the index
        decides every one exactly (else None: Radicale checks the candidates), for the filtered-REPORT fast
        path."""
        found = []
        for stored, exact in self._filtered(list(filters)):
            if not exact:
                return None
            found.append(
                (
                    ItemSummary(
                        stored.href,
                        stored.etag,
                        stored.modified,
                        stored.name,
                        stored.component,
                        len(stored.text.encode("utf-8")),
                    ),
                    stored.text,
                )
            )
        return found

    def _filtered(self, filters: list[ET.Element]) -> Iterator[tuple[StoredItem, bool]]:
        if not self.tag:
            return
        if self.tag == "VADDRESSBOOK" and filters:
            query = dav_filters.contact_query(filters)
            for stored in self._store.contact_query(self._record.id, query):
                yield stored, query.exact
            return
        if self.tag == "VCALENDAR":
            yield from self._time_filtered(filters)
            return
        for stored in self._store.iter_items(self._record.id):
            yield stored, False

    def _time_filtered(self, filters: list[ET.Element]) -> Iterator[tuple[StoredItem, bool]]:
        """RFC 4791 §9.9: span prefilter, then the instance index where Radicale's own rule is not exact."""
        query, simple = dav_filters.time_range(filters, self.tag)
        tag, start, end = query.component, query.start, query.end
        for stored, overlaps in self._store.time_range(self._record.id, query):
            item_start, item_end = stored.span
            if simple and (start <= item_start or item_end <= end):
                yield stored, True
            elif simple and tag is not None and overlaps is not None:
                if overlaps:
                    yield stored, True
            else:
                yield stored, False

    def has_uid(self, uid: str) -> bool:
        return self._store.has_uid(self._record.id, uid)

    def href_of_uid(self, uid: str) -> str | None:
        """The href of the item holding ``uid``, through the UID index (RFC 6352 §6.3.2.1 no-uid-conflict
        names it)."""
        return self._store.href_of_uid(self._record.id, uid)

    def upload(
        self, href: str, item: radicale_item.Item
    ) -> tuple[radicale_item.Item, radicale_item.Item | None]:
        if not pathutils.is_safe_path_component(href):
            raise pathutils.UnsafePathError(href)
        if self._store.get_collection(posixpath.join(self.path, href) if self.path else href) is not None:
            raise ValueError(f"a collection already exists at {href!r} in {self.path!r}")
        stored, old = self._store.put_item(self._record.id, index_item(href, item, self.tag))
        self._refresh()
        return self._item(stored), self._item(old) if old is not None else None

    def delete(self, href: str | None = None) -> None:
        if href is None:
            self._store.delete_collection(self.path)
            return
        if self._store.delete_item(self._record.id, href) is None:
            raise storage.ComponentNotFoundError(href)
        self._refresh()

    def _refresh(self) -> None:
        self._record = self._store.collection(self.path)
        self._props = None

    @overload
    def get_meta(self, key: None = None) -> Mapping[str, str]: ...

    @overload
    def get_meta(self, key: str) -> str | None: ...

    def get_meta(self, key: str | None = None) -> Mapping[str, str] | str | None:
        if self._props is None:
            self._props = dict(radicale_item.check_and_sanitize_props(self._record.props))
        return self._props if key is None else self._props.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        checked = radicale_item.check_and_sanitize_props(dict(props))
        self._record = self._store.set_props(self._record.id, checked)
        self._props = None


@contextmanager
def _no_child_context(path: str, href: str | None) -> Iterator[None]:
    yield


class Storage(storage.BaseStorage):
    """``[storage] type = groupware.plugins.storage``."""

    _is_collision_free = True
    _supports_unicode = True
    _supports_trailing_whitespace = True
    _supports_problematic_chars = True

    def __init__(self, configuration: Any) -> None:
        super().__init__(configuration)
        self.store = open_store(self._database(), self._option("synchronous") or "FULL")
        try:
            self.limits: LimitsConfig = services_of(configuration, "storage").config.limits
        except RuntimeError:  # run by Radicale alone: the defaults
            self.limits = LimitsConfig()
        logger.info("Storage database: %r", self.store.db.path)

    def _database(self) -> Database | str:
        """The running services' shared database (``groupware serve``) when it is the file the ``[storage]``
        options name, else that file, opened here (Radicale runs this plugin without our runtime)."""
        path = database_file(self.configuration.get("storage", "filesystem_folder"), self._option("database"))
        try:
            shared = getattr(services_of(self.configuration, "storage"), "database", None)
        except RuntimeError:
            shared = None
        if isinstance(shared, Database) and os.path.abspath(shared.path) == os.path.abspath(path):
            return shared
        return path

    def close(self) -> None:
        """Release the database connections of this process (the server is stopping)."""
        close_store(self.store.db.path)

    def _option(self, name: str) -> str:
        try:
            return str(self.configuration.get("storage", name) or "")
        except KeyError:
            return ""

    def discover(
        self,
        path: str,
        depth: str = "0",
        child_context_manager: Callable[[str, str | None], AbstractContextManager[None]] | None = None,
        user_groups: set[str] = set(),  # noqa: B006 - Radicale's signature, never mutated
    ) -> Iterator[types.CollectionOrItem]:
        context = child_context_manager or _no_child_context
        sane_path = pathutils.strip_path(path)
        record = self.store.get_collection(sane_path)
        if record is None:
            parent_path, _, href = sane_path.rpartition("/")
            parent = self.store.get_collection(parent_path) if href else None
            if parent is not None:
                stored = self.store.get_item(parent.id, href)
                if stored is not None:
                    yield Collection(self, parent)._item(stored)
            return
        collection = Collection(self, record)
        yield collection
        if depth == "0":
            return
        for item in collection.get_all():
            with context(sane_path, item.href):
                yield item
        for child in self.store.children(sane_path):
            with context(child.path, None):
                yield Collection(self, child)

    def create_collection(
        self,
        href: str,
        items: Iterable[radicale_item.Item] | None = None,
        props: Mapping[str, str] | None = None,
    ) -> tuple[Collection, dict[str, radicale_item.Item], list[str]]:
        sane_path = pathutils.strip_path(href)
        if not props:
            return Collection(self, self.store.ensure_collection(sane_path)), {}, []
        tag = props.get("tag", "")
        data = list(self._hrefs_for(items, tag)) if items is not None and tag in SUFFIXES else []
        try:
            record, replaced, new_hrefs = self.store.create_collection(sane_path, dict(props), data)
        except LookupError as exc:
            raise ValueError(f"Failed to create collection {href!r}: {exc}") from exc
        collection = Collection(self, record)
        return collection, {h: collection._item(old) for h, old in replaced.items()}, new_hrefs

    @staticmethod
    def _hrefs_for(items: Iterable[radicale_item.Item], tag: str) -> Iterator[ItemData]:
        """Name each item of a whole-collection upload like Radicale does: ``UID.ics``, else a random name."""
        suffix, taken = SUFFIXES[tag], set[str]()
        for item in items:
            uid = item.uid
            href = uid if uid.lower().endswith(suffix) else uid + suffix
            if not uid or not pathutils.is_safe_path_component(href) or href in taken:
                href = radicale_item.find_available_uid(taken.__contains__, suffix)
            taken.add(href)
            yield index_item(href, item, tag)

    def move(self, item: radicale_item.Item, to_collection: storage.BaseCollection, to_href: str) -> None:
        assert isinstance(item.collection, Collection) and isinstance(to_collection, Collection)
        assert item.href is not None
        if not pathutils.is_safe_path_component(to_href):
            raise pathutils.UnsafePathError(to_href)
        self.store.move_item(item.collection._record.id, item.href, to_collection._record.id, to_href)

    @types.contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any) -> Iterator[None]:
        """``"w"``: one write transaction for the request (committed before the answer); ``"r"``: nothing."""
        if mode == "w" and not self.store.db.in_transaction:
            with self.store.transaction():
                yield
        else:
            yield

    def verify(self) -> bool:
        problems = self.store.verify()
        for problem in problems:
            logger.error("Storage verification: %s", problem)
        return not problems
