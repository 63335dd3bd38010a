# SPDX-License-Identifier: GPL-3.0-or-later
"""A file-backed directory: an LDIF file (RFC 2849) read into memory; and the one LDIF parser of groupware.

:func:`read_records` yields typed :class:`LdifRecord` content records (base64 values, folded lines,
comments; URL values and change records refused); :class:`LdifDirectory` and
:mod:`groupware.directory.slapd` both read LDIF through it.

The embedded default for demos and small sites. It honours the same ``[directory]`` filters as the LDAP
implementation (user, group and "account disabled" filters, RFC 4515 syntax) and checks ``userPassword``
hashes (``{SSHA}`` and friends) locally. The file is re-read when it changes on disk.
"""

from __future__ import annotations

import base64
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from ldap3.operation import search as ldap_filter

from groupware.config import DirectoryConfig
from groupware.directory import Establishment, Group, Person, normalize_dn, normalize_login
from groupware.directory.mapping import establishment_from, group_from, person_from
from groupware.directory.passwords import check_password
from groupware.errors import AccountDisabled, DirectoryError, InvalidCredentials

__all__ = ["Entry", "LdifDirectory", "LdifError", "LdifRecord", "matches", "parse_ldif", "read_records"]

Entry = dict[str, list[str]]  # lower-cased attribute name -> values; "dn" holds the DN


class LdifError(DirectoryError):
    """The LDIF text is malformed or outside what we read; the message carries the source and line."""


@dataclass(frozen=True)
class LdifRecord:
    """One LDIF content record (RFC 2849 ``ldif-attrval-record``): its DN and its attribute values.

    ``attributes`` keeps the file's order and the attribute descriptions as written (options included,
    ``cn;lang-fr``); values are decoded text. ``line`` is where the record starts, for messages.
    """

    dn: str
    attributes: tuple[tuple[str, str], ...] = ()
    line: int = 0

    def values(self, name: str) -> list[str]:
        """The values of the attribute ``name`` (any case), in file order."""
        wanted = name.lower()
        return [value for key, value in self.attributes if key.lower() == wanted]

    def entry(self) -> Entry:
        """The record as an :data:`Entry`: lower-cased names to values, the DN under ``dn``."""
        entry: Entry = {"dn": [self.dn]}
        for key, value in self.attributes:
            entry.setdefault(key.lower(), []).append(value)
        return entry

    def text(self) -> str:
        """The record written as LDIF, with a blank line after it: values that are not an RFC 2849
        ``SAFE-STRING`` (non-ASCII, leading space, colon or ``<``, trailing space) in base64 (``::``)."""
        lines = [_attrval("dn", self.dn), *(_attrval(key, value) for key, value in self.attributes)]
        return "\n".join(lines) + "\n\n"


def _attrval(name: str, value: str) -> str:
    """RFC 2849 ``attrval-spec``: ``name: value``, or ``name:: BASE64`` when the value is not safe."""
    safe = value.isascii() and not any(char in value for char in "\0\r\n")
    safe = safe and not value.startswith((" ", ":", "<")) and not value.endswith(" ")
    if safe:
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """RFC 2849 §"Notes on LDIF Syntax" 2 and 4: continuation lines (``SEP SPACE``) unfolded, comments
    (folded ones too) dropped; a blank line, yielded as ``""``, ends a record."""
    current: list[str] = []
    start = 0
    in_comment = False
    for number, raw in enumerate(text.split("\n"), 1):
        raw = raw.removesuffix("\r")
        if raw.startswith(" ") and (current or in_comment):
            if not in_comment:
                current.append(raw[1:])
            continue
        if current:
            yield start, "".join(current)
            current = []
        in_comment = raw.startswith("#")
        if in_comment:
            continue
        if not raw.strip():
            yield number, ""
            continue
        current, start = [raw], number
    if current:
        yield start, "".join(current)


