# SPDX-License-Identifier: GPL-3.0-or-later
"""Normalized text for the contact index (RFC 6352 §10.5.4 text-match, §8.3 ``i;unicode-casemap``).

:func:`fold` is the one text fold of groupware: the contact index, CardDAV text-match and the principal search
(RFC 3744 §9.4) all compare folded text. The same fold is applied to the indexed values and to the searched
text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["CONTACT_FIELDS", "contact_values", "fold", "like_pattern"]

# The vCard properties kept in the contact index (RFC 6350 §6.2.1, §6.2.2, §6.2.3, §6.4.1, §6.4.2, §6.6.4).
CONTACT_FIELDS: tuple[str, ...] = ("FN", "N", "NICKNAME", "EMAIL", "TEL", "ORG")


def fold(text: str) -> str:
    """The case- and accent-insensitive form of ``text``: RFC 4790 §9.3 ``i;unicode-casemap`` as used for
    contact search.

    The rule: compatibility decomposition (Unicode NFKD), combining marks dropped, then full Unicode case
    folding (``str.casefold``). So ``Hélène`` and ``HELENE`` fold to ``helene``, ``ﬁ`` to ``fi`` and
    ``Straße`` to ``strasse``. RFC 5051 (the collation's definition) title-cases and keeps the accents;
    dropping them is our deliberate accent-insensitive reading, the one address-book users expect. The fold
    is idempotent (``fold(fold(x)) == fold(x)``), so folding an already folded value changes nothing.
    """
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _values(children: Iterable[Any]) -> Iterator[str]:
    for child in children:
        value = child.value
        if type(value) is list:
            yield from (str(element) for element in value)
        else:
            yield str(value)


def contact_values(vcard: Any) -> list[tuple[str, str | None]]:
    """``(field, folded value)`` rows of a parsed vCard for the indexed fields.

    Every value Radicale's own text-match looks at (each element of a structured value, else the value's text)
    gives one row; a property present without any value gives one row with ``None`` so that prop-filters
    testing only presence are answered from the index too.
    """
    rows: list[tuple[str, str | None]] = []
    contents = getattr(vcard, "contents", {})
    for field in CONTACT_FIELDS:
        children = contents.get(field.lower())
        if not children:
            continue
        values = [fold(value) for value in _values(children)]
        rows.extend((field, value) for value in values)
        if not values:
            rows.append((field, None))
    return rows


def like_pattern(text: str, match_type: str) -> str:
    """A ``LIKE … ESCAPE '\\'`` pattern for an RFC 6352 §10.5.4 match-type on folded ``text``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if match_type == "equals":
        return escaped
    if match_type == "starts-with":
        return escaped + "%"
    if match_type == "ends-with":
        return "%" + escaped
    if match_type == "contains":
        return "%" + escaped + "%"
    raise ValueError(f"unexpected text-match match-type: {match_type!r}")
