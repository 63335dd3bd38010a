# SPDX-License-Identifier: GPL-3.0-or-later
"""The incremental sync planner: what to write so that a book holds exactly the desired cards.

A pure function of two sets: the cards the directory calls for and the book's current items (href → entity
tag). A card whose entity tag — the SHA-256 of its text — is already stored is left alone, so an unchanged
person is not rewritten and does not appear in anyone's sync-collection (RFC 6578 §3.2); a new or changed card
is written; an item the directory no longer calls for (a person who left, or whose account was disabled) is
deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from groupware.addressbooks.vcard import Card

__all__ = ["BookPlan", "plan"]


@dataclass(frozen=True)
class BookPlan:
    """Cards to add and to replace, hrefs to delete, and how many items stay as they are."""

    added: list[Card] = field(default_factory=list)
    changed: list[Card] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changes(self) -> int:
        """Items that will be written or deleted (each one entry of the book's change log)."""
        return len(self.added) + len(self.changed) + len(self.removed)


def plan(desired: Iterable[Card], current: Mapping[str, str]) -> BookPlan:
    """Compare ``desired`` cards with ``current`` items (href → entity tag).

    Raises:
        ValueError: two desired cards share an href (the same UID twice).
    """
    result = BookPlan()
    seen: set[str] = set()
    unchanged = 0
    for card in desired:
        href = card.href
        if href in seen:
            raise ValueError(f"two cards with the UID {card.uid!r}")
        seen.add(href)
        etag = current.get(href)
        if etag is None:
            result.added.append(card)
        elif etag != card.etag:
            result.changed.append(card)
        else:
            unchanged += 1
    result.removed.extend(sorted(href for href in current if href not in seen))
    return BookPlan(result.added, result.changed, result.removed, unchanged)
