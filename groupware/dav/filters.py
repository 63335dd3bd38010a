# SPDX-License-Identifier: GPL-3.0-or-later
"""REPORT filters translated into the storage engine's typed queries (:mod:`groupware.store.query`).

* CardDAV ``addressbook-query`` (RFC 6352 §8.6): each ``CR:filter`` (§10.5) becomes a
  :class:`~groupware.store.query.ContactFilter`; :func:`contact_filter` checks the grammar and raises
  :class:`FilterError` on a malformed element, :func:`contact_query` (what the storage plugin calls) keeps
  what the index can answer and says whether that is the whole filter. Malformed filters are left to
  Radicale's own matcher, which answers them as it always did.
* CalDAV ``calendar-query`` (RFC 4791 §7.8): :func:`time_range` reduces the filters to one component and
  ``C:time-range`` (§9.9), by Radicale's own prefilter rule, so that the index answers what Radicale would.

What the index does not answer, without being malformed: collations other than ``i;unicode-casemap`` (RFC
4790 §9.3; ``i;octet``, ``i;ascii-casemap``), ``CR:param-filter`` (§10.5.2) and properties outside
:data:`~groupware.store.CONTACT_FIELDS`. In an ``allof`` filter the other prop-filters still narrow the
candidates; in an ``anyof`` one they cannot.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import cast

from radicale.item import filter as radicale_filter

from groupware.store.query import (
    MATCH_TYPES,
    ContactFilter,
    ContactQuery,
    MatchType,
    PropFilter,
    TextMatch,
    TimeRange,
)
from groupware.store.text import CONTACT_FIELDS

__all__ = ["FilterError", "contact_filter", "contact_query", "time_range"]

CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
INDEXED_COLLATIONS = (None, "i;unicode-casemap")
_TESTS = ("anyof", "allof")


class FilterError(ValueError):
    """A ``CR:filter`` outside the grammar of RFC 6352 §10.5 (the message names the element)."""


def _test(element: ET.Element) -> bool:
    """Whether ``test`` is ``allof`` (RFC 6352 §10.5, §10.5.1: ``anyof`` by default)."""
    test = element.get("test", "anyof")
    if test not in _TESTS:
        raise FilterError(f"{element.tag}: test must be anyof or allof, not {test!r}")
    return test == "allof"


def _text_match(element: ET.Element) -> TextMatch | None:
    """RFC 6352 §10.5.4; ``None`` when the collation is not the index's."""
    match_type = element.get("match-type", "contains")
    if match_type not in MATCH_TYPES:
        raise FilterError(f"text-match: unexpected match-type {match_type!r}")
    negate = element.get("negate-condition", "no")
    if negate not in ("yes", "no"):
        raise FilterError(f"text-match: negate-condition must be yes or no, not {negate!r}")
    if element.get("collation") not in INDEXED_COLLATIONS:
        return None
    return TextMatch(next(element.itertext(), ""), cast(MatchType, match_type), negate == "yes")


def _prop_filter(element: ET.Element) -> PropFilter | None:
    """RFC 6352 §10.5.1; ``None`` when the index cannot answer it (see the module's docstring)."""
    if element.tag != CARDDAV + "prop-filter":
        raise FilterError(f"CR:filter: unexpected {element.tag}")
    name, all_of = element.get("name", ""), _test(element)
    if not name:
        raise FilterError("prop-filter: the name attribute is required")
    children = list(element)
    tags = [child.tag for child in children]
    if CARDDAV + "is-not-defined" in tags and len(children) > 1:
        raise FilterError(f"prop-filter {name}: is-not-defined stands alone")
    if any(
        tag not in (CARDDAV + "text-match", CARDDAV + "param-filter", CARDDAV + "is-not-defined")
        for tag in tags
    ):
        raise FilterError(f"prop-filter {name}: unexpected child in {tags}")
    matches = [_text_match(child) if child.tag == CARDDAV + "text-match" else None for child in children]
    field = name.upper()
    if field not in CONTACT_FIELDS:
        return None
    if not children:
        return PropFilter(field, "defined")
    if tags == [CARDDAV + "is-not-defined"]:
        return PropFilter(field, "undefined")
    if any(match is None for match in matches):
        return None
    return PropFilter(field, "match", all_of, tuple(match for match in matches if match is not None))


def contact_filter(element: ET.Element) -> tuple[ContactFilter | None, bool]:
    """One ``CR:filter`` (RFC 6352 §10.5): the part the contact index answers (``None``: no part narrows the
    candidates) and whether that part is the whole filter.

    Raises:
        FilterError: the element is not a ``CR:filter`` or breaks its grammar (a ``test`` other than
            ``anyof``/``allof``, a prop-filter without a name or with unexpected children, an unknown
            ``match-type`` or ``negate-condition``).
    """
    if element.tag != CARDDAV + "filter":
        raise FilterError(f"expected CR:filter, not {element.tag}")
    all_of = _test(element)
    props = [_prop_filter(child) for child in element]
    known = tuple(prop for prop in props if prop is not None)
    if len(known) == len(props):
        return ContactFilter(all_of, known), True
    if all_of:  # the indexed prop-filters still narrow the candidates
        return ContactFilter(True, known), False
    return None, False


def contact_query(elements: Iterable[ET.Element]) -> ContactQuery:
    """The contact-index query of a REPORT's ``CR:filter`` elements (all must match): what the index answers,
    and whether it answers all of it. A malformed filter narrows nothing and is left to Radicale's matcher."""
    filters: list[ContactFilter] = []
    exact = True
    for element in elements:
        try:
            parsed, parsed_exact = contact_filter(element)
        except FilterError:
            parsed, parsed_exact = None, False
        exact = exact and parsed_exact
        if parsed is not None:
            filters.append(parsed)
    return ContactQuery(tuple(filters), exact)


def time_range(filters: Iterable[ET.Element], collection_tag: str) -> tuple[TimeRange, bool]:
    """RFC 4791 §9.9: the component and time range that every item matching ``filters`` overlaps, and whether
    they are the whole filter (Radicale's ``simplify_prefilters``, whose rule the instance index mirrors)."""
    component, start, end, simple = radicale_filter.simplify_prefilters(filters, collection_tag)
    return TimeRange(start, end, component), simple
