# SPDX-License-Identifier: GPL-3.0-or-later
"""The parsers of our options' values: each takes the text of a file and returns the typed value, or raises
``ValueError`` with the reason (the loader names the file, the section and the key)."""

from __future__ import annotations

import configparser
import importlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _at_least_one(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be 1 or more")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be zero or more")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be more than zero seconds")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError("must be zero or more")
    return number


def _boolean(value: str) -> bool:
    states = configparser.RawConfigParser.BOOLEAN_STATES
    if value.lower() not in states:
        raise ValueError("must be true or false")
    return states[value.lower()]


def _words(value: str) -> tuple[str, ...]:
    return tuple(value.split())


def _choice(*choices: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError("must be one of: " + ", ".join(choices))
        return value

    return check


def _relay(value: str) -> tuple[str, int] | None:
    if not value:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"{value!r} is not host:port")
    return host.strip("[]"), int(port)


def _listen(value: str) -> tuple[tuple[str, int], ...]:
    addresses = []
    for item in value.replace(",", " ").split():
        host, sep, port = item.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{item!r} is not host:port")
        addresses.append((host.strip("[]"), int(port)))
    return tuple(addresses)


LEVELS = ("free-busy", "read", "read-write", "manage")


def _ldap_filter(value: str) -> str:
    if value and not (value.startswith("(") and value.endswith(")") and value.count("(") == value.count(")")):
        raise ValueError("must be an LDAP filter in parentheses, e.g. (employeeType=inactif)")
    return value


def _dn_template(value: str) -> str:
    if value and "{login}" not in value:
        raise ValueError("must contain {login}")
    return value


def _ldap_uris(value: str) -> tuple[str, ...]:
    uris = _words(value)
    for uri in uris:
        if not uri.startswith(("ldap://", "ldaps://")):
            raise ValueError(f"{uri!r} is not an ldap:// or ldaps:// URI")
    return uris


_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+")
#: The longest ``*_pattern`` accepted; the values a pattern reads are cut at 256 characters by the directory.
MAX_PATTERN_LENGTH = 200
# Repetitions of variable length a pattern may hold (each multiplies the worst case by a value's length).
_MAX_VARIABLE_REPEATS = 2
_REFUSED_NODES = {"GROUPREF", "GROUPREF_EXISTS", "ASSERT", "ASSERT_NOT"}


def _attribute(value: str) -> str:
    """An attribute description (RFC 4512 §2.5: a ``descr`` or a numeric OID), or empty for none."""
    if value and not _ATTRIBUTE.fullmatch(value):
        raise ValueError(f"{value!r} is not an attribute name (RFC 4512 §2.5)")
    return value


def _attributes(value: str) -> tuple[str, ...]:
    return tuple(_attribute(word) for word in value.split())


def _branches(items: Any) -> bool:
    """Whether a parsed pattern holds an alternation, at any depth."""
    for op, argument in items:
        name = str(op)
        if name == "BRANCH":
            return True
        if name in ("SUBPATTERN", "ATOMIC_GROUP") and _branches(argument[-1]):
            return True
    return False


def _repeats(items: Any, inside: bool) -> int:
    """The variable-length repetitions of a parsed pattern; refuses nested repetition, backreferences and
    look-arounds, whose cost on a hostile value is not bounded by a small power of its length."""
    count = 0
    for op, argument in items:
        name = str(op)
        if name in _REFUSED_NODES:
            raise ValueError("backreferences and look-arounds are not allowed")
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, body = argument
            if inside or _repeats(body, True) or _branches(body):
                raise ValueError("a repetition inside a repetition is not allowed, e.g. (a+)+")
            count += int(low != high)
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            count += _repeats(argument[-1], inside)
        elif name == "BRANCH":
            count += sum(_repeats(branch, inside) for branch in argument[1])
    return count


def _pattern(value: str) -> re.Pattern[str] | None:
    """A bounded regular expression extracting a UAI from a directory value (``re`` syntax): at most
    :data:`MAX_PATTERN_LENGTH` characters, no nested repetition, no backreference or look-around, at most two
    repetitions of variable length. The UAI is the group named ``uai``, else the first group, else the match.
    """
    if not value:
        return None
    if len(value) > MAX_PATTERN_LENGTH:
        raise ValueError(f"longer than {MAX_PATTERN_LENGTH} characters")
    try:
        compiled = re.compile(value)
        parsed = importlib.import_module("re._parser").parse(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    if _repeats(parsed, False) > _MAX_VARIABLE_REPEATS:
        raise ValueError(f"more than {_MAX_VARIABLE_REPEATS} repetitions of variable length (*, +, {{m,n}})")
    return compiled


def _networks(value: str) -> tuple[str, ...]:
    """Addresses and networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``), comma-separated, normalized."""
    try:
        return tuple(
            str(ipaddress.ip_network(word, strict=False)) for word in value.replace(",", " ").split()
        )
    except ValueError as exc:
        raise ValueError(f"not an address or network: {exc}") from None


def _book_kinds(value: str) -> tuple[str, ...]:
    kinds = _words(value)
    for kind in kinds:
        if kind not in ("academie", "etablissements", "departements"):
            raise ValueError(f"{kind!r} is not one of: academie, etablissements, departements")
    return kinds


def split_mapping(value: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``PROP = field [field], …`` as (upper-cased property, field names) pairs, in the order written.

    Only the form is checked here; which properties and fields exist is the address books' business
    (:func:`groupware.addressbooks.mapping.mapping_from`), checked by ``check-config`` and at start-up.

    Raises:
        ValueError: a part without ``=`` or without a property name.
    """
    pairs = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        prop, sep, names = part.partition("=")
        if not sep or not prop.strip():
            raise ValueError(f"{part!r}: expected PROPERTY = field")
        pairs.append((prop.strip().upper(), tuple(names.split())))
    return tuple(pairs)


def _path_segment(value: str) -> str:
    if not value or "/" in value or value.startswith(".") or not value.isprintable():
        raise ValueError("must be one path segment, e.g. annuaire")
    return value


@dataclass(frozen=True)
class Option:
    """One option of our sections: its default (as written in a file), its parser and its help text."""

    default: str
    parse: Callable[[str], Any]
    help: str
