# SPDX-License-Identifier: GPL-3.0-or-later
"""The directory behind one protocol: people, groups and établissements.

Auth, rights, sharing, address books and ManageSieve see only this module's protocol and dataclasses; LDAP
filters and attribute names stay inside :mod:`groupware.directory.ldap` (RFC 4510-4519, RFC 2798
inetOrgPerson).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["Directory", "Establishment", "Group", "Person", "normalize_dn", "normalize_login"]


def normalize_dn(dn: str) -> str:
    """Return a comparison key for a DN: RDNs stripped of surrounding blanks, case-folded (RFC 4514 §2)."""
    return ",".join(part.strip() for part in dn.split(",")).casefold()


def normalize_login(login: str) -> str:
    """Return the comparison key of a login (uid or mail): trimmed and case-folded."""
    return login.strip().casefold()


@dataclass(frozen=True)
class Person:
    """A member of staff as the directory describes them."""

    uid: str
    dn: str
    display_name: str
    mail: str | None = None
    given_name: str = ""
    surname: str = ""
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    title: str = ""
    establishments: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    groups: frozenset[str] = field(default_factory=frozenset)
    disabled: bool = False
    entry_uuid: str = ""
    #: False for a person on the red list (``[directory] red_list_filter``): they log in, but no book and no
    #: search shows them.
    listed: bool = True


@dataclass(frozen=True)
class Establishment:
    """An établissement: its UAI code, name and département code, and its entry's DN when it has one."""

    uai: str
    name: str
    departement: str
    dn: str = ""


@dataclass(frozen=True)
class Group:
    """A directory group, identified by its full DN (two branches may share a ``cn``)."""

    dn: str
    name: str
    description: str = ""
    category: str = ""
    establishment: str = ""
    members: frozenset[str] = field(default_factory=frozenset)


@runtime_checkable
class Directory(Protocol):
    """What the rest of groupware may ask of a directory.

    Implementations raise :class:`groupware.errors.DirectoryUnavailable` when no server answers,
    :class:`groupware.errors.InvalidCredentials` for an unknown login or a wrong password (indistinguishably),
    and :class:`groupware.errors.AccountDisabled` for a disabled account with the right password.
    """

    def authenticate(self, login: str, password: str) -> Person:
        """Check ``password`` for ``login`` (a uid or a mail address, any case) and return the person."""
        ...

    def find_person(self, login: str) -> Person | None:
        """Return the enabled person whose uid or mail is ``login`` (any case), or ``None``."""
        ...

    def iter_people(self) -> Iterator[Person]:
        """Yield every enabled person who may be listed (not on the red list), page by page."""
        ...

    def iter_groups(self) -> Iterator[Group]:
        """Yield every group with its member DNs."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
