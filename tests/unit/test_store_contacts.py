# SPDX-License-Identifier: GPL-3.0-or-later
"""The contact index: folding (case and accents) and RFC 6352 §10.5 filters answered in SQL."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import vobject

from groupware.dav import filters
from groupware.store import ItemData, Store, contact_values, fold

CR = "urn:ietf:params:xml:ns:carddav"


def vcard(uid: str, *lines: str) -> str:
    return "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", *lines, "END:VCARD"]) + "\r\n"


CARDS = {
    "helene": vcard(
        "helene",
        "FN:Hélène Lefèvre",
        "N:Lefèvre;Hélène;;;",
        "EMAIL:helene.lefevre@ac-montpellier.fr",
        "ORG:Rectorat;DSI",
        "TEL:04 67 91 00 00",
    ),
    "marc": vcard(
        "marc", "FN:Marc Durand", "N:Durand;Marc;;;", "EMAIL:marc.durand@ac-montpellier.fr", "NICKNAME:Marco"
    ),
    "noemail": vcard("noemail", "FN:Zoé Martin", "N:Martin;Zoé;;;"),
}


@pytest.fixture
def book(tmp_path: Path) -> Iterator[tuple[Store, int]]:
    store = Store(str(tmp_path / "groupware.sqlite"))
    cid = store.ensure_collection("u/book").id
    for uid, text in CARDS.items():
        fields = tuple(contact_values(vobject.readOne(text)))
        store.put_item(cid, ItemData(f"{uid}.vcf", text, f'"{uid}"', uid, "VCARD", "", contact=fields))
    yield store, cid
    store.close()


def query(store: Store, cid: int, xml: str) -> tuple[list[str], bool]:
    element = ET.fromstring(f'<C:filter xmlns:C="{CR}" {xml}</C:filter>')
    contact_query = filters.contact_query([element])
    return [item.uid for item in store.contact_query(cid, contact_query)], contact_query.exact


def test_fold_ignores_case_and_accents() -> None:
    assert fold("Hélène LEFÈVRE") == "helene lefevre" and fold("Zoé") == "zoe" and fold("ﬁ") == "fi"


def test_contact_values_follow_the_structured_values() -> None:
    values = contact_values(vobject.readOne(CARDS["helene"]))
    assert ("ORG", "rectorat") in values and ("ORG", "dsi") in values and ("FN", "helene lefevre") in values
    assert not any(field == "NICKNAME" for field, _ in values)


@pytest.mark.parametrize(
    ("xml", "uids"),
    [
        ('><C:prop-filter name="FN"><C:text-match>helene</C:text-match></C:prop-filter>', ["helene"]),
        ('><C:prop-filter name="FN"><C:text-match>HÉLÈNE</C:text-match></C:prop-filter>', ["helene"]),
        ('><C:prop-filter name="N"><C:text-match>lefevre</C:text-match></C:prop-filter>', ["helene"]),
        (
            '><C:prop-filter name="EMAIL"><C:text-match match-type="starts-with">marc.</C:text-match>'
            "</C:prop-filter>",
            ["marc"],
        ),
        (
            '><C:prop-filter name="EMAIL"><C:text-match match-type="ends-with">.fr</C:text-match>'
            "</C:prop-filter>",
            ["helene", "marc"],
        ),
        (
            '><C:prop-filter name="ORG"><C:text-match match-type="equals">dsi</C:text-match></C:prop-filter>',
            ["helene"],
        ),
        ('><C:prop-filter name="EMAIL"><C:is-not-defined/></C:prop-filter>', ["noemail"]),
        ('><C:prop-filter name="NICKNAME"/>', ["marc"]),
        (
            '><C:prop-filter name="EMAIL"><C:text-match negate-condition="yes">marc</C:text-match>'
            "</C:prop-filter>",
            ["helene"],
        ),
        (
            (
                'test="anyof"><C:prop-filter name="FN"><C:text-match>zoe</C:text-match></C:prop-filter>'
                '<C:prop-filter name="NICKNAME"><C:text-match>marco</C:text-match></C:prop-filter>'
            ),
            ["marc", "noemail"],
        ),
        (
            (
                'test="allof"><C:prop-filter name="FN"><C:text-match>a</C:text-match></C:prop-filter>'
                '<C:prop-filter name="EMAIL"><C:text-match>durand</C:text-match></C:prop-filter>'
            ),
            ["marc"],
        ),
        (
            (
                '><C:prop-filter name="FN" test="allof"><C:text-match>marc</C:text-match>'
                "<C:text-match>dur</C:text-match></C:prop-filter>"
            ),
            ["marc"],
        ),
        ('><C:prop-filter name="FN"><C:text-match>100%_</C:text-match></C:prop-filter>', []),
        ('test="allof">', ["helene", "marc", "noemail"]),
        (">", []),
    ],
)
def test_indexed_filters_are_exact(book: tuple[Store, int], xml: str, uids: list[str]) -> None:
    assert query(*book, xml) == (uids, True)


@pytest.mark.parametrize(
    "xml",
    [
        '><C:prop-filter name="FN"><C:text-match collation="i;octet">Marc</C:text-match></C:prop-filter>',
        '><C:prop-filter name="ADR"><C:text-match>x</C:text-match></C:prop-filter>',
        '><C:prop-filter name="EMAIL"><C:param-filter name="TYPE"/></C:prop-filter>',
    ],
)
def test_filters_outside_the_index_return_every_candidate_unchecked(
    book: tuple[Store, int], xml: str
) -> None:
    assert query(*book, xml) == (["helene", "marc", "noemail"], False)


def test_allof_keeps_narrowing_with_the_indexed_part(book: tuple[Store, int]) -> None:
    xml = (
        'test="allof"><C:prop-filter name="FN"><C:text-match>marc</C:text-match></C:prop-filter>'
        '<C:prop-filter name="ADR"><C:text-match>x</C:text-match></C:prop-filter>'
    )
    assert query(*book, xml) == (["marc"], False)
