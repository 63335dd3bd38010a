# SPDX-License-Identifier: GPL-3.0-or-later
"""Radicale auth adapter: logins go through the groupware accounts layer (directory, cache, lockout).

Radicale's own login cache is off for third-party auth types; ours lives in :mod:`groupware.accounts`. A
directory outage for a login not in the cache raises :class:`groupware.errors.DirectoryUnavailable`, which the
composition root answers with ``503 Service Unavailable`` and ``Retry-After``.
"""

from __future__ import annotations

import time

from radicale import config as radicale_config
from radicale.auth import AuthContext, BaseAuth
from radicale.log import logger

from groupware.errors import AuthenticationError
from groupware.plugins import services_of
from groupware.sharing import PERSON

__all__ = ["RESERVED_TTL", "Auth"]

#: Seconds a login's "is it a reserved owner name" answer is kept.
RESERVED_TTL = 30.0


class Auth(BaseAuth):
    """``[auth] type = groupware.plugins.auth``."""

    def __init__(self, configuration: radicale_config.Configuration) -> None:
        super().__init__(configuration)
        services = services_of(configuration, "auth")
        self._accounts = services.accounts
        self._sharing = services.sharing
        self._book_owner = services.config.addressbooks.owner
        self._reserved_cache: dict[str, tuple[bool, float]] = {}

    def _login_ext_with_groups(self, login: str, password: str, context: AuthContext) -> tuple[str, set[str]]:
        """Return ``(user, group DNs)``, or ``("", set())`` for a refused login."""
        try:
            account = self._accounts.authenticate(login, password, context.remote_addr or "")
        except AuthenticationError:
            return "", set()
        if self._reserved(account.user):
            logger.warning(
                "login refused: %r names the address books or an organisation's agendas", account.user
            )
            return "", set()
        return account.user, set(account.groups)

    def _reserved(self, user: str) -> bool:
        """Whether ``user`` is the owner name of the academic address books or of an organisation's agendas:
        such a login would own their collections (``/annuaire/``, ``/etab-0341234A/``), so it is refused.

        The answer is kept for :data:`RESERVED_TTL` seconds, like a login in the accounts cache: asking the
        database on every request cost a fifth of the server's time under load.
        """
        if user == self._book_owner:
            return True
        if self._sharing is None:
            return False
        now = time.monotonic()
        known = self._reserved_cache.get(user)
        if known is not None and now - known[1] < RESERVED_TTL:
            return known[0]
        reserved = any(agenda.kind != PERSON for agenda in self._sharing.db.agendas(owner=user))
        if len(self._reserved_cache) > 10000:
            self._reserved_cache.clear()
        self._reserved_cache[user] = (reserved, now)
        return reserved
