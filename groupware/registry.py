# SPDX-License-Identifier: GPL-3.0-or-later
"""The running core's services, set up by the composition root and reached by the Radicale adapters.

Radicale builds its plugins itself from dotted names, so they cannot be handed their collaborators; they ask
this registry instead. Only the composition root installs services.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from groupware.accounts import Accounts
from groupware.config import Config
from groupware.directory.cache import CachedDirectory
from groupware.sharing import SharingService

__all__ = ["Services", "clear", "current", "install"]


@dataclass(frozen=True)
class Services:
    """What one running groupware holds: its configuration, directory, accounts and sharing."""

    config: Config
    directory: CachedDirectory
    accounts: Accounts
    sharing: SharingService | None = None


_lock = threading.Lock()
_services: Services | None = None


def install(services: Services) -> None:
    """Make ``services`` the running ones (called by the composition root)."""
    global _services
    with _lock:
        _services = services


def current() -> Services:
    """The running services.

    Raises:
        RuntimeError: groupware was not started through ``groupware serve`` (or ``groupware.server``).
    """
    if _services is None:
        raise RuntimeError("groupware services are not running: start the server with `groupware serve`")
    return _services


def clear() -> None:
    """Forget the running services (tests, shutdown)."""
    global _services
    with _lock:
        _services = None
