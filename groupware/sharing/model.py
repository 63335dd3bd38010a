# SPDX-License-Identifier: GPL-3.0-or-later
"""What sharing is made of: levels, grantees, agendas, grants, and the errors of the sharing layer.

Levels map onto RFC 3744 privileges (§3): free-busy is ``CALDAV:read-free-busy`` (RFC 4791 §6.1.1), read is
``DAV:read``, read-write adds ``DAV:write-content`` (and ``DAV:bind``/``DAV:unbind`` for items), manage adds
the right to grant further (``DAV:write-acl`` in spirit, exercised through our own API and Radicale's sharing
API).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from groupware.directory import normalize_dn, normalize_login
from groupware.errors import GroupwareError

__all__ = [
    "Agenda",
    "AgendaExists",
    "Grant",
    "Grantee",
    "GranteeKind",
    "Level",
    "NotAllowed",
    "PolicyViolation",
    "SharedAgenda",
    "SharingError",
    "UnknownAgenda",
    "UnknownGrantee",
    "Viewer",
]


class SharingError(GroupwareError):
    """Base of the sharing layer's errors; ``status`` is the HTTP status an API answers with."""

    status = 400

    def __init_subclass__(cls, status: int = 400, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = status


class UnknownAgenda(SharingError, status=404):
    """No agenda (shareable collection) at that path."""


class UnknownGrantee(SharingError, status=404):
    """The person, group or domain named in a grant does not exist in the directory."""


class AgendaExists(SharingError, status=409):
    """An agenda already exists at that path."""


class PolicyViolation(SharingError, status=403):
    """The grant exceeds what the site's sharing policy allows (``[sharing]`` section)."""


class NotAllowed(SharingError, status=403):
    """The acting user may not change the sharing of that agenda."""


class Level(enum.IntEnum):
    """Grant levels, ordered: the most generous applicable grant wins (a larger value is more generous)."""

    FREE_BUSY = 1
    READ = 2
    READ_WRITE = 3
    MANAGE = 4

    @property
    def label(self) -> str:
        """The level's name in the configuration, the CLI and the API: ``free-busy``, ``read``, …"""
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, text: str) -> Level:
        """The level named ``text`` (``free-busy``, ``read``, ``read-write``, ``manage``; ``_`` accepted).

        Raises:
            SharingError: the name is not a level.
        """
        key = text.strip().upper().replace("-", "_")
        if key in cls.__members__:
            return cls[key]
        names = ", ".join(level.label for level in cls)
        raise SharingError(f"unknown level {text!r}: one of {names}")


class GranteeKind(enum.StrEnum):
    """Who a grant is for: one person, every member of a directory group, or everyone of a mail domain."""

    PERSON = "person"
    GROUP = "group"
    DOMAIN = "domain"


@dataclass(frozen=True)
class Grantee:
    """A person (user name), a group (normalized full DN) or a whole domain (lower-case, no ``@``)."""

    kind: GranteeKind
    value: str

    @classmethod
    def parse(cls, text: str) -> Grantee:
        """Read ``person:<uid>``, ``group:<dn>``, ``domain:<domain>``, or guess: ``@domain``, a DN, a uid."""
        text = text.strip()
        kind, sep, rest = text.partition(":")
        if sep and kind in {k.value for k in GranteeKind}:
            return cls.of(GranteeKind(kind), rest)
        if text.startswith("@"):
            return cls.of(GranteeKind.DOMAIN, text[1:])
        if "=" in text:
            return cls.of(GranteeKind.GROUP, text)
        return cls.of(GranteeKind.PERSON, text)

    @classmethod
    def of(cls, kind: GranteeKind, value: str) -> Grantee:
        """The grantee with its value normalized for comparisons (RFC 4514 §2 for DNs)."""
        value = value.strip()
        if kind is GranteeKind.GROUP:
            return cls(kind, normalize_dn(value))
        if kind is GranteeKind.DOMAIN:
            return cls(kind, value.lstrip("@").casefold())
        return cls(kind, normalize_login(value))

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value}"


@dataclass(frozen=True)
class Viewer:
    """Whoever asks: a user name, their groups (normalized DNs) and their mail domain (if known)."""

    user: str
    groups: frozenset[str] = frozenset()
    domain: str = ""

    @classmethod
    def of(
        cls, user: str, groups: set[str] | frozenset[str] = frozenset(), mail: str | None = None
    ) -> Viewer:
        """Build a viewer from a login's user name, group DNs and mail address."""
        domain = mail.rpartition("@")[2].casefold() if mail and "@" in mail else ""
        return cls(normalize_login(user), frozenset(normalize_dn(g) for g in groups), domain)


@dataclass(frozen=True)
class Agenda:
    """A shareable calendar collection: a person's own, or one owned by an organisation (``kind``).

    ``path`` is the collection path (``/etab-0341234A/direction/``), ``owner`` its first segment, ``slug`` the
    name under which it appears in members' homes, ``title`` the display name members see.
    """

    path: str
    owner: str
    kind: str
    title: str
    slug: str
    created: int


@dataclass(frozen=True)
class Grant:
    """One grant of ``level`` on the agenda at ``path`` to ``grantee``."""

    path: str
    grantee: Grantee
    level: Level
    granted_by: str
    created: int


@dataclass(frozen=True)
class SharedAgenda:
    """An agenda as one viewer sees it: the agenda and the most generous level that applies."""

    agenda: Agenda
    level: Level
