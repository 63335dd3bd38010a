# SPDX-License-Identifier: GPL-3.0-or-later
"""The mail rules wired to the core from ``[sieve]`` and ``[lmtp]``: what the ManageSieve and LMTP doors and
the ``groupware sieve`` commands are built from.

* :class:`AccountsAuthenticator` fulfils the Sieve module's ``Authenticator`` protocol with the accounts
  layer, so ManageSieve logins share the DAV door's cache, lockout and disabled accounts; a directory outage
  becomes ``NO (TRYLATER)`` (RFC 5804 §1.3);
* :class:`DirectoryRecipients` fulfils its ``RecipientLookup`` with the directory: an LMTP recipient is a
  person found by mail address (also without a ``+detail``, RFC 5233) or by uid; unknown and disabled accounts
  get 550 5.1.1, a directory outage 451 so that the MTA retries (RFC 5321 §4.2.5);
* :func:`site_policy`, :func:`build_store` and :func:`build_delivery` turn ``[sieve]`` and ``[lmtp]`` into the
  policy, the script store and the delivery that every writer of scripts and the LMTP door use;
  :func:`build_queue` the outgoing queue (RFC 5321 §4.5.4.1) of ``[lmtp] relay`` that delivery sends through
  and that the queue door and ``groupware sieve queue`` flush.
"""

from __future__ import annotations

import logging
import socket
import ssl
from pathlib import Path

from groupware import metrics
from groupware.accounts import Accounts
from groupware.config import Config, SieveConfig
from groupware.errors import AuthenticationError, ConfigError, ConfigProblem, DirectoryUnavailable
from groupware.sieve.checks import check_script, report
from groupware.sieve.compile import Program, compile_script
from groupware.sieve.delivery import Delivery, Incoming, Outcome, OutgoingQueue, Plan, Relay, RetryPolicy
from groupware.sieve.errors import SieveCompileError
from groupware.sieve.host import (
    DEFAULT_EXTENSIONS,
    AuthenticationUnavailable,
    Budget,
    LookupUnavailable,
    Policy,
    Recipient,
)
from groupware.sieve.scripts import Quotas, ScriptStore

__all__ = [
    "AccountsAuthenticator",
    "DirectoryRecipients",
    "admin_script_problems",
    "build_delivery",
    "build_queue",
    "build_store",
    "site_policy",
    "ssl_context",
]

log = logging.getLogger("groupware.managesieve")


class AccountsAuthenticator:
    """The Sieve module's ``Authenticator`` over :class:`~groupware.accounts.Accounts` (RFC 5804 §2.1).

    ``wait=False``: a refusal is answered at once, without ``[accounts] failure_delay``, which the ManageSieve
    server then waits on its event loop (``ServerSettings.failure_delay``), so that failing logins from many
    clients do not hold every worker thread and delay everyone else's.
    """

    def __init__(self, accounts: Accounts, wait: bool = True) -> None:
        self.accounts = accounts
        self.wait = wait

    def authenticate(self, login: str, password: str, authzid: str = "", remote_addr: str = "") -> str | None:
        """The user's name, None when refused; raises AuthenticationUnavailable when the directory is down."""
        try:
            if self.wait:
                account = self.accounts.authenticate(login, password, remote_addr)
            else:
                account = self.accounts.authenticate(login, password, remote_addr, wait=False)
        except DirectoryUnavailable as exc:
            raise AuthenticationUnavailable(str(exc)) from exc
        except AuthenticationError:
            return None
        if authzid and authzid.lower() not in (login.lower(), account.user):
            log.warning("authorization identity refused", extra={"event": "sieve_authzid", "login": login})
            return None
        return account.user


def site_policy(section: SieveConfig) -> Policy:
    """The compile-time policy of ``[sieve]``: extensions, redirects, forwarding domains, vacation period,
    the size of a variable (RFC 5229 §3)."""
    extensions = frozenset(section.extensions) if section.extensions else DEFAULT_EXTENSIONS
    return Policy(
        max_script_size=section.max_script_size or Policy().max_script_size,
        max_redirects=section.max_redirects,
        extensions=extensions,
        redirect_domains=frozenset(d.lower() for d in section.redirect_domains),
        min_vacation_seconds=section.min_vacation_period,
        max_variable_size=section.max_variable_size,
    )


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


def ssl_context(section: SieveConfig) -> ssl.SSLContext | None:
    """The ManageSieve STARTTLS context of ``[sieve] tls_certificate``/``tls_key`` (None without them)."""
    if not section.tls_certificate:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(section.tls_certificate, section.tls_key)
    return context


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


class MeteredDelivery(Delivery):
    """:class:`Delivery` that counts its outcomes and the Sieve actions it carries out
    (:mod:`groupware.metrics`)."""

    def deliver(self, incoming: Incoming, sender: str, address: str, recipient: Recipient) -> Outcome:
        """RFC 2033 §4.2: one outcome per recipient, counted by its class (2xx, 5xx, 4xx)."""
        outcome = super().deliver(incoming, sender, address, recipient)
        kind = {2: "delivered", 5: "rejected"}.get(outcome.code // 100, "deferred")
        metrics.count("groupware_deliveries_total", outcome=kind)
        return outcome

    def planned(self, plan: Plan) -> None:
        """Count each action of the plan: stores by folder kind, redirects, replies, notifications."""
        for mailbox in plan.stores:
            action = "keep" if mailbox == "INBOX" else "fileinto"
            metrics.count("groupware_sieve_actions_total", action=action)
        for action, number in (
            ("redirect", len(plan.redirects)),
            ("vacation", int(plan.vacation is not None)),
            ("notify", len(plan.notifies)),
            ("reject", int(plan.reject is not None)),
            ("failure", len(plan.failures)),
        ):
            for _ in range(number):
                metrics.count("groupware_sieve_actions_total", action=action)


def build_queue(config: Config) -> OutgoingQueue | None:
    """The outgoing queue in ``[lmtp] queue`` sending through ``[lmtp] relay`` with the ``queue_*`` retry
    policy; None without a relay."""
    section = config.lmtp
    if section.relay is None:
        return None
    hostname = section.hostname or socket.getfqdn()
    relay = Relay(section.relay[0], section.relay[1], local_hostname=hostname)
    retry = RetryPolicy(section.queue_retry, section.queue_max_retry, section.queue_lifetime)
    return OutgoingQueue(Path(section.queue), relay, retry, hostname)


def build_delivery(config: Config) -> Delivery:
    """Delivery into ``[sieve] mail_root`` with the site policy, admin scripts and the outgoing queue of
    ``[lmtp] relay`` (:func:`build_queue`); the scripts of one message spend at most ``[sieve] max_cpu_time``
    (over it the message is kept), and MIME is parsed to ``max_mime_depth`` (RFC 2046 §5).

    Raises:
        ConfigError: an admin script does not pass the checks.
    """
    problems = admin_script_problems(config)
    if problems:
        raise ConfigError(problems)
    section = config.lmtp
    policy = site_policy(config.sieve)
    hostname = section.hostname or socket.getfqdn()
    before, after = _admin_programs(config.sieve.before, policy), _admin_programs(config.sieve.after, policy)
    budget = Budget(cpu_seconds=config.sieve.max_cpu_time)
    return MeteredDelivery(
        build_store(config.sieve),
        policy,
        before,
        after,
        autocreate=section.autocreate,
        hostname=hostname,
        budget=budget,
        max_mime_depth=config.sieve.max_mime_depth,
        queue=build_queue(config),
    )
