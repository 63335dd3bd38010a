# SPDX-License-Identifier: GPL-3.0-or-later
"""One typed loader for the single configuration file.

The file is INI: Radicale's own sections (``[server]``, ``[storage]``, ``[logging]`` …) plus ours
(``[directory]``, ``[accounts]``, ``[sieve]``). This module owns our sections: their schema with defaults and
help text lives in :data:`SCHEMA`, in one place. Radicale's sections are handed over untouched
(``radicale_sections``) and checked by the composition root against Radicale's own schema. Every problem names
the file, the section and the key.
"""

from __future__ import annotations

import configparser
import importlib
import importlib.resources
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groupware.errors import ConfigError, ConfigProblem

__all__ = [
    "DEMO_CONFIG",
    "DIRECTORY_PRESETS",
    "MAX_PATTERN_LENGTH",
    "SCHEMA",
    "AccountsConfig",
    "AddressBooksConfig",
    "Config",
    "DirectoryConfig",
    "LimitsConfig",
    "LmtpConfig",
    "OperationsConfig",
    "Option",
    "SharingConfig",
    "SieveConfig",
    "database_file",
    "storage_database",
    "load",
    "read_sections",
]

#: The files of ``config/`` (the demo, its directory, the commented example), installed as ``groupware.data``.
DATA = Path(str(importlib.resources.files("groupware.data")))
DEMO_CONFIG = DATA / "demo.conf"


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


#: The attribute mappings that ``[directory] preset`` names (one section each), as written in a file.
DIRECTORY_PRESETS = DATA / "directory-presets.conf"

