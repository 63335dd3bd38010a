# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed queries of the storage engine: what a REPORT asks, without its XML.

* :class:`ContactQuery` mirrors a CardDAV ``CR:filter`` (RFC 6352 §10.5): :class:`ContactFilter` (§10.5, its
  ``test``), :class:`PropFilter` (§10.5.1, with ``CR:is-not-defined``, §10.5.3) and :class:`TextMatch`
  (§10.5.4) over the indexed vCard properties, plus whether the index decides the whole filter;
* :class:`TimeRange` mirrors the CalDAV prefilter of a ``C:calendar-query`` (RFC 4791 §9.7.1 comp-filter,
  §9.9 time-range).

The DAV edge builds them from the request (:mod:`groupware.dav.filters`); the store turns them into SQL
(:mod:`groupware.store.carddav`). Text is kept as the client sent it: the store folds it
(:func:`groupware.store.text.fold`). Invalid values raise :class:`ValueError` when a query is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from groupware.store.records import TIMESTAMP_MAX, TIMESTAMP_MIN
from groupware.store.text import CONTACT_FIELDS

__all__ = [
    "MATCH_TYPES",
    "ContactFilter",
    "ContactQuery",
    "MatchType",
    "PropFilter",
    "PropTest",
    "TextMatch",
    "TimeRange",
]

#: RFC 6352 §10.5.4 ``match-type`` values.
MatchType = Literal["equals", "contains", "starts-with", "ends-with"]
MATCH_TYPES: tuple[str, ...] = get_args(MatchType)
#: What a prop-filter tests (RFC 6352 §10.5.1): presence, absence (``CR:is-not-defined``) or text-matches.
PropTest = Literal["defined", "undefined", "match"]


@dataclass(frozen=True)
class TextMatch:
    """RFC 6352 §10.5.4 ``CR:text-match`` in the ``i;unicode-casemap`` collation (the index's fold)."""

    text: str
    match_type: MatchType = "contains"
    negate: bool = False

    def __post_init__(self) -> None:
        if self.match_type not in MATCH_TYPES:
            raise ValueError(f"unexpected text-match match-type: {self.match_type!r}")


@dataclass(frozen=True)
class PropFilter:
    """RFC 6352 §10.5.1 ``CR:prop-filter`` on an indexed property (:data:`~groupware.store.CONTACT_FIELDS`).

    ``test`` is ``defined`` (no child), ``undefined`` (``CR:is-not-defined``) or ``match`` (``matches``,
    combined with ``all_of`` for ``test="allof"``).
    """

    field: str
    test: PropTest = "defined"
    all_of: bool = False
    matches: tuple[TextMatch, ...] = ()

    def __post_init__(self) -> None:
        if self.field not in CONTACT_FIELDS:
            raise ValueError(
                f"{self.field!r} is not an indexed contact property ({', '.join(CONTACT_FIELDS)})"
            )
        if self.test not in get_args(PropTest):
            raise ValueError(f"unexpected prop-filter test: {self.test!r}")
        if (self.test == "match") != bool(self.matches):
            raise ValueError("text-matches go with a prop-filter of test 'match', and only there")


@dataclass(frozen=True)
class ContactFilter:
    """RFC 6352 §10.5 ``CR:filter``: prop-filters, all of which (``all_of``) or any of which must match."""

    all_of: bool
    props: tuple[PropFilter, ...] = ()


@dataclass(frozen=True)
class ContactQuery:
    """The indexable part of an ``addressbook-query`` (RFC 6352 §8.6): every filter must match.

    ``exact`` says whether these filters are the whole of the request's filters, so that the candidates need
    no second check; when it is false, the caller checks each candidate against the full filter.
    """

    filters: tuple[ContactFilter, ...] = ()
    exact: bool = True


@dataclass(frozen=True)
class TimeRange:
    """RFC 4791 §9.9 ``C:time-range`` prefilter, in POSIX seconds ``[start, end)``, on the calendar objects
    whose main component is ``component`` (RFC 4791 §9.7.1 comp-filter; ``None``: any). An empty or
    inverted range matches nothing."""

    start: int = TIMESTAMP_MIN
    end: int = TIMESTAMP_MAX
    component: str | None = None
