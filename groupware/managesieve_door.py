# SPDX-License-Identifier: GPL-3.0-or-later
"""Composition root of the ManageSieve door: ``groupware.sieve`` wired to the core from ``[sieve]``.

* :class:`AccountsAuthenticator` fulfils the Sieve module's ``Authenticator`` protocol with the accounts layer, so
  ManageSieve logins share the DAV door's cache, lockout and disabled accounts; a directory outage becomes
  ``NO (TRYLATER)`` (RFC 5804 §1.3);
* :func:`site_policy` and :func:`build_store` turn ``[sieve]`` into the policy and the script store that every
  writer of scripts uses (ManageSieve and ``groupware sieve put|vacation``);
* :func:`start` runs the ManageSieve server in a thread with its own event loop, beside the HTTP server;
* :func:`cli` is ``groupware sieve list|show|put|activate|deactivate|delete|vacation [--config FILE] USER …``.
"""

from __future__ import annotations

import argparse
import logging
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from groupware import config as config_module
from groupware import registry
from groupware.accounts import Accounts
from groupware.config import Config, SieveConfig
from groupware.errors import AuthenticationError, ConfigError, ConfigProblem, DirectoryUnavailable
from groupware.sieve import manage
from groupware.sieve.checks import check_script, report
from groupware.sieve.errors import SieveCompileError
from groupware.sieve.host import DEFAULT_EXTENSIONS, AuthenticationUnavailable, Policy
from groupware.sieve.managesieve import Capabilities, ManageSieveServer, ServerSettings, Session
from groupware.sieve.scripts import Quotas, ScriptStore

__all__ = [
    "AccountsAuthenticator",
    "admin_script_problems",
    "build_store",
    "cli",
    "handles",
    "run_beside",
    "site_policy",
    "start",
]

log = logging.getLogger("groupware.managesieve")


class HttpServer(Protocol):
    """What :func:`run_beside` needs of the HTTP server (``groupware.serving.Server``)."""

    def run(self) -> None: ...

    def close(self) -> None: ...


class AccountsAuthenticator:
    """The Sieve module's ``Authenticator`` over :class:`~groupware.accounts.Accounts` (RFC 5804 §2.1)."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    def authenticate(self, login: str, password: str, authzid: str = "", remote_addr: str = "") -> str | None:
        """The user's name, None when refused; raises AuthenticationUnavailable when the directory is down."""
        try:
            account = self.accounts.authenticate(login, password, remote_addr)
        except DirectoryUnavailable as exc:
            raise AuthenticationUnavailable(str(exc)) from exc
        except AuthenticationError:
            return None
        if authzid and authzid.lower() not in (login.lower(), account.user):
            log.warning("authorization identity refused", extra={"event": "sieve_authzid", "login": login})
            return None
        return account.user


def site_policy(section: SieveConfig) -> Policy:
    """The compile-time policy of ``[sieve]``: extensions, redirects, forwarding domains, vacation period."""
    extensions = frozenset(section.extensions) if section.extensions else DEFAULT_EXTENSIONS
    return Policy(max_script_size=section.max_script_size or Policy.max_script_size,
                  max_redirects=section.max_redirects, extensions=extensions,
                  redirect_domains=frozenset(d.lower() for d in section.redirect_domains),
                  min_vacation_seconds=section.min_vacation_period)  # fmt: skip


def build_store(section: SieveConfig) -> ScriptStore:
    """The script store under ``mail_root`` with the quotas, checking every script against the site policy."""
    policy = site_policy(section)

    def check(name: str, text: str) -> None:
        check_script(text, policy)

    quotas = Quotas(section.max_scripts, section.max_script_size, section.max_storage)
    return ScriptStore(Path(section.mail_root), quotas, check)


def admin_script_problems(config: Config) -> list[ConfigProblem]:
    """The admin scripts (``before``/``after``) are checked like users' scripts: one problem per error."""
    policy = site_policy(config.sieve)
    problems = []
    for key in ("before", "after"):
        for path in getattr(config.sieve, key):
            try:
                check_script(Path(path).read_text(encoding="utf-8"), policy)
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(ConfigProblem(config.path, "sieve", key, f"{path}: {exc}"))
            except SieveCompileError as exc:
                text = report(Path(path).stem, exc).replace("\r\n", "; ").rstrip("; ")
                problems.append(ConfigProblem(config.path, "sieve", key, text))
    return problems


def _ssl_context(section: SieveConfig) -> ssl.SSLContext | None:
    if not section.tls_certificate:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(section.tls_certificate, section.tls_key)
    return context


def start(config: Config, services: registry.Services) -> ManageSieveServer | None:
    """Start the ManageSieve server in its own thread when ``[sieve] enabled``; None otherwise.

    Raises:
        ConfigError: an admin script does not pass the checks.
        OSError: an address cannot be bound.
    """
    section = config.sieve
    if not section.enabled:
        return None
    problems = admin_script_problems(config)
    if problems:
        raise ConfigError(problems)
    store = build_store(section)
    authenticator = AccountsAuthenticator(services.accounts)
    context = _ssl_context(section)
    policy = site_policy(section)
    caps = Capabilities(policy.extensions, policy.max_redirects, tls_available=context is not None,
                        allow_plaintext=section.allow_plaintext)  # fmt: skip
    settings = ServerSettings(hosts=section.hosts, ssl_context=context, idle_timeout=section.idle_timeout,
                              max_literal=max(section.max_script_size, 1024))  # fmt: skip

    def session(remote_addr: str) -> Session:
        return Session(store, authenticator, caps, remote_addr)

    server = ManageSieveServer(settings, session)
    server.start_in_thread()
    return server


def cli(argv: Sequence[str]) -> int:
    """``groupware sieve COMMAND [--config FILE] USER …`` on the store of the configuration's ``[sieve]``."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config", default=str(config_module.DEMO_CONFIG))
    known, rest = parser.parse_known_args(list(argv))
    try:
        loaded = config_module.load(known.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return manage.main(rest, build_store(loaded.sieve))


def handles(argv: Sequence[str]) -> bool:
    """Whether ``groupware sieve ARGV`` is a store command (the others are the engine's check and test)."""
    return bool(argv) and argv[0] in manage.COMMANDS


def run_beside(http: HttpServer, config: Config) -> int:
    """Run the HTTP server in this thread with the ManageSieve door beside it; stop both on Ctrl-C."""
    try:
        door = start(config, registry.current())
    except (ConfigError, OSError) as exc:
        http.close()
        print(f"groupware: cannot start ManageSieve: {exc}", file=sys.stderr)
        return 1
    try:
        http.run()
    finally:
        if door is not None:
            door.stop()
            log.info("ManageSieve stopped", extra={"event": "stopped"})
    return 0