SCHEMA: dict[str, dict[str, Option]] = {
    "directory": {
        "type": Option(
            "ldif", _choice("ldif", "ldap"), "where people and groups come from: ldif (a file) or ldap"
        ),
        "file": Option("", str, "ldif: path of the LDIF file (relative to the configuration file)"),
        "uri": Option(
            "", _ldap_uris, "ldap: one or more ldap:// or ldaps:// URIs, tried in order (failover)"
        ),
        "base_dn": Option("", str, "ldap: search base of the directory"),
        "people_dn": Option("", str, "search base for people (default: base_dn)"),
        "groups_dn": Option("", str, "search base for groups (default: base_dn)"),
        "bind_dn": Option("", str, "ldap: service account used to search (empty: anonymous search)"),
        "bind_password": Option("", str, "ldap: password of the service account"),
        "bind_password_file": Option("", str, "ldap: file holding the service account's password"),
        "user_dn_template": Option(
            "", _dn_template, "ldap: bind directly as this DN, e.g. uid={login},ou=people,…"
        ),
        "login_attributes": Option(
            "uid mail", _words, "attributes a login is matched against, case-insensitively"
        ),
        "user_filter": Option("(objectClass=inetOrgPerson)", _ldap_filter, "filter selecting people"),
        "disabled_filter": Option(
            "", _ldap_filter, "filter matching disabled accounts, e.g. (employeeType=inactif)"
        ),
        "groups_from": Option(
            "search", _choice("search", "memberof"), "read groups by a group search or memberOf"
        ),
        "group_filter": Option("(objectClass=groupOfNames)", _ldap_filter, "filter selecting groups"),
        "member_attribute": Option("member", str, "attribute of a group listing its members' DNs"),
        "preset": Option(
            "inetorgperson",
            _choice("inetorgperson", "supann"),
            "attribute mapping to start from: inetorgperson or supann (SupAnn 2021); keys below override it",
        ),
        "uid_attribute": Option("", _attribute, "person: the uid, name of the person's home"),
        "mail_attribute": Option("", _attribute, "person: mail addresses (the first is the main one)"),
        "display_name_attributes": Option("", _attributes, "person: the shown name, first one present"),
        "given_name_attribute": Option("", _attribute, "person: given name"),
        "surname_attribute": Option("", _attribute, "person: family name"),
        "title_attributes": Option("", _attributes, "person: title or function, first one present"),
        "phone_attributes": Option("", _attributes, "person: telephone numbers, all of them"),
        "establishment_attributes": Option("", _attributes, "person: values naming their établissements"),
        "establishment_pattern": Option(
            "", _pattern, "person: regular expression taking the UAI out of such a value (empty: all of it)"
        ),
        "organization_attribute": Option(
            "",
            _attribute,
            "person: établissement names, in the order of their UAI (without établissement entries)",
        ),
        "entry_uuid_attribute": Option("", _attribute, "person: a stable identifier (RFC 4530 entryUUID)"),
        "member_of_attribute": Option("", _attribute, "person: group DNs, with groups_from = memberof"),
        "red_list_filter": Option(
            "", _ldap_filter, "people who asked not to be listed: out of every book and search, not of login"
        ),
        "establishments_dn": Option("", str, "search base for établissement entries (default: base_dn)"),
        "establishment_filter": Option(
            "", _ldap_filter, "filter selecting établissement entries (empty: none, names come from people)"
        ),
        "establishment_uai_attribute": Option(
            "", _attribute, "établissement entry: the value holding its UAI"
        ),
        "establishment_uai_pattern": Option("", _pattern, "établissement entry: the UAI out of that value"),
        "establishment_name_attribute": Option("", _attribute, "établissement entry: its name"),
        "establishment_departement_attribute": Option(
            "", _attribute, "établissement entry: its département code (empty: the UAI's first three digits)"
        ),
        "group_name_attribute": Option("", _attribute, "group: its name (agenda paths, provisioning)"),
        "group_description_attribute": Option("", _attribute, "group: its description (titles)"),
        "group_category_attribute": Option("", _attribute, "group: its category"),
        "group_establishment_attribute": Option("", _attribute, "group: the établissement it belongs to"),
        "group_establishment_pattern": Option("", _pattern, "group: the UAI out of that value"),
        "starttls": Option("false", _boolean, "ldap: upgrade ldap:// connections with StartTLS"),
        "ca_file": Option("", str, "ldap: CA certificates (PEM) to verify the server; empty: system store"),
        "connect_timeout": Option(
            "5", _positive_float, "ldap: seconds to open a connection before failing over"
        ),
        "timeout": Option("10", _positive_float, "ldap: seconds an operation may take"),
        "pool_size": Option("8", _positive_int, "ldap: connections kept open for searches"),
        "page_size": Option("500", _positive_int, "ldap: page size of bulk reads (RFC 2696)"),
        "cache_ttl": Option(
            "300", _positive_float, "seconds a person or group list is kept in memory (0: off)"
        ),
        "retry_after": Option("30", _positive_int, "seconds sent in Retry-After when the directory is down"),
    },
    "accounts": {
        "principal": Option(
            "uid", _choice("uid", "mail"), "what names a user's home: uid (prenom.nom) or mail"
        ),
        "admin_group": Option("", str, "DN of the group whose members manage everything"),
        "cache_ttl": Option("600", _positive_float, "seconds a successful login is remembered (0: off)"),
        "max_failures_per_login": Option(
            "10",
            _positive_int,
            "failures for one person (any form of their login: uid, mail, case) before lockout (0: no limit)",
        ),
        "max_failures_per_address": Option(
            "50",
            _positive_int,
            "failures from one client address (IPv6: its /64) before each further one takes longer (0: off)",
        ),
        "max_failure_delay": Option(
            "10", _positive_float, "longest a failed login from an address over its limit is made to take"
        ),
        "failure_window": Option("300", _positive_float, "seconds over which failures are counted"),
        "lockout": Option("300", _positive_float, "seconds a locked-out person is refused"),
        "failure_delay": Option(
            "0.4", _positive_float, "minimum seconds a failed login takes (hides timing)"
        ),
    },
    "sharing": {
        "max_person_level": Option(
            "manage", _choice(*LEVELS), "highest level a grant to one person may give"
        ),
        "max_group_level": Option(
            "read-write", _choice(*LEVELS), "highest level a grant to a group may give"
        ),
        "max_domain_level": Option(
            "read", _choice(*LEVELS), "highest level a grant to a whole mail domain may give"
        ),
        "people_may_share": Option(
            "true", _boolean, "people may share their own calendars (Radicale's sharing API)"
        ),
        "database": Option(
            "", str, "SQLite file of grants (default: the storage engine's, groupware.sqlite)"
        ),
    },
    "addressbooks": {
        "enabled": Option("false", _boolean, "serve read-only address books built from the directory"),
        "books": Option(
            "academie etablissements", _book_kinds, "books to build: academie etablissements departements"
        ),
        "interval": Option(
            "3600", _positive_float, "seconds between syncs inside `groupware serve` (0: never)"
        ),
        "owner": Option(
            "annuaire", _path_segment, "first path segment of the books (no login may have this name)"
        ),
        "academie": Option(
            "Académie de Montpellier", str, "the académie's name: first ORG component, book titles"
        ),
        "groups": Option(
            "true", _boolean, "directory groups become contact groups (KIND:group, RFC 6350 §6.1.4)"
        ),
        "mapping": Option(
            "",
            split_mapping,
            "vCard property = person field, comma-separated, e.g. TITLE = title (see README)",
        ),
    },
    "sieve": {
        "enabled": Option("false", _boolean, "serve ManageSieve (RFC 5804) beside HTTP in `groupware serve`"),
        "hosts": Option(
            "127.0.0.1:4190", _listen, "ManageSieve addresses to listen on, host:port, comma-separated"
        ),
        "mail_root": Option("", str, "mail store root: scripts in <root>/<user>/sieve, default ./var/mail"),
        "tls_certificate": Option("", str, "PEM certificate (chain) offered by STARTTLS; empty: no STARTTLS"),
        "tls_key": Option("", str, "PEM private key of the certificate"),
        "allow_plaintext": Option("false", _boolean, "allow AUTHENTICATE without TLS (loopback tests only)"),
        "idle_timeout": Option("1800", _positive_float, "seconds an idle ManageSieve connection is kept"),
        "auth_timeout": Option("30", _seconds, "seconds a ManageSieve connection has to log in"),
        "max_connections": Option("1000", _at_least_one, "ManageSieve connections one process holds open"),
        "max_connections_per_address": Option(
            "20", _at_least_one, "ManageSieve connections one client address holds open"
        ),
        "max_scripts": Option("25", _positive_int, "scripts per user (0: no limit)"),
        "max_script_size": Option("262144", _positive_int, "octets per script"),
        "max_storage": Option("1048576", _positive_int, "octets of all of a user's scripts (0: no limit)"),
        "extensions": Option("", _words, "Sieve extensions allowed (empty: all the engine supports)"),
        "max_redirects": Option("4", _positive_int, "distinct addresses a script may redirect to"),
        "redirect_domains": Option(
            "", _words, "domains redirect may forward to, e.g. ac-montpellier.fr (empty: any)"
        ),
        "min_vacation_period": Option(
            "86400", _positive_int, "shortest vacation period in seconds (:days/:seconds)"
        ),
        "before": Option("", _words, "admin scripts run before every user's script (paths)"),
        "after": Option("", _words, "admin scripts run after every user's script (paths)"),
        "max_variable_size": Option("4096", _positive_int, "octets a Sieve variable holds, cut beyond"),
        "max_cpu_time": Option(
            "5", _positive_float, "CPU seconds the scripts may spend on one message (0: no limit)"
        ),
        "max_mime_depth": Option(
            "100", _positive_int, "MIME nesting parsed for Sieve; deeper parts are opaque"
        ),
    },
    "lmtp": {
        "enabled": Option("false", _boolean, "deliver mail over LMTP (RFC 2033) in `groupware serve`"),
        "hosts": Option("127.0.0.1:24", _listen, "LMTP addresses to listen on, host:port, comma-separated"),
        "hostname": Option(
            "", str, "name in the greeting and in Maildir file names (default: this machine's)"
        ),
        "max_message_size": Option(
            "52428800", _positive_int, "octets per message (SIZE, RFC 1870; 0: no limit)"
        ),
        "max_recipients": Option("1000", _positive_int, "recipients per transaction"),
        "timeout": Option("300", _positive_float, "seconds a client may stay silent (RFC 5321 §4.5.3.2)"),
        "max_errors": Option(
            "20",
            _positive_int,
            "refused commands and unknown recipients before a connection is closed (0: none)",
        ),
        "handshake_timeout": Option("60", _seconds, "seconds from connecting to an accepted LHLO"),
        "max_connections": Option("500", _at_least_one, "LMTP connections one process holds open"),
        "max_connections_per_address": Option(
            "50", _at_least_one, "LMTP connections one client address holds open"
        ),
        "relay": Option("", _relay, "SMTP relay host:port for redirects and vacation replies (empty: none)"),
        "queue": Option("", str, "folder of the outgoing queue (default: <[sieve] mail_root>/.queue)"),
        "queue_retry": Option(
            "300", _seconds, "seconds before the first retry of a message the relay deferred"
        ),
        "queue_max_retry": Option(
            "3600", _seconds, "longest wait between retries (the wait doubles up to it)"
        ),
        "queue_lifetime": Option(
            "432000", _seconds, "seconds a message is retried before it is given up (default 5 days)"
        ),
        "autocreate": Option("false", _boolean, "fileinto creates missing folders even without :create"),
        "workers": Option("16", _positive_int, "threads that look recipients up and store messages"),
    },
    "operations": {
        "allowed": Option(
            "127.0.0.0/8, ::1",
            _networks,
            "client addresses and networks that may read /.groupware/health and /metrics (others: 404)",
        ),
    },
    "limits": {
        "max_property_size": Option(
            "4096", _at_least_one, "characters in one property a client sets (display name, description…)"
        ),
        "max_properties_size": Option(
            "65536", _at_least_one, "characters in all the properties one PROPPATCH or MKCOL sets"
        ),
        "max_xml_depth": Option("100", _at_least_one, "element nesting of an XML request body"),
        "max_xml_elements": Option("100000", _at_least_one, "elements in an XML request body"),
        "max_connections": Option("1000", _at_least_one, "HTTP connections one process holds open"),
        "max_connections_per_address": Option(
            "100", _at_least_one, "HTTP connections one client address holds open (per process)"
        ),
        "header_timeout": Option(
            "10", _seconds, "seconds from a request's first byte to the end of its headers"
        ),
        "max_components": Option("1000", _positive_int, "components in one calendar object or vCard (PUT)"),
        "max_item_property_size": Option(
            "65536", _positive_int, "characters of one text property value in a calendar object or vCard"
        ),
        "max_parameter_size": Option("1024", _positive_int, "characters of one property parameter value"),
        "max_rrules": Option("4", _positive_int, "RRULE properties in one component"),
        "max_rdates": Option("1000", _positive_int, "RDATE values, and EXDATE values, in one component"),
        "max_recurrence_count": Option(
            "10000", _positive_int, "instances one bounded RRULE (COUNT, UNTIL) may produce"
        ),
        "max_daily_instances": Option(
            "24", _positive_int, "instances per day the unbounded RRULEs of a component may give (24: hourly)"
        ),
        "max_query_seconds": Option(
            "20",
            _positive_float,
            "seconds one REPORT may spend testing items, and one PUT reading its object back",
        ),
        "max_request_seconds": Option(
            "60",
            _positive_float,
            "seconds of work one HTTP request may take before it is stopped (answered 503)",
        ),
    },
}


