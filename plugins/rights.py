# SPDX-License-Identifier: GPL-3.0-or-later
"""Radicale rights adapter: the one place where groupware decides who may do what on which path.

Rules, in order: anonymous gets nothing; the academic books' owner ``/annuaire/`` is read only for everyone,
admins included (the directory is their source: the sync writes them below Radicale); members of the
configured admin group manage everything else; everyone
authenticated may read the root (discovery, RFC 6764 §6); a user has full rights in their own home
``/<user>/`` and the collections directly in it (and may share them when the policy lets people share: ``M``);
on any other collection ``/<owner>/<name>/`` a user has what their most generous grant gives
(:mod:`groupware.sharing`), read from the database on every request, so a revoke counts at once. Everything
else is denied.

Letters per level (RFC 3744 §3 privileges, RFC 4791 §6.1.1): free-busy ``f``; read ``r``; read-write ``rw``;
with ``d``/``o`` (members may not delete or replace the collection itself) and, below manage, ``l`` (nor
change its properties: no ``DAV:write-properties``); manage is ``rw`` and ``M`` (may share further).
Items are judged by the letters of their collection, so a grant covers exactly one collection (unlike a
``groups:`` rule of Radicale's rights file, Radicale issue #1947).
"""

from __future__ import annotations

from radicale import config as radicale_config
from radicale import pathutils
from radicale.rights import BaseRights

from groupware.directory import normalize_dn
from groupware.plugins import services_of
from groupware.sharing import Level

__all__ = ["GRANT_LETTERS", "Rights"]

GRANT_LETTERS = {Level.FREE_BUSY: "f", Level.READ: "rdol", Level.READ_WRITE: "rwdol", Level.MANAGE: "rwdoM"}


class Rights(BaseRights):
    """``[rights] type = groupware.plugins.rights``."""

    def __init__(self, configuration: radicale_config.Configuration) -> None:
        super().__init__(configuration)
        services = services_of(configuration, "rights")
        admin_group = services.config.accounts.admin_group
        self._admin_group = normalize_dn(admin_group) if admin_group else ""
        self._sharing = services.sharing
        books = services.config.addressbooks
        self._books_owner = books.owner if books.enabled else None

    def _is_admin(self, user_groups: set[str]) -> bool:
        return bool(self._admin_group) and any(
            normalize_dn(group) == self._admin_group for group in user_groups
        )

    def authorization(self, user: str, user_groups: set[str], path: str) -> str:
        """Radicale permission letters for ``user`` on the collection ``path`` (RFC 3744 privileges)."""
        if not user:
            return ""
        parts = [part for part in pathutils.strip_path(path).split("/") if part]
        if parts and parts[0] == self._books_owner:
            return self._book_letters(user, user_groups, parts)
        if self._is_admin(user_groups or set()):
            return "RW" if len(parts) <= 1 else "rw"
        if not parts:
            return "R"
        if parts[0] == user:
            own = "rwM" if self._sharing is not None and self._sharing.policy.people_may_share else "rw"
            return {1: "RW", 2: own}.get(len(parts), "")
        if len(parts) != 2 or self._sharing is None:
            return ""
        level = self._sharing.level(
            self._sharing.viewer(user, user_groups or set()), f"/{parts[0]}/{parts[1]}/"
        )
        return GRANT_LETTERS[level] if level is not None else ""

    def _book_letters(self, user: str, user_groups: set[str], parts: list[str]) -> str:
        """Read at most, in the academic books: admins and the owner (as whom Radicale's sharing reads a book
        mapped into a member's home) read them all, others what their grants give."""
        if user == self._books_owner or self._is_admin(user_groups or set()):
            return "R" if len(parts) == 1 else "r"
        if len(parts) != 2 or self._sharing is None:
            return ""
        level = self._sharing.level(
            self._sharing.viewer(user, user_groups or set()), f"/{parts[0]}/{parts[1]}/"
        )
        return GRANT_LETTERS[level].replace("w", "") if level is not None else ""
