# SPDX-License-Identifier: GPL-3.0-or-later
"""CardDAV addressbook-query filters (RFC 6352 §10.5) translated to SQL over the contact index.

:func:`parse_filters` reads the ``CR:filter`` elements of a REPORT. It returns ``(filters, exact)``:
``filters`` is what the index can test (``None`` when it cannot narrow the candidates at all) and ``exact``
says whether the index decides the whole filter, so that the caller need not re-check candidates. The
semantics follow the application's own matcher value by value (each element of a structured value is one
value; a prop-filter on a property the card lacks is false, even when negated), except for one deliberate
difference: the default collation ``i;unicode-casemap`` (RFC 4790 §9.3, RFC 5051) is answered
accent-insensitively (``helene`` finds ``Hélène``). ``i;octet``, ``i;ascii-casemap``, param-filters and fields
outside the index are left to the caller.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from groupware.store.schema import SEARCHED_FIELDS
from groupware.store.text import CONTACT_FIELDS, fold, like_pattern

__all__ = ["ContactFilter", "PropFilter", "TextMatch", "contact_sql", "parse_filters"]

CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
MATCH_TYPES = ("equals", "contains", "starts-with", "ends-with")
INDEXED_COLLATIONS = (None, "i;unicode-casemap")


@dataclass(frozen=True)
class TextMatch:
    """RFC 6352 §10.5.4: ``text`` is already folded."""

    text: str
    match_type: str = "contains"
    negate: bool = False


@dataclass(frozen=True)
class PropFilter:
    """RFC 6352 §10.5.1: ``kind`` is ``defined``, ``undefined`` or ``match`` (with ``matches``)."""

    field: str
    kind: str
    all_of: bool = False
    matches: tuple[TextMatch, ...] = ()


@dataclass(frozen=True)
class ContactFilter:
    """RFC 6352 §10.5: the prop-filters of one ``CR:filter`` with its ``test``."""

    all_of: bool
    props: tuple[PropFilter, ...]


def _text_match(element: ET.Element) -> TextMatch | None:
    if element.tag != CARDDAV + "text-match" or element.get("collation") not in INDEXED_COLLATIONS:
        return None
    match_type = element.get("match-type", "contains")
    if match_type not in MATCH_TYPES:
        return None
    return TextMatch(fold(next(element.itertext(), "")), match_type, element.get("negate-condition") == "yes")


def _prop_filter(element: ET.Element) -> PropFilter | None:
    field = element.get("name", "").upper()
    if element.tag != CARDDAV + "prop-filter" or field not in CONTACT_FIELDS:
        return None
    children = list(element)
    if not children:
        return PropFilter(field, "defined")
    if len(children) == 1 and children[0].tag == CARDDAV + "is-not-defined":
        return PropFilter(field, "undefined")
    matches = [_text_match(child) for child in children]
    if any(match is None for match in matches):
        return None
    return PropFilter(
        field, "match", element.get("test", "anyof") != "anyof", tuple(m for m in matches if m is not None)
    )


def _one_filter(element: ET.Element) -> tuple[ContactFilter | None, bool]:
    test = element.get("test", "anyof")
    if element.tag != CARDDAV + "filter" or test not in ("anyof", "allof"):
        return None, False
    if any(child.tag != CARDDAV + "prop-filter" for child in element):
        return None, False
    props = [_prop_filter(child) for child in element]
    known = tuple(prop for prop in props if prop is not None)
    if len(known) == len(props):
        return ContactFilter(test == "allof", known), True
    if test == "allof":  # the indexed prop-filters still narrow the candidates
        return ContactFilter(True, known), False
    return None, False


def parse_filters(elements: Iterable[ET.Element]) -> tuple[list[ContactFilter], bool]:
    """The indexable part of every filter (all must match) and whether it decides them exactly."""
    filters: list[ContactFilter] = []
    exact = True
    for element in elements:
        parsed, parsed_exact = _one_filter(element)
        exact = exact and parsed_exact
        if parsed is not None:
            filters.append(parsed)
    return filters, exact


def _prop_sql(prop: PropFilter, collection_id: int, params: list[object]) -> str:
    # Uncorrelated sub-selects: each runs once over the (collection, field, value) index.
    base = "SELECT f.href FROM contact_fields f WHERE f.collection_id = ? AND f.field = ?"
    if prop.kind in ("defined", "undefined"):
        params.extend((collection_id, prop.field))
        return f"i.href {'NOT ' if prop.kind == 'undefined' else ''}IN ({base})"
    tests: list[str] = []
    test_params: list[object] = []
    for match in prop.matches:
        test_params.extend((collection_id, prop.field))
        if match.match_type == "equals":
            test_params.append(match.text)
            condition = " AND f.value = ?"
        elif (
            prop.field in SEARCHED_FIELDS
            and len(match.text) >= 3
            and not any(char in match.text for char in "%_\\")
        ):
            # The trigram index answers a LIKE without ESCAPE on three characters or more.
            test_params.pop()
            test_params.pop()
            test_params.extend((like_pattern(match.text, match.match_type), collection_id, prop.field))
            # CROSS JOIN keeps the index as the outer loop (SQLite's planner would otherwise scan the fields).
            tests.append(
                f"i.href {'NOT ' if match.negate else ''}IN (SELECT f.href FROM contact_trigrams t "
                "CROSS JOIN contact_fields f WHERE t.value LIKE ? AND f.id = t.rowid "
                "AND f.collection_id = ? AND f.field = ?)"
            )
            continue
        else:
            test_params.append(like_pattern(match.text, match.match_type))
            condition = " AND f.value LIKE ? ESCAPE '\\'"
        tests.append(f"i.href {'NOT ' if match.negate else ''}IN ({base}{condition})")
    joined = (" AND " if prop.all_of else " OR ").join(tests)
    if not any(match.negate for match in prop.matches):
        # A value that matches proves the property present: no presence test, so the planner walks the few
        # matching hrefs instead of every href that has the property.
        params.extend(test_params)
        return f"({joined})"
    params.extend((collection_id, prop.field, *test_params))  # a negated match still needs the property
    return f"(i.href IN ({base}) AND ({joined}))"


def contact_sql(filters: Sequence[ContactFilter], collection_id: int, params: list[object]) -> str:
    """A SQL condition on ``items i`` for ``filters`` (appending its parameters to ``params``)."""
    clauses = []
    for contact_filter in filters:
        if not contact_filter.props:
            clauses.append("1 = 1" if contact_filter.all_of else "1 = 0")
            continue
        parts = [_prop_sql(prop, collection_id, params) for prop in contact_filter.props]
        clauses.append("(" + (" AND " if contact_filter.all_of else " OR ").join(parts) + ")")
    return " AND ".join(clauses) if clauses else "1 = 1"