@dataclass(frozen=True)
class DirectoryConfig:
    """The ``[directory]`` section, parsed."""

    type: str = "ldif"
    file: str = ""
    uri: tuple[str, ...] = ()
    base_dn: str = ""
    people_dn: str = ""
    groups_dn: str = ""
    bind_dn: str = ""
    bind_password: str = field(default="", repr=False)
    bind_password_file: str = ""
    user_dn_template: str = ""
    login_attributes: tuple[str, ...] = ("uid", "mail")
    user_filter: str = "(objectClass=inetOrgPerson)"
    disabled_filter: str = ""
    groups_from: str = "search"
    group_filter: str = "(objectClass=groupOfNames)"
    member_attribute: str = "member"
    starttls: bool = False
    ca_file: str = ""
    connect_timeout: float = 5.0
    timeout: float = 10.0
    pool_size: int = 8
    page_size: int = 500
    cache_ttl: float = 300.0
    retry_after: int = 30
    # The attribute mapping (DIRECTORY_PRESETS; these defaults are the inetorgperson preset's).
    preset: str = "inetorgperson"
    uid_attribute: str = "uid"
    mail_attribute: str = "mail"
    display_name_attributes: tuple[str, ...] = ("displayName", "cn")
    given_name_attribute: str = "givenName"
    surname_attribute: str = "sn"
    title_attributes: tuple[str, ...] = ("title",)
    phone_attributes: tuple[str, ...] = ("telephoneNumber", "mobile")
    establishment_attributes: tuple[str, ...] = ("departmentNumber",)
    establishment_pattern: re.Pattern[str] | None = None
    organization_attribute: str = "o"
    entry_uuid_attribute: str = "entryUUID"
    member_of_attribute: str = "memberOf"
    red_list_filter: str = ""
    establishments_dn: str = ""
    establishment_filter: str = ""
    establishment_uai_attribute: str = ""
    establishment_uai_pattern: re.Pattern[str] | None = None
    establishment_name_attribute: str = ""
    establishment_departement_attribute: str = ""
    group_name_attribute: str = "cn"
    group_description_attribute: str = "description"
    group_category_attribute: str = "businessCategory"
    group_establishment_attribute: str = "ou"
    group_establishment_pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class AccountsConfig:
    """The ``[accounts]`` section, parsed."""

    principal: str = "uid"
    admin_group: str = ""
    cache_ttl: float = 600.0
    max_failures_per_login: int = 10
    max_failures_per_address: int = 50
    max_failure_delay: float = 10.0
    failure_window: float = 300.0
    lockout: float = 300.0
    failure_delay: float = 0.4