def _value(line: str, number: int, source: str) -> tuple[str, str]:
    """RFC 2849 ``attrval-spec``: ``name: value``, ``name:: BASE64`` (UTF-8 text); ``name:< URL`` refused."""
    name, sep, rest = line.partition(":")
    if not sep or not name.strip():
        raise LdifError(f"{source}:{number}: expected 'attribute: value'")
    if rest.startswith(":"):
        try:
            return name.strip(), base64.b64decode(rest[1:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise LdifError(f"{source}:{number}: bad base64 value for {name}: {exc}") from exc
    if rest.startswith("<"):
        raise LdifError(f"{source}:{number}: URL values are not supported")
    return name.strip(), rest.strip()


def read_records(text: str, source: str = "<ldif>") -> Iterator[LdifRecord]:
    """The content records of an LDIF text (RFC 2849), in file order: lines unfolded, comments and the
    ``version`` line skipped, base64 values decoded.

    Raises:
        LdifError: a record not starting with ``dn:``, a change record (``changetype:``), a URL value
            (``name:< URL``), malformed base64 or non-UTF-8 text, a line that is no ``name: value``.
    """
    dn: str | None = None
    start = 0
    attributes: list[tuple[str, str]] = []
    for number, line in _logical_lines(text):
        if not line:
            if dn is not None:
                yield LdifRecord(dn, tuple(attributes), start)
            dn, attributes = None, []
            continue
        name, value = _value(line, number, source)
        key = name.lower()
        if dn is None:
            if key == "version":
                continue
            if key != "dn":
                raise LdifError(f"{source}:{number}: a record must start with dn:")
            dn, start = value, number
        elif key == "changetype":
            raise LdifError(f"{source}:{number}: change records are not supported")
        else:
            attributes.append((name, value))
    if dn is not None:
        yield LdifRecord(dn, tuple(attributes), start)


def parse_ldif(text: str, source: str = "<ldif>") -> list[Entry]:
    """The content records of an LDIF text as entries (see :func:`read_records`)."""
    return [record.entry() for record in read_records(text, source)]


def _node_matches(node: Any, entry: Entry) -> bool:
    tag = node.tag
    if tag in (ldap_filter.ROOT, ldap_filter.AND):
        return all(_node_matches(child, entry) for child in node.elements)
    if tag == ldap_filter.OR:
        return any(_node_matches(child, entry) for child in node.elements)
    if tag == ldap_filter.NOT:
        return not _node_matches(node.elements[0], entry)
    values = [v.casefold() for v in entry.get(node.assertion["attr"].lower(), [])]
    if tag == ldap_filter.MATCH_PRESENT:
        return bool(values)
    if tag == ldap_filter.MATCH_EQUAL or tag == ldap_filter.MATCH_APPROX:
        return node.assertion["value"].decode("utf-8").casefold() in values
    if tag == ldap_filter.MATCH_SUBSTRING:
        return any(_substring(node.assertion, value) for value in values)
    if tag in (ldap_filter.MATCH_GREATER_OR_EQUAL, ldap_filter.MATCH_LESS_OR_EQUAL):
        bound = node.assertion["value"].decode("utf-8").casefold()
        return any(v >= bound if tag == ldap_filter.MATCH_GREATER_OR_EQUAL else v <= bound for v in values)
    raise DirectoryError(f"unsupported filter item in LDIF directory: {node}")


def _substring(assertion: dict[str, Any], value: str) -> bool:
    position = 0
    initial = assertion.get("initial")
    if initial:
        if not value.startswith(initial.decode("utf-8").casefold()):
            return False
        position = len(initial)
    for part in assertion.get("any") or []:
        found = value.find(part.decode("utf-8").casefold(), position)
        if found < 0:
            return False
        position = found + len(part)
    final = assertion.get("final")
    return not final or value[position:].endswith(final.decode("utf-8").casefold())


def matches(search_filter: str, entry: Entry) -> bool:
    """Evaluate an RFC 4515 filter on an entry, matching values case-insensitively (caseIgnoreMatch)."""
    if not search_filter:
        return False
    return _node_matches(ldap_filter.parse_filter(search_filter, None, True, True, None, False), entry)


def _first(entry: Entry, name: str) -> str:
    return entry.get(name, [""])[0]


@dataclass(frozen=True)
class _Snapshot:
    people: dict[str, Entry]  # normalized uid and mail -> entry
    ordered_people: list[Entry]
    groups: list[Group]
    memberships: dict[str, frozenset[str]]  # normalized person DN -> group DNs
    establishments: dict[str, Establishment]  # UAI -> établissement, from établissement entries


class LdifDirectory:
    """:class:`groupware.directory.Directory` read from one LDIF file."""

    def __init__(self, config: DirectoryConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._stamp: tuple[float, int] | None = None
        self._snapshot = self._load()

    def _load(self) -> _Snapshot:
        path = self._config.file
        stat = os.stat(path)
        with open(path, encoding="utf-8") as handle:
            entries = parse_ldif(handle.read(), path)
        self._stamp = (stat.st_mtime, stat.st_size)
        groups = [group_from(e, self._config) for e in entries if matches(self._config.group_filter, e)]
        establishments: dict[str, Establishment] = {}
        for entry in entries:
            if matches(self._config.establishment_filter, entry):
                found = establishment_from(entry, self._config)
                if found is not None:
                    establishments.setdefault(found.uai, found)
        memberships: dict[str, set[str]] = {}
        for group in groups:
            for member in group.members:
                memberships.setdefault(member, set()).add(group.dn)
        people: dict[str, Entry] = {}
        ordered = [e for e in entries if matches(self._config.user_filter, e)]
        for entry in ordered:
            for attr in self._config.login_attributes:
                for value in entry.get(attr.lower(), []):
                    people.setdefault(normalize_login(value), entry)
        return _Snapshot(
            people, ordered, groups, {k: frozenset(v) for k, v in memberships.items()}, establishments
        )

    def _current(self) -> _Snapshot:
        stat = os.stat(self._config.file)
        if (stat.st_mtime, stat.st_size) != self._stamp:
            with self._lock:
                if (stat.st_mtime, stat.st_size) != self._stamp:
                    self._snapshot = self._load()
        return self._snapshot

    def _person(self, snapshot: _Snapshot, entry: Entry) -> Person:
        dn = _first(entry, "dn")
        names = {uai: etab.name for uai, etab in snapshot.establishments.items()}
        person = person_from(
            entry,
            self._config,
            snapshot.memberships.get(normalize_dn(dn), frozenset()),
            disabled=matches(self._config.disabled_filter, entry),
            listed=not matches(self._config.red_list_filter, entry),
            names=names,
        )
        if person.entry_uuid:
            return person
        return replace(person, entry_uuid=str(uuid.uuid5(uuid.NAMESPACE_X500, normalize_dn(dn))))

    def find_person(self, login: str) -> Person | None:
        """Return the enabled person whose uid or mail is ``login`` (any case), or ``None``."""
        snapshot = self._current()
        entry = snapshot.people.get(normalize_login(login))
        if entry is None:
            return None
        person = self._person(snapshot, entry)
        return None if person.disabled else person

    def authenticate(self, login: str, password: str) -> Person:
        """Check ``password`` against the entry's ``userPassword`` values.

        Raises:
            InvalidCredentials: unknown login, wrong or empty password.
            AccountDisabled: right password, but the entry matches the disabled filter.
        """
        snapshot = self._current()
        entry = snapshot.people.get(normalize_login(login))
        stored = entry.get("userpassword", []) if entry else []
        if not password or not any(check_password(value, password) for value in stored):
            raise InvalidCredentials("unknown login or wrong password")
        assert entry is not None
        person = self._person(snapshot, entry)
        if person.disabled:
            raise AccountDisabled(f"account {person.uid} is disabled")
        return person

    def iter_people(self) -> Iterator[Person]:
        """Yield every enabled person not on the red list, in file order."""
        for person in self.iter_everyone():
            if not person.disabled and person.listed:
                yield person

    def iter_everyone(self) -> Iterator[Person]:
        """Yield every person, disabled and red-listed ones too (flagged), in file order."""
        snapshot = self._current()
        for entry in snapshot.ordered_people:
            yield self._person(snapshot, entry)

    def iter_establishments(self) -> Iterator[Establishment]:
        """Yield the établissement entries (``establishment_filter``), in file order."""
        yield from self._current().establishments.values()

    def iter_groups(self) -> Iterator[Group]:
        """Yield every group in file order."""
        yield from self._current().groups

    def close(self) -> None:
        """Nothing to release."""
