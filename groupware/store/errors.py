# SPDX-License-Identifier: GPL-3.0-or-later
"""Errors of the storage engine.

:class:`UidConflict` and :class:`UnknownSyncToken` also derive from :class:`ValueError`, the exception
Radicale's application turns into a client error (``400`` for a refused upload, ``403 DAV:valid-sync-token``
for a sync token, RFC 6578 §3.2).
"""

from __future__ import annotations

from groupware.errors import GroupwareError

__all__ = ["CollectionNotFound", "StoreBusy", "StoreError", "UidConflict", "UnknownSyncToken"]


class StoreError(GroupwareError):
    """Base of the storage engine's errors."""


class CollectionNotFound(StoreError, LookupError):
    """No collection at the given path."""

    def __init__(self, path: str) -> None:
        super().__init__(f"no collection at {path!r}")
        self.path = path


class UidConflict(StoreError, ValueError):
    """Another item of the collection already has this UID (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1)."""

    def __init__(self, path: str, uid: str, href: str) -> None:
        super().__init__(f"UID {uid!r} is already used by {href!r} in {path!r}")
        self.path, self.uid, self.href = path, uid, href


class UnknownSyncToken(StoreError, ValueError):
    """The sync token was not issued for this collection, or no longer describes a known state (RFC 6578
    §3.2)."""

    def __init__(self, token: str, reason: str) -> None:
        super().__init__(f"unknown sync token {token!r}: {reason}")
        self.token = token


class StoreBusy(StoreError):
    """The database's write lock stayed taken for the whole ``busy_timeout`` (other writers, a backup): the
    request may be retried later (``retry_after`` seconds)."""

    def __init__(self, path: str, retry_after: int = 5) -> None:
        super().__init__(f"the database {path!r} is busy")
        self.path = path
        self.retry_after = retry_after
