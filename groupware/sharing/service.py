# SPDX-License-Identifier: GPL-3.0-or-later
"""Sharing as the rest of groupware sees it: who may see which agenda at which level, and who may change that.

Checks every name against the directory (unknown people, groups or domains are refused with a clear error),
applies the site's policy, and decides who may grant: members of the admin group on every agenda, owners on
their own calendars (when the policy lets people share), holders of the manage level on that agenda (RFC 3744
§3.12 ``DAV:write-acl``, in spirit). Storage is reached through two callbacks the composition root provides,
so this module knows nothing of Radicale.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from groupware.directory import Group, Person, normalize_dn
from groupware.sharing.database import SharingDatabase
from groupware.sharing.model import (
    Agenda,
    Grant,
    Grantee,
    GranteeKind,
    Level,
    NotAllowed,
    SharedAgenda,
    SharingError,
    UnknownAgenda,
    UnknownGrantee,
    Viewer,
)
from groupware.sharing.policy import SharingPolicy

__all__ = ["AgendaStore", "Directory", "SharingService", "agenda_path"]

ORGANISATION = "organisation"
PERSON = "person"


class Directory(Protocol):
    """What sharing asks of the directory (any :class:`groupware.directory.Directory` fits)."""

    def find_person(self, login: str) -> Person | None:
        """The enabled person with this uid or mail."""
        ...

    def iter_groups(self) -> Iterator[Group]:
        """Every group."""
        ...


@dataclass(frozen=True)
class AgendaStore:
    """Callbacks into storage: create a calendar collection (path, display name), delete a collection, and
    tell whether a collection exists. Provided by the composition root."""

    create: Callable[[str, str], None]
    delete: Callable[[str], None]
    exists: Callable[[str], bool]


def agenda_path(path: str) -> str:
    """``/owner/name/`` from ``owner/name``, ``/owner/name`` …

    Raises:
        SharingError: the path is not two segments (an owner and a collection).
    """
    parts = [part for part in path.strip().split("/") if part]
    if len(parts) != 2 or any(part in (".", "..") or part.startswith(".") for part in parts):
        raise SharingError(f"an agenda path is /<owner>/<name>/, not {path!r}")
    return f"/{parts[0]}/{parts[1]}/"


class SharingService:
    """Agendas, grants and the questions rights and listings ask, over one :class:`SharingDatabase`."""

    def __init__(
        self,
        database: SharingDatabase,
        directory: Directory,
        policy: SharingPolicy | None = None,
        admin_group: str = "",
        user_name: Callable[[Person], str] | None = None,
        store: AgendaStore | None = None,
        domain_ttl: float = 300.0,
    ) -> None:
        self.db = database
        self.directory = directory
        self.policy = policy or SharingPolicy()
        self.admin_group = normalize_dn(admin_group) if admin_group else ""
        self._user_name = user_name or (lambda person: person.uid.lower())
        self.store = store
        self._domains: dict[str, tuple[float, str]] = {}
        self._domain_ttl = domain_ttl

    # Viewers
    # -------------------------------------------------------------------------------------------------
    def viewer(self, user: str, groups: set[str] | frozenset[str] = frozenset()) -> Viewer:
        """The viewer for a logged-in user; their mail domain comes from the directory (remembered briefly:
        domains do not change, grants are never remembered)."""
        now = time.monotonic()
        known = self._domains.get(user)
        if known is None or now - known[0] > self._domain_ttl:
            person = self.directory.find_person(user)
            known = (now, person.mail if person is not None and person.mail else "")
            self._domains[user] = known
        return Viewer.of(user, groups, known[1])

    def is_admin(self, groups: set[str] | frozenset[str]) -> bool:
        """Whether ``groups`` include the admin group."""
        return bool(self.admin_group) and any(normalize_dn(g) == self.admin_group for g in groups)

    def level(self, viewer: Viewer, path: str) -> Level | None:
        """The most generous level ``viewer`` holds on the agenda at ``path`` (owners hold none: they own
        it).
        """
        return self.db.level(path, viewer)

    def shared_with(self, viewer: Viewer) -> list[SharedAgenda]:
        """The agendas shared with ``viewer``, most generous level each."""
        return self.db.shared_with(viewer)

    # Names
    # ---------------------------------------------------------------------------------------------------
    def resolve_grantee(self, text: str) -> Grantee:
        """Parse and check a grantee against the directory.

        Raises:
            UnknownGrantee: no such person or group, or a malformed domain.
        """
        grantee = Grantee.parse(text)
        if grantee.kind is GranteeKind.PERSON:
            person = self.directory.find_person(grantee.value)
            if person is None:
                raise UnknownGrantee(f"unknown person {grantee.value!r}")
            return Grantee(GranteeKind.PERSON, self._user_name(person))
        if grantee.kind is GranteeKind.GROUP:
            if self.find_group(grantee.value) is None:
                raise UnknownGrantee(f"unknown group {grantee.value!r}")
            return grantee
        labels = grantee.value.split(".")
        if len(labels) < 2 or not all(label and label.replace("-", "").isalnum() for label in labels):
            raise UnknownGrantee(f"invalid domain {grantee.value!r}")
        return grantee

    def find_group(self, dn: str) -> Group | None:
        """The directory group with this DN (compared normalized)."""
        key = normalize_dn(dn)
        return next((group for group in self.directory.iter_groups() if normalize_dn(group.dn) == key), None)

    # Changes
    # -------------------------------------------------------------------------------------------------
    def may_manage(self, actor: str, groups: set[str] | frozenset[str], path: str) -> bool:
        """Whether ``actor`` may grant and revoke on the agenda at ``path``."""
        if self.is_admin(groups):
            return True
        owner = path.strip("/").split("/")[0]
        if owner == actor:
            return self.policy.people_may_share
        return self.level(self.viewer(actor, groups), path) == Level.MANAGE

    def create_agenda(self, path: str, title: str, kind: str = ORGANISATION) -> Agenda:
        """Create an agenda owned by an organisation (or register a person's calendar) and its collection.

        Raises:
            AgendaExists: one is registered at ``path``.
            SharingError: an organisation agenda under a person's home.
        """
        path = agenda_path(path)
        if kind == ORGANISATION and self.directory.find_person(path.split("/")[1]) is not None:
            raise SharingError(
                f"{path.split('/')[1]} is a person's home: organisation agendas need their own owner "
                "name (e.g. /etab-0341234A/direction/)"
            )
        agenda = self.db.create_agenda(path, path.split("/")[1], kind, title)
        if self.store is not None and kind == ORGANISATION and not self.store.exists(path):
            try:
                self.store.create(path, title)
            except Exception:
                self.db.delete_agenda(path)
                raise
        return agenda

    def register_own(self, path: str, owner: Person | None, collection_title: str) -> Agenda:
        """The agenda for a person's own calendar at ``path``, registered on its first share."""
        path = agenda_path(path)
        found = self.db.agenda(path)
        if found is not None:
            return found
        whose = owner.display_name if owner is not None else path.split("/")[1]
        return self.db.create_agenda(
            path, path.split("/")[1], PERSON, f"{collection_title or 'Agenda'} ({whose})"
        )

    def delete_agenda(self, path: str, delete_collection: bool = True) -> None:
        """Delete an agenda, its grants and (for organisation agendas) its collection."""
        agenda = self.db.require_agenda(agenda_path(path))
        self.db.delete_agenda(agenda.path)
        if delete_collection and self.store is not None and agenda.kind == ORGANISATION:
            self.store.delete(agenda.path)

    def grant(
        self,
        actor: str,
        groups: set[str] | frozenset[str],
        path: str,
        grantee_text: str,
        level: Level | str,
        as_admin: bool = False,
    ) -> Grant:
        """Give a grantee a level on an agenda, as ``actor`` (``as_admin``: the operator's command line),
        within the policy.

        Raises:
            UnknownAgenda, UnknownGrantee, PolicyViolation, NotAllowed
        """
        path = agenda_path(path)
        self.db.require_agenda(path)
        level = level if isinstance(level, Level) else Level.parse(level)
        if not as_admin and not self.may_manage(actor, groups, path):
            raise NotAllowed(f"{actor} may not share {path}")
        grantee = self.resolve_grantee(grantee_text)
        self.policy.check(grantee, level)
        return self.db.grant(path, grantee, level, actor)

    def revoke(
        self,
        actor: str,
        groups: set[str] | frozenset[str],
        path: str,
        grantee_text: str,
        as_admin: bool = False,
    ) -> None:
        """Remove a grant, as ``actor``.

        Raises:
            UnknownAgenda, NotAllowed, UnknownGrantee (no such grant)
        """
        path = agenda_path(path)
        self.db.require_agenda(path)
        if not as_admin and not self.may_manage(actor, groups, path):
            raise NotAllowed(f"{actor} may not change the sharing of {path}")
        grantee = Grantee.parse(grantee_text)
        if not self.db.revoke(path, grantee):
            raise UnknownGrantee(f"{grantee} holds no grant on {path}")

    def show(self, path: str) -> tuple[Agenda, list[Grant]]:
        """An agenda and its grants.

        Raises:
            UnknownAgenda: none at ``path``.
        """
        agenda = self.db.require_agenda(agenda_path(path))
        return agenda, self.db.grants(agenda.path)

    def require(self, path: str) -> Agenda:
        """The agenda at ``path``, or :class:`UnknownAgenda`."""
        try:
            return self.db.require_agenda(agenda_path(path))
        except SharingError as exc:
            raise UnknownAgenda(str(exc)) from exc
