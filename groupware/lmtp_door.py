# SPDX-License-Identifier: GPL-3.0-or-later
"""Composition root of the delivery door: ``groupware.sieve.delivery`` wired to the core from ``[lmtp]``.

* :class:`DirectoryRecipients` fulfils the Sieve module's ``RecipientLookup`` with the directory: an LMTP
  recipient is a person found by mail address (also without a ``+detail``, RFC 5233) or by uid; unknown and
  disabled accounts get 550 5.1.1, a directory outage 451 so that the MTA retries (RFC 5321 §4.2.5);
* :func:`start` runs the LMTP server (RFC 2033) in a thread with its own event loop, delivering into
  ``<[sieve] mail_root>/<user>/Maildir`` with the admin ``before``/``after`` scripts and the user's active script;
* :func:`run_beside` wraps the other doors of ``groupware serve`` so that LMTP starts and stops with them.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from groupware import registry
from groupware.accounts import Accounts
from groupware.config import Config
from groupware.errors import ConfigError, DirectoryUnavailable
from groupware.managesieve_door import HttpServer, admin_script_problems, build_store, site_policy
from groupware.sieve.compile import Program, compile_script
from groupware.sieve.delivery import Delivery, LmtpServer, LmtpSettings, Relay
from groupware.sieve.host import LookupUnavailable, Policy, Recipient

__all__ = ["DirectoryRecipients", "build_delivery", "run_beside", "start"]

log = logging.getLogger("groupware.lmtp")


class DirectoryRecipients:
    """The Sieve module's ``RecipientLookup`` over the accounts' directory (RFC 2033 §4.2 ``RCPT``)."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    def _candidates(self, address: str) -> list[tuple[str, str]]:
        """Logins to try, each with the domain the person must have an address in ("" for none)."""
        local, at, domain = address.rpartition("@") if "@" in address else (address, "", "")
        base = local.split("+", 1)[0]
        found = [(address, "")]
        if base != local:
            found.append((f"{base}@{domain}" if at else base, ""))
        if at:
            found.append((base, domain.lower()))
        return found

    def lookup(self, address: str) -> Recipient | None:
        """The recipient of ``address``, None when unknown or disabled.

        Raises:
            LookupUnavailable: the directory does not answer.
        """
        for login, domain in self._candidates(address.strip()):
            try:
                person = self.accounts.directory.find_person(login)
            except DirectoryUnavailable as exc:
                raise LookupUnavailable(str(exc)) from exc
            if person is None or person.disabled:
                continue
            addresses = tuple(dict.fromkeys(a.lower() for a in (person.mail, *person.emails) if a))
            if domain and not any(a.endswith("@" + domain) for a in addresses):
                continue
            return Recipient(self.accounts.user_name(person), addresses)
        return None


def _admin_programs(paths: tuple[str, ...], policy: Policy) -> list[Program]:
    return [compile_script(Path(path).read_text(encoding="utf-8"), policy) for path in paths]


def build_delivery(config: Config) -> Delivery:
    """Delivery into ``[sieve] mail_root`` with the site policy, admin scripts and ``[lmtp] relay``.

    Raises:
        ConfigError: an admin script does not pass the checks.
    """
    problems = admin_script_problems(config)
    if problems:
        raise ConfigError(problems)
    section = config.lmtp
    policy = site_policy(config.sieve)
    hostname = section.hostname or socket.getfqdn()
    relay = Relay(section.relay[0], section.relay[1], local_hostname=hostname) if section.relay else None
    return Delivery(build_store(config.sieve), policy, _admin_programs(config.sieve.before, policy),
                    _admin_programs(config.sieve.after, policy), relay, section.autocreate, hostname)  # fmt: skip


def start(config: Config, services: registry.Services) -> LmtpServer | None:
    """The LMTP server, listening in a thread of its own, or None when ``[lmtp]`` is not enabled.

    A bad admin script raises ConfigError, an address that cannot be bound OSError.
    """
    section = config.lmtp
    if not section.enabled:
        return None
    delivery = build_delivery(config)
    settings = LmtpSettings(hosts=section.hosts, hostname=delivery.hostname, max_size=section.max_message_size,
                            max_recipients=section.max_recipients or 1000, timeout=section.timeout,
                            workers=max(section.workers, 1))  # fmt: skip
    server = LmtpServer(settings, DirectoryRecipients(services.accounts), delivery)
    server.start_in_thread()
    return server


def run_beside(http: HttpServer, config: Config, inner: Callable[[HttpServer, Config], int]) -> int:
    """Start LMTP, run ``inner`` (the HTTP server and the other doors), stop LMTP when it returns."""
    door: LmtpServer | None = None
    try:
        door = start(config, registry.current())
        return inner(http, config)
    except (ConfigError, OSError) as exc:
        if door is not None:  # raised by the other doors: theirs to report
            raise
        http.close()
        print(f"groupware: cannot start LMTP: {exc}", file=sys.stderr)
        return 1
    finally:
        if door is not None:
            door.stop()