@dataclass(frozen=True)
class SharingConfig:
    """The ``[sharing]`` section, parsed: the sharing policy and where grants are kept."""

    max_person_level: str = "manage"
    max_group_level: str = "read-write"
    max_domain_level: str = "read"
    people_may_share: bool = True
    database: str = ""


@dataclass(frozen=True)
class AddressBooksConfig:
    """The ``[addressbooks]`` section, parsed: the academic address books built from the directory."""

    enabled: bool = False
    books: tuple[str, ...] = ("academie", "etablissements")
    interval: float = 3600.0
    owner: str = "annuaire"
    academie: str = "Académie de Montpellier"
    groups: bool = True
    #: Overrides of the default vCard mapping of :mod:`groupware.addressbooks.mapping`, as written.
    mapping: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class SieveConfig:
    """The ``[sieve]`` section, parsed (paths absolute)."""

    enabled: bool = False
    hosts: tuple[tuple[str, int], ...] = (("127.0.0.1", 4190),)
    mail_root: str = ""
    tls_certificate: str = ""
    tls_key: str = ""
    allow_plaintext: bool = False
    idle_timeout: float = 1800.0
    auth_timeout: float = 30.0
    max_connections: int = 1000
    max_connections_per_address: int = 20
    max_scripts: int = 25
    max_script_size: int = 262144
    max_storage: int = 1048576
    extensions: tuple[str, ...] = ()
    max_redirects: int = 4
    redirect_domains: tuple[str, ...] = ()
    min_vacation_period: int = 86400
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    max_variable_size: int = 4096
    max_cpu_time: float = 5.0
    max_mime_depth: int = 100


