# SPDX-License-Identifier: GPL-3.0-or-later
"""Schema version 2: a database written with the version 1 fold has its contact values refolded on open."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from groupware.dav import filters
from groupware.store import ItemData, Store
from groupware.store.schema import SCHEMA_VERSION

CR = "urn:ietf:params:xml:ns:carddav"


def _version_1_database(path: Path, trigrams: bool) -> None:
    """A book written by version 1: ``Straße`` stored lower-cased (``straße``), with or without the trigram
    index (added during version 1)."""
    store = Store(str(path))
    book = store.create_collection("u/book", {"tag": "VADDRESSBOOK"})[0].id
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Anna Straße\r\nEND:VCARD\r\n"
    contact = (("FN", "anna straße"), ("ORG", "σισυφος"), ("EMAIL", "anna@example.fr"))
    store.put_item(book, ItemData("a.vcf", card, '"a"', "a", "VCARD", "", contact=contact))
    with store.db.write() as conn:
        conn.execute("UPDATE meta SET value = '1' WHERE name = 'schema_version'")
        if not trigrams:
            conn.execute("DROP TRIGGER contact_fields_unsearch")
            conn.execute("DROP TABLE contact_trigrams")
    store.close()


def _hrefs(store: Store, field: str, text: str) -> set[str]:
    element = ET.fromstring(
        f'<C:filter xmlns:C="{CR}"><C:prop-filter name="{field}"><C:text-match>{text}</C:text-match>'
        "</C:prop-filter></C:filter>"
    )
    book = store.collection("u/book").id
    return {item.href for item in store.contact_query(book, filters.contact_query([element]))}


@pytest.mark.parametrize("trigrams", [True, False])
def test_an_old_database_is_refolded_and_reindexed_on_open(tmp_path: Path, trigrams: bool) -> None:
    path = tmp_path / "groupware.sqlite"
    _version_1_database(path, trigrams)
    store = Store(str(path))
    with store.db.read() as conn:
        values = dict(conn.execute("SELECT field, value FROM contact_fields").fetchall())
        version = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[0]
        stale = conn.execute(
            "SELECT count(*) FROM contact_trigrams WHERE contact_trigrams MATCH '\"straße\"'"
        ).fetchone()[0]
        indexed = conn.execute(
            'SELECT count(*) FROM contact_trigrams WHERE contact_trigrams MATCH \'"strasse" OR "example"\''
        ).fetchone()[0]
    assert values == {"FN": "anna strasse", "ORG": "σισυφοσ", "EMAIL": "anna@example.fr"}
    assert version == str(SCHEMA_VERSION) == "2" and stale == 0 and indexed == 2  # FN and EMAIL
    assert _hrefs(store, "FN", "STRASSE") == {"a.vcf"}  # through the trigram index
    assert _hrefs(store, "FN", "Straße") == {"a.vcf"}
    assert _hrefs(store, "ORG", "ΣΊΣΥΦΟΣ") == {"a.vcf"}  # final sigma, scanned field
    assert store.verify() == []
    store.close()


def test_a_new_database_records_the_current_version_and_refolds_nothing(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "groupware.sqlite"))
    book = store.create_collection("u/book", {"tag": "VADDRESSBOOK"})[0].id
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:x\r\nEND:VCARD\r\n"
    store.put_item(book, ItemData("a.vcf", card, '"a"', "a", "VCARD", "", contact=(("FN", "straße"),)))
    store.close()
    store = Store(str(tmp_path / "groupware.sqlite"))  # already at version 2: values stay as written
    with store.db.read() as conn:
        assert conn.execute("SELECT value FROM contact_fields").fetchone()[0] == "straße"
    store.close()
