# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed store queries (RFC 6352 §10.5, RFC 4791 §9.9) and their translation from the REPORT's XML at the DAV
edge (groupware.dav.filters), malformed filters included."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from groupware.dav.filters import FilterError, contact_filter, contact_query, time_range
from groupware.store import TIMESTAMP_MAX, TIMESTAMP_MIN
from groupware.store.query import ContactFilter, ContactQuery, PropFilter, TextMatch, TimeRange

CR = "urn:ietf:params:xml:ns:carddav"
C = "urn:ietf:params:xml:ns:caldav"


def test_dataclasses_refuse_what_rfc_6352_does_not_allow() -> None:
    with pytest.raises(ValueError, match="match-type"):
        TextMatch("x", "fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an indexed contact property"):
        PropFilter("ADR")
    with pytest.raises(ValueError, match="text-matches"):
        PropFilter("FN", "match")
    with pytest.raises(ValueError, match="text-matches"):
        PropFilter("FN", "defined", matches=(TextMatch("x"),))
    assert TimeRange() == TimeRange(TIMESTAMP_MIN, TIMESTAMP_MAX, None)


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (
            '<C:filter test="allof"><C:prop-filter name="fn"><C:text-match match-type="starts-with" '
            'negate-condition="yes">Hé</C:text-match></C:prop-filter><C:prop-filter name="EMAIL"/>'
            "</C:filter>",
            (
                ContactFilter(
                    True,
                    (
                        PropFilter("FN", "match", False, (TextMatch("Hé", "starts-with", True),)),
                        PropFilter("EMAIL"),
                    ),
                ),
                True,
            ),
        ),
        (
            '<C:filter><C:prop-filter name="TEL"><C:is-not-defined/></C:prop-filter></C:filter>',
            (ContactFilter(False, (PropFilter("TEL", "undefined"),)), True),
        ),
        (  # i;octet is not the index's collation: an allof filter still narrows by the others
            '<C:filter test="allof"><C:prop-filter name="FN"><C:text-match collation="i;octet">x'
            '</C:text-match></C:prop-filter><C:prop-filter name="ORG"/></C:filter>',
            (ContactFilter(True, (PropFilter("ORG"),)), False),
        ),
        (  # ... an anyof filter cannot
            '<C:filter><C:prop-filter name="ADR"/><C:prop-filter name="ORG"/></C:filter>',
            (None, False),
        ),
    ],
)
def test_filters_become_typed_queries(xml: str, expected: tuple[ContactFilter | None, bool]) -> None:
    assert contact_filter(ET.fromstring(xml.replace("<C:filter", f'<C:filter xmlns:C="{CR}"', 1))) == expected


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ('<D:prop xmlns:D="DAV:"/>', "expected CR:filter"),
        (f'<C:filter xmlns:C="{CR}" test="oneof"/>', "test must be anyof or allof"),
        (f'<C:filter xmlns:C="{CR}"><C:prop-filter/></C:filter>', "name attribute is required"),
        (f'<C:filter xmlns:C="{CR}"><C:text-match>x</C:text-match></C:filter>', "unexpected"),
        (
            f'<C:filter xmlns:C="{CR}"><C:prop-filter name="FN" test="all"/></C:filter>',
            "test must be anyof or allof",
        ),
        (
            f'<C:filter xmlns:C="{CR}"><C:prop-filter name="FN"><C:is-not-defined/>'
            "<C:text-match>x</C:text-match></C:prop-filter></C:filter>",
            "is-not-defined stands alone",
        ),
        (
            f'<C:filter xmlns:C="{CR}" xmlns:X="{C}"><C:prop-filter name="FN"><X:time-range/></C:prop-filter>'
            "</C:filter>",
            "unexpected child",
        ),
        (
            f'<C:filter xmlns:C="{CR}"><C:prop-filter name="FN"><C:text-match match-type="like">x'
            "</C:text-match></C:prop-filter></C:filter>",
            "match-type",
        ),
        (
            f'<C:filter xmlns:C="{CR}"><C:prop-filter name="FN"><C:text-match negate-condition="true">x'
            "</C:text-match></C:prop-filter></C:filter>",
            "negate-condition",
        ),
    ],
)
def test_malformed_filters_raise_and_are_left_to_radicale(xml: str, message: str) -> None:
    element = ET.fromstring(xml)
    with pytest.raises(FilterError, match=message):
        contact_filter(element)
    assert contact_query([element]) == ContactQuery((), exact=False)


def test_a_query_keeps_every_filter_and_is_exact_only_if_all_are() -> None:
    good = ET.fromstring(f'<C:filter xmlns:C="{CR}"><C:prop-filter name="FN"/></C:filter>')
    bad = ET.fromstring(f'<C:filter xmlns:C="{CR}" test="x"/>')
    assert contact_query([good]) == ContactQuery((ContactFilter(False, (PropFilter("FN"),)),), True)
    assert contact_query([good, bad]) == ContactQuery((ContactFilter(False, (PropFilter("FN"),)),), False)
    assert contact_query([]) == ContactQuery((), True)


def test_calendar_filters_become_a_time_range() -> None:
    xml = (
        f'<C:filter xmlns:C="{C}"><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        '<C:time-range start="20260105T000000Z" end="20260112T000000Z"/></C:comp-filter></C:comp-filter>'
        "</C:filter>"
    )
    query, simple = time_range([ET.fromstring(xml)], "VCALENDAR")
    assert query == TimeRange(1767571200, 1768176000, "VEVENT") and simple
    assert time_range([], "VCALENDAR") == (TimeRange(), True)