@dataclass(frozen=True)
class LmtpConfig:
    """The ``[lmtp]`` section, parsed: the delivery door (users' homes are under ``[sieve] mail_root``)."""

    enabled: bool = False
    hosts: tuple[tuple[str, int], ...] = (("127.0.0.1", 24),)
    hostname: str = ""
    max_message_size: int = 52428800
    max_recipients: int = 1000
    timeout: float = 300.0
    handshake_timeout: float = 60.0
    max_connections: int = 500
    max_connections_per_address: int = 50
    max_errors: int = 20
    relay: tuple[str, int] | None = None
    queue: str = ""
    queue_retry: float = 300.0
    queue_max_retry: float = 3600.0
    queue_lifetime: float = 432000.0
    autocreate: bool = False
    workers: int = 16


@dataclass(frozen=True)
class LimitsConfig:
    """The ``[limits]`` section, parsed: bounds on what one request may ask of the DAV server."""

    max_property_size: int = 4096
    max_properties_size: int = 65536
    max_xml_depth: int = 100
    max_xml_elements: int = 100_000
    max_connections: int = 1000
    max_connections_per_address: int = 100
    header_timeout: float = 10.0
    max_components: int = 1000
    max_item_property_size: int = 65536
    max_parameter_size: int = 1024
    max_rrules: int = 4
    max_rdates: int = 1000
    max_recurrence_count: int = 10000
    max_daily_instances: int = 24
    max_query_seconds: float = 20.0
    max_request_seconds: float = 60.0


