# SPDX-License-Identifier: GPL-3.0-or-later
"""Which directory field fills which vCard property (RFC 6350 §6; RFC 2426 §3 for vCard 3).

The mapping speaks of the fields of :class:`groupware.directory.Person`, never of LDAP attributes: the
directory layer alone knows those (``mail`` → ``emails``, ``telephoneNumber``/``mobile`` → ``phones``,
``title`` → ``title``, ``o`` → ``organizations``…). The ``[addressbooks] mapping`` option overrides the
defaults property by property::

    mapping = TITLE = -, NICKNAME = uid, TEL = phones

``-`` (or nothing) leaves a property out. ``N`` takes two fields, family name then given name (RFC 6350
§6.2.2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields

from groupware.config import split_mapping
from groupware.directory import Person

__all__ = ["DEFAULT_MAPPING", "PROPERTIES", "VCardMapping", "mapping_from", "parse_mapping", "values_of"]

# The properties the books may carry, and how many fields each takes (0: any number, joined by blanks).
PROPERTIES: dict[str, int] = {
    "FN": 0,
    "N": 2,
    "NICKNAME": 1,
    "EMAIL": 1,
    "TEL": 1,
    "TITLE": 1,
    "ORG": 1,
    "NOTE": 0,
}
DEFAULT_MAPPING: dict[str, tuple[str, ...]] = {
    "FN": ("display_name",),
    "N": ("surname", "given_name"),
    "EMAIL": ("emails",),
    "TEL": ("phones",),
    "TITLE": ("title",),
    "ORG": ("organizations",),
}
_FIELDS = frozenset(f.name for f in fields(Person)) - {"dn", "groups", "disabled", "entry_uuid"}

VCardMapping = Mapping[str, tuple[str, ...]]


def parse_mapping(text: str) -> dict[str, tuple[str, ...]]:
    """The defaults overridden by ``text`` (``PROP = field [field]``, comma-separated).

    Raises:
        ValueError: a malformed part, an unknown property or field, or the wrong number of fields (the
            message says which).
    """
    return mapping_from(split_mapping(text))


def mapping_from(overrides: Iterable[tuple[str, tuple[str, ...]]]) -> dict[str, tuple[str, ...]]:
    """The defaults overridden by ``overrides`` (property, field names; ``-`` or no field leaves it out).

    Raises:
        ValueError: an unknown property or field, or the wrong number of fields (the message says which).
    """
    mapping = dict(DEFAULT_MAPPING)
    for prop, names in overrides:
        if prop not in PROPERTIES:
            raise ValueError(f"{prop}: not a property the books carry (one of {', '.join(PROPERTIES)})")
        if names in ((), ("-",)):
            mapping.pop(prop, None)
            continue
        unknown = [name for name in names if name not in _FIELDS]
        if unknown:
            raise ValueError(f"{prop}: unknown field {unknown[0]!r} (one of {', '.join(sorted(_FIELDS))})")
        if PROPERTIES[prop] and len(names) != PROPERTIES[prop]:
            raise ValueError(f"{prop} takes {PROPERTIES[prop]} field(s), not {len(names)}")
        mapping[prop] = names
    if "FN" not in mapping:
        raise ValueError("FN cannot be left out: every vCard has one (RFC 6350 §6.2.1)")
    return mapping


def values_of(person: Person, name: str) -> tuple[str, ...]:
    """The non-empty values of one field of ``person`` (a tuple field gives each of its values)."""
    value = getattr(person, name)
    if value is None:
        return ()
    if isinstance(value, (tuple, list, frozenset)):
        return tuple(str(v) for v in value if v)
    return (str(value),) if value else ()
