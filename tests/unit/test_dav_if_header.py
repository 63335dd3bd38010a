# SPDX-License-Identifier: GPL-3.0-or-later
"""The grammar and the evaluation of the WebDAV ``If`` header (RFC 4918 §10.4)."""

from __future__ import annotations

import pytest

from groupware.dav.rfc4918_if import Condition, if_header_holds, parse_if_header

TAGS = {None: '"current"', "http://h/other.ics": '"theirs"'}


def test_lists_conditions_and_resource_tags() -> None:
    assert parse_if_header('(<urn:uuid:1> ["a"]) (Not <DAV:no-lock>)') == [
        (None, [Condition(False, None, "urn:uuid:1"), Condition(False, '"a"', None)]),
        (None, [Condition(True, None, "DAV:no-lock")]),
    ]
    assert parse_if_header('<http://h/x> (["b"]) <http://h/y> (not ["c"])') == [
        ("http://h/x", [Condition(False, '"b"', None)]),
        ("http://h/y", [Condition(True, '"c"', None)]),
    ]


@pytest.mark.parametrize(
    ("header", "holds"),
    [
        ('(["current"])', True),
        ('(["old"])', False),
        ('(["old"]) (["current"])', True),
        ('(<urn:uuid:lock> ["current"])', False),
        ('(Not <urn:uuid:lock> ["current"])', True),
        ('<http://h/other.ics> (["theirs"])', True),
        ('<http://h/other.ics> (["current"])', False),
        ('<http://h/missing.ics> (Not ["x"])', True),
    ],
)
def test_evaluation(header: str, holds: bool) -> None:
    assert if_header_holds(header, TAGS.get) is holds


@pytest.mark.parametrize("header", ["", "()", '["a"]', '(["a"]', "(Not)", "(<a> junk)", "<http://h/x>"])
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(ValueError):
        parse_if_header(header)
