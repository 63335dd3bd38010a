# SPDX-License-Identifier: GPL-3.0-or-later
"""The trigram index behind contact text-match stays in step with the stored cards (RFC 6352 §10.5.4)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from groupware.dav import filters
from groupware.store import ItemData, Store
from groupware.store.text import fold

CR = "urn:ietf:params:xml:ns:carddav"


def _card(store: Store, collection_id: int, href: str, name: str, mail: str) -> None:
    text = f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{href}\r\nFN:{name}\r\nEMAIL:{mail}\r\nEND:VCARD\r\n"
    contact = (("FN", fold(name)), ("EMAIL", fold(mail)), ("ORG", "academie de montpellier"))
    store.put_item(
        collection_id, ItemData(href, text, f'"{href}-{name}"', href, "VCARD", "", contact=contact)
    )


def _found(store: Store, collection_id: int, field: str, text: str) -> set[str]:
    query = (
        f'<C:filter xmlns:C="{CR}"><C:prop-filter name="{field}"><C:text-match '
        f'match-type="contains">{text}</C:text-match></C:prop-filter></C:filter>'
    )
    contact_query = filters.contact_query([ET.fromstring(query)])
    assert contact_query.exact
    return {item.href for item in store.contact_query(collection_id, contact_query)}


def test_replaced_deleted_and_recreated_cards_are_found_as_they_are_now(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store.sqlite"))
    book = store.create_collection("u/book", {"tag": "VADDRESSBOOK"})[0].id
    _card(store, book, "a.vcf", "Hélène Lefèvre", "helene.lefevre@ac-montpellier.fr")
    _card(store, book, "b.vcf", "Marie Martin", "marie.martin@ac-montpellier.fr")
    assert _found(store, book, "FN", "helene") == {"a.vcf"}
    assert _found(store, book, "EMAIL", "martin@") == {"b.vcf"}
    assert _found(store, book, "ORG", "montpellier") == {
        "a.vcf",
        "b.vcf",
    }  # not indexed: scanned, same answer
    _card(store, book, "a.vcf", "Zoé Nguyen", "zoe.nguyen@ac-montpellier.fr")  # replaced under the same href
    assert _found(store, book, "FN", "helene") == set()
    assert _found(store, book, "FN", "nguyen") == {"a.vcf"}
    store.delete_item(book, "b.vcf")
    assert _found(store, book, "EMAIL", "martin") == set()
    store.delete_collection("u/book")
    book = store.create_collection("u/book", {"tag": "VADDRESSBOOK"})[0].id
    _card(store, book, "c.vcf", "Loïc Le Goff", "loic.le-goff@ac-montpellier.fr")
    assert _found(store, book, "FN", "nguyen") == set() and _found(store, book, "FN", "goff") == {"c.vcf"}
    other = store.create_collection("v/book", {"tag": "VADDRESSBOOK"})[0].id
    _card(store, other, "c.vcf", "Loïc Le Goff", "loic.le-goff@ac-montpellier.fr")
    store.delete_collection("v/book")
    assert _found(store, book, "FN", "goff") == {"c.vcf"}  # another book's deletion leaves this one alone
    with store.db.read() as conn:
        stale = conn.execute(
            "SELECT count(*) FROM contact_trigrams t WHERE t.rowid NOT IN (SELECT id FROM contact_fields)"
        ).fetchone()[0]
        # FTS5's integrity check raises sqlite3.DatabaseError when the index disagrees with its content.
        conn.execute("INSERT INTO contact_trigrams (contact_trigrams) VALUES ('integrity-check')")
    assert stale == 0
