# SPDX-License-Identifier: GPL-3.0-or-later
"""Radicale auth adapter: logins go through the groupware accounts layer (directory, cache, lockout).

Radicale's own login cache is off for third-party auth types; ours lives in :mod:`groupware.accounts`. A directory
outage for a login not in the cache raises :class:`groupware.errors.DirectoryUnavailable`, which the composition
root answers with ``503 Service Unavailable`` and ``Retry-After``.
"""

from __future__ import annotations

from radicale import config as radicale_config
from radicale.auth import AuthContext, BaseAuth

from groupware import registry
from groupware.errors import AuthenticationError

__all__ = ["Auth"]


class Auth(BaseAuth):
    """``[auth] type = groupware.plugins.auth``."""

    def __init__(self, configuration: radicale_config.Configuration) -> None:
        super().__init__(configuration)
        self._accounts = registry.current().accounts

    def _login_ext_with_groups(self, login: str, password: str, context: AuthContext) -> tuple[str, set[str]]:
        """Return ``(user, group DNs)``, or ``("", set())`` for a refused login."""
        try:
            account = self._accounts.authenticate(login, password, context.remote_addr or "")
        except AuthenticationError:
            return "", set()
        return account.user, set(account.groups)
