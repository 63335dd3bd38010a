# SPDX-License-Identifier: GPL-3.0-or-later
"""Academic address books: the directory's people and groups as read-only CardDAV books (RFC 6352).

:mod:`.mapping` (person fields → vCard properties), :mod:`.vcard` (RFC 2426 cards, RFC 6350 conversion),
:mod:`.books` (which books, what they hold, who reads them), :mod:`.planner` (incremental diff by entity tag),
:mod:`.sync` (writes through the storage engine and registers the books with the sharing layer). No Radicale
here.
"""

from __future__ import annotations

from groupware.addressbooks.books import Book, BookSettings, build_books, card_uid, group_uid
from groupware.addressbooks.mapping import DEFAULT_MAPPING, parse_mapping
from groupware.addressbooks.planner import BookPlan, plan
from groupware.addressbooks.sync import BookReport, SyncReport, sync_books
from groupware.addressbooks.vcard import PRODID, Card, group_card, is_ours, person_card, to_vcard4

__all__ = [
    "DEFAULT_MAPPING",
    "PRODID",
    "Book",
    "BookPlan",
    "BookReport",
    "BookSettings",
    "Card",
    "SyncReport",
    "build_books",
    "card_uid",
    "group_card",
    "group_uid",
    "is_ours",
    "parse_mapping",
    "person_card",
    "plan",
    "sync_books",
    "to_vcard4",
]
