# SPDX-License-Identifier: GPL-3.0-or-later
"""Every problem of a configuration file, as ``groupware check-config`` and ``groupware serve`` report them:
our sections (:mod:`groupware.config`), Radicale's (:mod:`groupware.dav.configuration`), ``[server] workers``
and trusted proxies,
the address books' vCard mapping, and the admin Sieve scripts (checked like users' scripts)."""

from __future__ import annotations

from groupware import config as config_module
from groupware.addressbooks.mapping import mapping_from
from groupware.dav.configuration import check_radicale_sections
from groupware.dav.forwarded import proxies_from
from groupware.errors import ConfigError, ConfigProblem
from groupware.runtime.mail import admin_script_problems
from groupware.runtime.workers import worker_count

__all__ = ["configuration_problems", "mapping_problems", "runtime_option_problems"]


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
    except ConfigError as exc:
        problems = exc.problems + problems
    return problems
