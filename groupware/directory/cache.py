# SPDX-License-Identifier: GPL-3.0-or-later
"""A TTL cache around any :class:`groupware.directory.Directory`.

Person look-ups and the group list are kept for ``ttl`` seconds; passwords are never cached here (the accounts
layer keeps its own login cache, holding only keyed digests). While the directory is unreachable, entries past
their TTL are still served for up to ``stale_ttl`` seconds, so people already known keep working.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from groupware.directory import Directory, Group, Person, normalize_login
from groupware.errors import DirectoryUnavailable

__all__ = ["CachedDirectory", "TtlCache"]

_K = TypeVar("_K")
_V = TypeVar("_V")


class TtlCache(Generic[_K, _V]):
    """A thread-safe, size-bounded mapping whose entries expire ``ttl`` seconds after being stored."""

    def __init__(
        self, ttl: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._data: OrderedDict[_K, tuple[float, _V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _K, max_age: float | None = None) -> tuple[bool, _V | None]:
        """Return ``(found, value)``; an entry older than ``max_age`` (default: the TTL) is not found."""
        limit = self.ttl if max_age is None else max_age
        with self._lock:
            item = self._data.get(key)
            if item is None or self._clock() - item[0] > limit:
                return False, None
            return True, item[1]

    def put(self, key: _K, value: _V) -> None:
        """Store ``value``, evicting the oldest entries beyond the size bound."""
        if self.ttl <= 0:
            return
        with self._lock:
            self._data[key] = (self._clock(), value)
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)

    def pop(self, key: _K) -> None:
        """Forget ``key``."""
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()


class CachedDirectory:
    """Wraps a directory and remembers look-ups for ``ttl`` seconds."""

    def __init__(
        self,
        inner: Directory,
        ttl: float,
        stale_ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self._stale_ttl = max(stale_ttl, ttl)
        self._people: TtlCache[str, Person | None] = TtlCache(ttl, clock=clock)
        self._groups: TtlCache[str, tuple[Group, ...]] = TtlCache(ttl, clock=clock)

    def find_person(self, login: str) -> Person | None:
        """Cached :meth:`Directory.find_person`; stale entries answer while the directory is down."""
        key = normalize_login(login)
        found, person = self._people.get(key)
        if found:
            return person
        try:
            person = self.inner.find_person(login)
        except DirectoryUnavailable:
            found, person = self._people.get(key, self._stale_ttl)
            if found:
                return person
            raise
        self._people.put(key, person)
        return person

    def authenticate(self, login: str, password: str) -> Person:
        """Always asks the directory; remembers the person it returns."""
        person = self.inner.authenticate(login, password)
        self._people.put(normalize_login(login), person)
        return person

    def iter_people(self) -> Iterator[Person]:
        """Bulk reads go to the directory."""
        return self.inner.iter_people()

    def iter_groups(self) -> Iterator[Group]:
        """The group list, cached as a whole."""
        found, groups = self._groups.get("all")
        if not found or groups is None:
            groups = tuple(self.inner.iter_groups())
            self._groups.put("all", groups)
        return iter(groups)

    def invalidate(self, login: str | None = None) -> None:
        """Forget one login, or everything."""
        if login is None:
            self._people.clear()
            self._groups.clear()
        else:
            self._people.pop(normalize_login(login))

    def close(self) -> None:
        """Close the wrapped directory."""
        self.inner.close()
