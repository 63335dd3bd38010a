# SPDX-License-Identifier: GPL-3.0-or-later
"""What the engine stores and returns: collections, items, and the index data that comes with an item."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

__all__ = ["SYNC_PREFIX", "TIMESTAMP_MAX", "TIMESTAMP_MIN", "CollectionRecord", "ItemData", "StoredItem"]

#: The sync tokens' prefix (RFC 6578 §4: a token is a URI, opaque to clients).
SYNC_PREFIX = "http://groupware/ns/sync/"
# The bounds of an open-ended time span, as POSIX seconds (year 1 and year 9999, like Radicale's prefilters).
TIMESTAMP_MIN = -62135596800
TIMESTAMP_MAX = 253402300800


@dataclass(frozen=True)
class CollectionRecord:
    """One collection row, read in one indexed lookup.

    ``revision`` grows by one on every change of the collection (items or properties); with ``generation``
    (random, fixed when the collection is created) it makes the collection's etag/ctag and its sync token (RFC
    6578 §4).
    """

    id: int
    path: str
    tag: str
    props_json: str
    revision: int
    generation: str
    modified: int

    @property
    def props(self) -> dict[str, str]:
        """The collection's properties (RFC 4918 §15 dead properties and Radicale's ``tag``)."""
        value = json.loads(self.props_json)
        return value if isinstance(value, dict) else {}

    @property
    def etag(self) -> str:
        """Quoted entity tag (RFC 9110 §8.8.3) that changes with every change of the collection."""
        return f'"{self.generation}-{self.revision}"'

    @property
    def sync_token(self) -> str:
        """The current sync token (RFC 6578 §4): a URI naming this collection's generation and revision."""
        return f"{SYNC_PREFIX}{self.generation}-{self.revision}"


@dataclass(frozen=True)
class _Item:
    """What every item has: its name in the collection, text, entity tag, UID, object and component kind."""

    href: str
    text: str
    etag: str
    uid: str
    name: str
    component: str


@dataclass(frozen=True)
class ItemData(_Item):
    """An item to store, with its index data already extracted by the caller (the text is parsed once).

    ``span`` is the enclosing time range of a calendar object (first start, last end; ``TIMESTAMP_MAX`` when
    open-ended), used to prefilter calendar-query time-ranges (RFC 4791 §9.9). ``instances`` are the time
    ranges of every instance that starts before ``instances_until``: an overlap test against them decides a
    time-range exactly for any query that ends at or before ``instances_until``. ``contact`` holds the folded
    contact fields (see :func:`groupware.store.text.contact_values`).
    """

    span: tuple[int, int] = (TIMESTAMP_MIN, TIMESTAMP_MAX)
    instances: tuple[tuple[int, int], ...] = ()
    instances_until: int = TIMESTAMP_MIN
    contact: tuple[tuple[str, str | None], ...] = field(default=())


@dataclass(frozen=True)
class StoredItem(_Item):
    """An item as read back: everything a DAV response needs without parsing the text."""

    modified: int
    span: tuple[int, int]