@dataclass(frozen=True)
class OperationsConfig:
    """The ``[operations]`` section, parsed: who may read the health of the server."""

    allowed: tuple[str, ...] = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class Config:
    """The whole configuration: our typed sections plus Radicale's, raw."""

    path: str
    directory: DirectoryConfig
    accounts: AccountsConfig
    radicale_sections: Mapping[str, Mapping[str, str]]
    sieve: SieveConfig = field(default_factory=SieveConfig)
    sharing: SharingConfig = field(default_factory=SharingConfig)
    lmtp: LmtpConfig = field(default_factory=LmtpConfig)
    addressbooks: AddressBooksConfig = field(default_factory=AddressBooksConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    operations: OperationsConfig = field(default_factory=OperationsConfig)


def read_sections(path: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """Read an INI file into ``{section: {key: value}}`` without interpolation.

    Raises:
        ConfigError: the file cannot be read or is not valid INI.
    """
    parser = configparser.RawConfigParser(strict=True)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(str(path), "", "", f"cannot read: {exc}")]) from exc
    return {name: dict(parser.items(name)) for name in parser.sections()}


def _parse_section(
    file: str, name: str, raw: Mapping[str, str], problems: list[ConfigProblem]
) -> dict[str, Any]:
    schema = SCHEMA[name]
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in schema:
            problems.append(ConfigProblem(file, name, key, "unknown option"))
            continue
        try:
            values[key] = schema[key].parse(value.strip())
        except ValueError as exc:
            problems.append(ConfigProblem(file, name, key, f"invalid value {value!r}: {exc}"))
    return values


def _resolve(base: Path, value: str) -> str:
    return str((base / value).resolve()) if value and not os.path.isabs(value) else value


def _apply_preset(file: str, values: dict[str, Any], problems: list[ConfigProblem]) -> None:
    """Fill the mapping keys the file does not set from ``preset``; an establishment filter needs a UAI."""
    schema = SCHEMA["directory"]
    for key, text in read_sections(DIRECTORY_PRESETS)[values.get("preset", "inetorgperson")].items():
        if key not in values:
            values[key] = schema[key].parse(text)
    if values["establishment_filter"] and not values["establishment_uai_attribute"]:
        problems.append(
            ConfigProblem(
                file, "directory", "establishment_uai_attribute", "required with establishment_filter"
            )
        )


