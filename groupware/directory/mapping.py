# SPDX-License-Identifier: GPL-3.0-or-later
"""The attribute mapping: which attribute of an entry fills which field of a person, a group or an
établissement, as ``[directory]`` and its preset say (:data:`groupware.config.DIRECTORY_PRESETS`).

Shared by the LDAP and LDIF directories; entries are read as :data:`Entry` (lower-cased attribute names, RFC
4512 §2.5: names are case-insensitive). A UAI is taken out of a value by a configured pattern, compiled and
checked when the configuration is loaded (no nested repetition, at most two repetitions of variable length);
values longer than :data:`MAX_VALUE` characters are not matched at all, so a hostile value costs at most a
small power of 256 steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from groupware.config import DirectoryConfig
from groupware.directory import Establishment, Group, Person, normalize_dn

__all__ = [
    "MAX_VALUE",
    "Entry",
    "establishment_attributes",
    "establishment_from",
    "extract_uai",
    "group_attributes",
    "group_from",
    "lower_entry",
    "person_attributes",
    "person_from",
    "uais",
]

Entry = dict[str, list[str]]  # lower-cased attribute name -> values; "dn" holds the DN
#: Values longer than this are never given to a pattern (a UAI is 8 characters; SupAnn values hold 128).
MAX_VALUE = 256


def lower_entry(dn: str, attributes: Mapping[str, Any]) -> Entry:
    """An entry as ldap3 returns it (names spelt as the server does, one value or a list), as an Entry."""
    entry: Entry = {"dn": [dn]}
    for name, values in attributes.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            values = [values]
        entry.setdefault(name.lower(), []).extend(str(value) for value in values if value is not None)
    return entry


def _all(entry: Entry, name: str) -> list[str]:
    return entry.get(name.lower(), []) if name else []


def _first(entry: Entry, *names: str) -> str:
    for name in names:
        values = _all(entry, name)
        if values and values[0]:
            return values[0]
    return ""


def extract_uai(pattern: re.Pattern[str] | None, value: str) -> str:
    """The UAI a value holds: all of it without a pattern; else the pattern's group ``uai``, its first group,
    or its match; ``""`` when the value does not match or is longer than :data:`MAX_VALUE`."""
    if pattern is None:
        return value
    if len(value) > MAX_VALUE:
        return ""
    match = pattern.search(value)
    if match is None:
        return ""
    if "uai" in pattern.groupindex:
        return match.group("uai") or ""
    return (match.group(1) if pattern.groups else match.group(0)) or ""


def uais(values: Iterable[str], pattern: re.Pattern[str] | None) -> tuple[str, ...]:
    """The UAI codes of ``values``, in order; with a pattern, without repeats or values that hold none."""
    if pattern is None:
        return tuple(values)
    found: dict[str, None] = {}
    for value in values:
        uai = extract_uai(pattern, value)
        if uai:
            found.setdefault(uai, None)
    return tuple(found)


def person_attributes(config: DirectoryConfig) -> tuple[str, ...]:
    """The attributes a person is read with."""
    names = [
        config.uid_attribute,
        *config.display_name_attributes,
        "cn",
        config.given_name_attribute,
        config.surname_attribute,
        config.mail_attribute,
        *config.phone_attributes,
        *config.title_attributes,
        *config.establishment_attributes,
        config.organization_attribute,
        config.entry_uuid_attribute,
        config.member_of_attribute,
    ]
    return tuple(dict.fromkeys(name for name in names if name))


def person_from(
    entry: Entry,
    config: DirectoryConfig,
    groups: frozenset[str],
    disabled: bool = False,
    listed: bool = True,
    names: Mapping[str, str] | None = None,
) -> Person:
    """The person an entry describes. ``names`` (UAI -> name, from établissement entries) names the
    établissements when the directory has such entries; else ``organization_attribute`` does."""
    uid = _first(entry, config.uid_attribute)
    mails = tuple(_all(entry, config.mail_attribute))
    values = (value for name in config.establishment_attributes for value in _all(entry, name))
    establishments = uais(values, config.establishment_pattern)
    if config.establishment_filter:
        organizations = tuple((names or {}).get(uai, uai) for uai in establishments)
    else:
        organizations = tuple(_all(entry, config.organization_attribute))
    return Person(
        uid=uid,
        dn=entry["dn"][0],
        display_name=_first(entry, *config.display_name_attributes, "cn") or uid,
        mail=mails[0] if mails else None,
        given_name=_first(entry, config.given_name_attribute),
        surname=_first(entry, config.surname_attribute),
        emails=mails,
        phones=tuple(v for name in config.phone_attributes for v in _all(entry, name)),
        title=_first(entry, *config.title_attributes),
        establishments=establishments,
        organizations=organizations,
        groups=groups,
        disabled=disabled,
        entry_uuid=_first(entry, config.entry_uuid_attribute),
        listed=listed,
    )


def group_attributes(config: DirectoryConfig) -> tuple[str, ...]:
    """The attributes a group is read with."""
    names = (
        config.group_name_attribute,
        config.group_description_attribute,
        config.group_category_attribute,
        config.group_establishment_attribute,
        config.member_attribute,
    )
    return tuple(dict.fromkeys(name for name in names if name))


def group_from(entry: Entry, config: DirectoryConfig) -> Group:
    """The group an entry describes; its établissement is the first UAI its établissement attribute holds."""
    found = uais(_all(entry, config.group_establishment_attribute), config.group_establishment_pattern)
    return Group(
        dn=entry["dn"][0],
        name=_first(entry, config.group_name_attribute),
        description=_first(entry, config.group_description_attribute),
        category=_first(entry, config.group_category_attribute),
        establishment=found[0] if found else "",
        members=frozenset(normalize_dn(m) for m in _all(entry, config.member_attribute)),
    )


def establishment_attributes(config: DirectoryConfig) -> tuple[str, ...]:
    """The attributes an établissement entry is read with."""
    names = (
        config.establishment_uai_attribute,
        config.establishment_name_attribute,
        config.establishment_departement_attribute,
    )
    return tuple(dict.fromkeys(name for name in names if name))


def establishment_from(entry: Entry, config: DirectoryConfig) -> Establishment | None:
    """The établissement an entry describes, or ``None`` when none of its values holds a UAI."""
    found = uais(_all(entry, config.establishment_uai_attribute), config.establishment_uai_pattern)
    if not found:
        return None
    uai = found[0]
    departement = _first(entry, config.establishment_departement_attribute) or uai[:3]
    name = _first(entry, config.establishment_name_attribute) or uai
    return Establishment(uai, name, departement, entry["dn"][0])
