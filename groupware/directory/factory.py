# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the configured directory: LDIF file or LDAP server, wrapped in the TTL cache."""

from __future__ import annotations

from groupware.config import DirectoryConfig
from groupware.directory import Directory
from groupware.directory.cache import CachedDirectory

__all__ = ["open_directory"]


def open_directory(config: DirectoryConfig) -> CachedDirectory:
    """Return the directory that ``config`` describes, behind a :class:`CachedDirectory`."""
    inner: Directory
    if config.type == "ldap":
        from groupware.directory.ldap import LdapDirectory

        inner = LdapDirectory(config)
    else:
        from groupware.directory.ldif import LdifDirectory

        inner = LdifDirectory(config)
    return CachedDirectory(inner, config.cache_ttl)
