# SPDX-License-Identifier: GPL-3.0-or-later
"""CardDAV addressbook-query filters (RFC 6352 §10.5) translated to SQL over the contact index.

:func:`contact_sql` takes the typed filters of a :class:`~groupware.store.query.ContactQuery` (built from the
request's XML at the DAV edge, :mod:`groupware.dav.filters`). The semantics follow the application's own
matcher value by value (each element of a structured value is one value; a prop-filter on a property the card
lacks is false, even when negated), except for one deliberate difference: the default collation
``i;unicode-casemap`` (RFC 4790 §9.3, RFC 5051) is answered accent-insensitively (``helene`` finds
``Hélène``), through :func:`groupware.store.text.fold` on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence

from groupware.store.query import ContactFilter, PropFilter
from groupware.store.schema import SEARCHED_FIELDS
from groupware.store.text import fold, like_pattern

__all__ = ["contact_sql"]


def _prop_sql(prop: PropFilter, collection_id: int, params: list[object]) -> str:
    # Uncorrelated sub-selects: each runs once over the (collection, field, value) index.
    base = "SELECT f.href FROM contact_fields f WHERE f.collection_id = ? AND f.field = ?"
    if prop.test in ("defined", "undefined"):
        params.extend((collection_id, prop.field))
        return f"i.href {'NOT ' if prop.test == 'undefined' else ''}IN ({base})"
    tests: list[str] = []
    test_params: list[object] = []
    for match in prop.matches:
        text = fold(match.text)
        test_params.extend((collection_id, prop.field))
        if match.match_type == "equals":
            test_params.append(text)
            condition = " AND f.value = ?"
        elif prop.field in SEARCHED_FIELDS and len(text) >= 3 and not any(char in text for char in "%_\\"):
            # The trigram index answers a LIKE without ESCAPE on three characters or more.
            test_params.pop()
            test_params.pop()
            test_params.extend((like_pattern(text, match.match_type), collection_id, prop.field))
            # CROSS JOIN keeps the index as the outer loop (SQLite's planner would otherwise scan the fields).
            tests.append(
                f"i.href {'NOT ' if match.negate else ''}IN (SELECT f.href FROM contact_trigrams t "
                "CROSS JOIN contact_fields f WHERE t.value LIKE ? AND f.id = t.rowid "
                "AND f.collection_id = ? AND f.field = ?)"
            )
            continue
        else:
            test_params.append(like_pattern(text, match.match_type))
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