def _check_directory(file: str, base: Path, values: dict[str, Any], problems: list[ConfigProblem]) -> None:
    _apply_preset(file, values, problems)
    kind = values.get("type", "ldif")
    if kind == "ldif":
        values["file"] = _resolve(base, values.get("file", ""))
        if not values["file"]:
            problems.append(ConfigProblem(file, "directory", "file", "required when type = ldif"))
        elif not os.path.isfile(values["file"]):
            problems.append(ConfigProblem(file, "directory", "file", f"no such file: {values['file']}"))
        return
    for key in ("uri", "base_dn"):
        if not values.get(key) and not any(p.section == "directory" and p.key == key for p in problems):
            problems.append(ConfigProblem(file, "directory", key, "required when type = ldap"))
    for key in ("ca_file", "bind_password_file"):
        if values.get(key):
            values[key] = _resolve(base, values[key])
            if not os.path.isfile(values[key]):
                problems.append(ConfigProblem(file, "directory", key, f"no such file: {values[key]}"))
    if values.get("bind_password_file") and not problems:
        values["bind_password"] = Path(values["bind_password_file"]).read_text(encoding="utf-8").strip()


def _check_sieve(file: str, base: Path, values: dict[str, Any], problems: list[ConfigProblem]) -> None:
    values["mail_root"] = (
        _resolve(base, values["mail_root"]) if values.get("mail_root") else os.path.abspath("var/mail")
    )
    for key in ("tls_certificate", "tls_key"):
        if values.get(key):
            values[key] = _resolve(base, values[key])
            if not os.path.isfile(values[key]):
                problems.append(ConfigProblem(file, "sieve", key, f"no such file: {values[key]}"))
    if bool(values.get("tls_certificate")) != bool(values.get("tls_key")):
        problems.append(ConfigProblem(file, "sieve", "tls_key", "tls_certificate and tls_key go together"))
    for key in ("before", "after"):
        paths = tuple(_resolve(base, p) for p in values.get(key, ()))
        values[key] = paths
        problems.extend(
            ConfigProblem(file, "sieve", key, f"no such file: {p}") for p in paths if not os.path.isfile(p)
        )


def load(path: str | os.PathLike[str]) -> Config:
    """Load and check a configuration file.

    Raises:
        ConfigError: with every problem found, each naming the file, the section and the key.
    """
    file = str(path)
    sections = read_sections(path)
    base = Path(file).resolve().parent
    problems: list[ConfigProblem] = []
    parsed = {name: _parse_section(file, name, sections.get(name, {}), problems) for name in SCHEMA}
    _check_directory(file, base, parsed["directory"], problems)
    _check_sieve(file, base, parsed["sieve"], problems)
    queue = parsed["lmtp"].get("queue")
    parsed["lmtp"]["queue"] = (
        _resolve(base, queue) if queue else os.path.join(parsed["sieve"]["mail_root"], ".queue")
    )
    if parsed["sharing"].get("database"):
        parsed["sharing"]["database"] = _resolve(base, parsed["sharing"]["database"])
    if problems:
        raise ConfigError(problems)
    radicale = {name: values for name, values in sections.items() if name not in SCHEMA}
    storage = radicale.get("storage", {})
    for key in ("filesystem_folder", "database"):  # relative paths are relative to this file, like ours
        if storage.get(key):
            storage[key] = _resolve(base, storage[key])
    return Config(
        file,
        DirectoryConfig(**parsed["directory"]),
        AccountsConfig(**parsed["accounts"]),
        radicale,
        SieveConfig(**parsed["sieve"]),
        SharingConfig(**parsed["sharing"]),
        addressbooks=AddressBooksConfig(**parsed["addressbooks"]),
        lmtp=LmtpConfig(**parsed["lmtp"]),
        limits=LimitsConfig(**parsed["limits"]),
        operations=OperationsConfig(**parsed["operations"]),
    )


def database_file(folder: str | None, database: str | None) -> str:
    """The groupware database file: ``[storage] database``, else ``groupware.sqlite`` in ``[storage]
    filesystem_folder`` (``var/collections`` of the current directory by default). Decided here only."""
    if database:
        return str(database)
    return os.path.join(folder or os.path.abspath("var/collections"), "groupware.sqlite")


def storage_database(config: Config) -> str:
    """The groupware database file of ``config`` (:func:`database_file` of its ``[storage]`` section)."""
    section = config.radicale_sections.get("storage", {})
    return database_file(section.get("filesystem_folder"), section.get("database"))
