# SPDX-License-Identifier: GPL-3.0-or-later
"""Every problem of a configuration file, as ``groupware check-config`` and ``groupware serve`` report them:
our sections (:mod:`groupware.config`), Radicale's (:mod:`groupware.dav.configuration`), ``[server] workers``
and trusted proxies, the address books' vCard mapping, the admin Sieve scripts (checked like users' scripts)
and the doors that cannot work (a ManageSieve nobody can log in to); then what may be meant but deserves a
warning (rules' mail with no relay to send it), and for ``check-config --online`` whether the directory and
the relay answer."""

from __future__ import annotations

import ipaddress
import smtplib
import socket
from dataclasses import dataclass

from groupware import config as config_module
from groupware.addressbooks.mapping import mapping_from
from groupware.dav.configuration import check_radicale_sections
from groupware.dav.forwarded import proxies_from
from groupware.directory.factory import open_directory
from groupware.errors import ConfigError, ConfigProblem, GroupwareError
from groupware.runtime.mail import admin_script_problems, site_policy
from groupware.runtime.workers import worker_count

__all__ = [
    "OnlineCheck",
    "configuration_problems",
    "configuration_warnings",
    "door_problems",
    "mapping_problems",
    "online_checks",
    "runtime_option_problems",
]


def runtime_option_problems(path: str, radicale_sections: dict[str, dict[str, str]]) -> list[ConfigProblem]:
    """Problems of the options the runtime keeps in Radicale's sections (``[server] workers``,
    ``trusted_proxies``, ``forwarded_headers``)."""
    server = radicale_sections.get("server", {})
    problems = []
    try:
        proxies_from(server)
    except ValueError as exc:
        key, _, reason = str(exc).partition(": ")
        problems.append(ConfigProblem(path, "server", key, f"invalid value {server.get(key)!r}: {reason}"))
    workers = server.get("workers")
    if workers is None:
        return problems
    try:
        worker_count(workers)
    except ValueError as exc:
        problems.append(ConfigProblem(path, "server", "workers", f"invalid value {workers!r}: {exc}"))
    return problems


def mapping_problems(path: str, config: config_module.Config) -> list[ConfigProblem]:
    """Problems of ``[addressbooks] mapping``: properties and person fields that do not exist."""
    try:
        mapping_from(config.addressbooks.mapping)
    except ValueError as exc:
        return [ConfigProblem(path, "addressbooks", "mapping", f"invalid value: {exc}")]
    return []


def configuration_problems(path: str) -> list[ConfigProblem]:
    """One problem per key (file, section, key, message); empty when the file is fine."""
    try:
        sections = config_module.read_sections(path)
    except ConfigError as exc:
        return exc.problems
    ours = set(config_module.SCHEMA)
    radicale_sections = {k: v for k, v in sections.items() if k not in ours}
    problems = check_radicale_sections(path, radicale_sections) + runtime_option_problems(
        path, radicale_sections
    )
    try:
        loaded = config_module.load(path)
        problems += mapping_problems(path, loaded) + admin_script_problems(loaded)
        problems += door_problems(loaded)
    except ConfigError as exc:
        problems = exc.problems + problems
    return problems


def door_problems(config: config_module.Config) -> list[ConfigProblem]:
    """Doors that are enabled but cannot work: a ManageSieve with neither STARTTLS (``tls_certificate``) nor
    ``allow_plaintext``, where every login would be refused (RFC 5804 §2.1: no SASL mechanism offered)."""
    sieve = config.sieve
    if sieve.enabled and not sieve.tls_certificate and not sieve.allow_plaintext:
        return [
            ConfigProblem(
                config.path,
                "sieve",
                "tls_certificate",
                "ManageSieve is enabled but nobody could log in: no tls_certificate and tls_key for "
                "STARTTLS, and allow_plaintext = false refuses logins without TLS; set the certificate, or "
                "allow_plaintext = true on loopback only, or enabled = false",
            )
        ]
    return []


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def configuration_warnings(path: str) -> list[ConfigProblem]:
    """What works but is probably not meant: the rules' outgoing mail with no relay, plaintext logins on a
    non-loopback address. Empty when the file cannot be loaded (its problems say why)."""
    try:
        config = config_module.load(path)
    except ConfigError:
        return []
    warnings = []
    policy = site_policy(config.sieve)
    sending = [
        name
        for name, allowed in (
            ("redirect", policy.max_redirects > 0),
            ("vacation", "vacation" in policy.extensions),
            ("notify", "enotify" in policy.extensions),
        )
        if allowed
    ]
    if config.lmtp.enabled and config.lmtp.relay is None and sending:
        warnings.append(
            ConfigProblem(
                path,
                "lmtp",
                "relay",
                f"no relay: the {', '.join(sending)} actions of people's rules are logged and dropped (a "
                "redirected message is kept in INBOX); set relay = host:port",
            )
        )
    sieve = config.sieve
    if sieve.enabled and sieve.allow_plaintext and not all(_loopback(h) for h, _ in sieve.hosts):
        warnings.append(
            ConfigProblem(
                path,
                "sieve",
                "allow_plaintext",
                "passwords may travel in clear: ManageSieve listens beyond loopback with plaintext allowed",
            )
        )
    return warnings


@dataclass(frozen=True)
class OnlineCheck:
    """The outcome of trying one service the configuration names."""

    what: str
    ok: bool
    detail: str


def _try_directory(config: config_module.Config) -> OnlineCheck:
    section = config.directory
    if section.type == "ldap":
        what = f"directory {' '.join(section.uri)} as {section.bind_dn or 'anonymous'}"
    else:
        what = f"directory {section.file}"
    directory = open_directory(section)
    try:
        directory.find_person("groupware-check-config")  # binds as the service account and searches
    except (GroupwareError, OSError) as exc:
        return OnlineCheck(what, False, str(exc))
    finally:
        directory.close()
    return OnlineCheck(what, True, "bound and searched people")


def _try_relay(relay: tuple[str, int], timeout: float = 10.0) -> OnlineCheck:
    host, port = relay
    what = f"relay {host}:{port}"
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            code, message = smtp.ehlo(socket.getfqdn())
    except (OSError, smtplib.SMTPException) as exc:
        return OnlineCheck(what, False, f"cannot talk SMTP: {exc}")
    greeting = message.decode("utf-8", "replace").splitlines()[0] if message else ""
    return OnlineCheck(what, 200 <= code < 300, f"EHLO answered {code} {greeting}".rstrip())


def online_checks(config: config_module.Config) -> list[OnlineCheck]:
    """Try the directory (a search as the service account) and the SMTP relay (connect and EHLO)."""
    checks = [_try_directory(config)]
    if config.lmtp.relay is not None:
        checks.append(_try_relay(config.lmtp.relay))
    return checks
