# SPDX-License-Identifier: GPL-3.0-or-later
"""vCard 3.0 cards as vCard 4.0 (RFC 6350 Appendix A) and the choice of version by ``Accept`` (RFC 6352
§5.1.1, RFC 9110 §12.5.1), without a server."""

from __future__ import annotations

import pytest
import vobject

from groupware.addressbooks import PRODID
from groupware.dav.rfc6350 import as_vcard4, fold, split_line
from groupware.dav.rfc6352 import prefers_vcard4

CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iOS 17.4//EN\r\nUID:4F2C-11\r\nFN:Zoé Nguyen\r\n"
    "N:Nguyen;Zoé;;;\r\nitem1.EMAIL;type=INTERNET;type=pref:zoe@example.org\r\nitem1.X-ABLabel:_$!<Other>!$_\r\n"
    'TEL;TYPE=CELL,VOICE:+33 6 12 34 56 78\r\nADR;TYPE=WORK,POSTAL;LABEL="1 rue^nMontpellier":;;1 rue;'
    "Montpellier;;34000;France\r\nPHOTO;ENCODING=b;TYPE=JPEG:QUJDRA==\r\nGEO:43.61;3.87\r\nCLASS:PUBLIC\r\n"
    "X-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:0001\r\nEND:VCARD\r\n"
)


def test_a_card_of_ios_becomes_vcard4_line_by_line() -> None:
    lines = as_vcard4(CARD).split("\r\n")
    assert lines[:3] == ["BEGIN:VCARD", "VERSION:4.0", "PRODID:-//Apple Inc.//iOS 17.4//EN"]
    assert "UID;VALUE=text:4F2C-11" in lines  # RFC 6350 §6.7.6: a UID that is not a URI is text
    assert "item1.EMAIL;PREF=1:zoe@example.org" in lines  # the group kept, INTERNET gone, PREF=1
    assert "item1.X-ABLABEL:_$!<Other>!$_" in lines  # names are case-insensitive (RFC 6350 §3.3)
    assert "TEL;TYPE=cell,voice:+33 6 12 34 56 78" in lines
    assert 'ADR;LABEL="1 rue^nMontpellier";TYPE=work:;;1 rue;Montpellier;;34000;France' in lines
    assert "PHOTO:data:image/jpeg;base64,QUJDRA==" in lines
    assert "GEO:geo:43.61,3.87" in lines and "KIND:group" in lines and "MEMBER:urn:uuid:0001" in lines
    assert not any(line.startswith("CLASS") for line in lines) and lines[-2:] == ["END:VCARD", ""]
    [parsed] = vobject.readComponents(as_vcard4(CARD))
    assert parsed.fn.value == "Zoé Nguyen"


def test_what_is_not_vcard3_stays_as_it_is_and_a_book_converts_card_by_card() -> None:
    four = CARD.replace("VERSION:3.0", "VERSION:4.0")
    assert as_vcard4(four) == four
    book = as_vcard4(CARD + CARD.replace("UID:4F2C-11", "UID:urn:uuid:2"))
    assert book.count("BEGIN:VCARD") == 2 and book.count("VERSION:4.0") == 2
    assert "\r\nUID:urn:uuid:2\r\n" in book  # already a URI


def test_the_academic_cards_convert_by_the_sync_s_rules() -> None:
    ours = f"BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:{PRODID}\r\nUID:abc\r\nFN:A\r\nN:A;;;;\r\nEND:VCARD\r\n"
    assert "\r\nUID:urn:uuid:abc\r\n" in as_vcard4(ours)


def test_lines_split_outside_quotes_and_fold_at_75_octets() -> None:
    assert split_line('g.ADR;LABEL="a:b;c";TYPE=work:;;x') == (
        "g",
        "ADR",
        ['LABEL="a:b;c"', "TYPE=work"],
        ";;x",
    )
    folded = fold("NOTE:" + "é" * 80)
    assert all(len(line.encode()) <= 75 for line in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == "NOTE:" + "é" * 80


@pytest.mark.parametrize(
    ("accept", "four"),
    [
        ("text/vcard;version=4.0, text/vcard;charset=utf-8;q=0.8", True),  # DAVx5
        ("text/vcard; version=4.0", True),
        ("text/vcard;version=4.0, text/vcard", True),
        ("text/vcard, text/vcard;version=4.0;q=0.5", False),
        ("text/vcard;version=3.0", False),
        ("text/vcard;version=4.0;q=0", False),
        ("*/*", False),
        ("", False),
    ],
)
def test_accept_chooses_the_version(accept: str, four: bool) -> None:
    assert prefers_vcard4(accept) is four
