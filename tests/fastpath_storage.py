# SPDX-License-Identifier: GPL-3.0-or-later
"""Radicale's own ``multifilesystem`` storage, plus the item facts the whole-collection fast path reads.

It lets the fast path be compared with Radicale's answers on any store, independently of groupware's engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from radicale.storage import multifilesystem

from groupware.dav.fastpath import ItemSummary


class Collection(multifilesystem.Collection):
    """A multifilesystem collection that can summarize its items."""

    def fast_summaries(self) -> Iterator[ItemSummary]:
        for item in self.get_all():
            assert item.href is not None and item.last_modified is not None
            yield ItemSummary(
                item.href,
                item.etag,
                item.last_modified,
                item.name,
                item.component_name,
                len(item.serialize().encode("utf-8")),
            )


class Storage(multifilesystem.Storage):
    """``[storage] type = fastpath_storage``."""

    _collection_class: ClassVar[type[multifilesystem.Collection]] = Collection
