# SPDX-License-Identifier: GPL-3.0-or-later
"""The services of one running groupware, built once from the configuration and handed to every door.

One directory (with its cache), one accounts layer (login policy, lockouts counted in the database), one
sharing service, and one :class:`~groupware.store.database.Database` (the groupware database file) shared by
the lockouts, the sharing tables and the storage engine (the storage plugin opens its store on
:attr:`Services.database`): one connection per thread for all three. The DAV application receives them as an
argument, Radicale's plugins through their configuration sections (:mod:`groupware.dav.configuration`), the
ManageSieve and LMTP doors and the address-book sync from the supervisor: nothing is looked up in a
process-wide registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from groupware.accounts import Accounts
from groupware.accounts.lockouts import DatabaseThrottle
from groupware.config import Config, storage_database
from groupware.directory.cache import CachedDirectory
from groupware.directory.factory import open_directory
from groupware.sharing import SharingDatabase, SharingPolicy, SharingService
from groupware.store.database import Database

__all__ = ["Services", "build_services", "build_sharing"]


@dataclass(frozen=True)
class Services:
    """What one running groupware holds: its configuration, database, directory, accounts and sharing."""

    config: Config
    database: Database
    directory: CachedDirectory
    accounts: Accounts
    sharing: SharingService

    def close(self) -> None:
        """Release the directory's connections and the database's (the server is stopping)."""
        self.directory.close()
        self.sharing.db.close()
        self.database.close()


def build_sharing(
    config: Config, directory: CachedDirectory, accounts: Accounts, database: Database
) -> SharingService:
    """The sharing service with the ``[sharing]`` policy, its tables in ``[sharing] database`` when set, else
    in ``database`` (its storage callbacks are attached by the DAV application)."""
    policy = SharingPolicy.from_options(
        {
            "max_person_level": config.sharing.max_person_level,
            "max_group_level": config.sharing.max_group_level,
            "max_domain_level": config.sharing.max_domain_level,
            "people_may_share": config.sharing.people_may_share,
        }
    )
    tables = SharingDatabase(config.sharing.database or database)
    return SharingService(tables, directory, policy, config.accounts.admin_group, accounts.user_name)


def build_services(config: Config) -> Services:
    """Open the directory and the groupware database, and build the accounts and sharing services on them.

    Lockouts are counted in the groupware database, so that every worker process of ``groupware serve`` and
    every door (DAV, ManageSieve, the web) count the same failures.
    """
    directory = open_directory(config.directory)
    storage = config.radicale_sections.get("storage", {})
    database = Database(
        storage_database(config),
        synchronous=str(storage.get("synchronous") or "FULL"),
        busy_timeout=float(storage.get("busy_timeout") or 30),
    )
    throttle = DatabaseThrottle(database, config.accounts.failure_window, config.accounts.lockout)
    accounts = Accounts(directory, config.accounts, throttle=throttle)
    sharing = build_sharing(config, directory, accounts, database)
    return Services(config, database, directory, accounts, sharing)
