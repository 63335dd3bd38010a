# SPDX-License-Identifier: GPL-3.0-or-later
"""Radicale rights adapter: the one place where groupware decides who may do what on which path.

Rules, in order: anonymous gets nothing; members of the configured admin group manage everything; everyone
authenticated may read the root (discovery, RFC 6764 §6); a user has full rights in their own home ``/<user>/`` and
the collections directly in it; everything else is denied. Later rules (shared agendas, academic address books)
are added here.
"""

from __future__ import annotations

from radicale import config as radicale_config
from radicale import pathutils
from radicale.rights import BaseRights

from groupware import registry
from groupware.directory import normalize_dn

__all__ = ["Rights"]


class Rights(BaseRights):
    """``[rights] type = groupware.plugins.rights``."""

    def __init__(self, configuration: radicale_config.Configuration) -> None:
        super().__init__(configuration)
        admin_group = registry.current().config.accounts.admin_group
        self._admin_group = normalize_dn(admin_group) if admin_group else ""

    def _is_admin(self, user_groups: set[str]) -> bool:
        return bool(self._admin_group) and any(normalize_dn(group) == self._admin_group for group in user_groups)

    def authorization(self, user: str, user_groups: set[str], path: str) -> str:
        """Radicale permission letters for ``user`` on the collection ``path`` (RFC 3744 privileges, mapped)."""
        if not user:
            return ""
        parts = [part for part in pathutils.strip_path(path).split("/") if part]
        if self._is_admin(user_groups or set()):
            return "RW" if len(parts) <= 1 else "rw"
        if not parts:
            return "R"
        if parts[0] != user:
            return ""
        return {1: "RW", 2: "rw"}.get(len(parts), "")
