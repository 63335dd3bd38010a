# SPDX-License-Identifier: GPL-3.0-or-later
"""Radicale's configuration for groupware: its schema, our defaults, our plugins, and the checks of the
Radicale sections of the one configuration file.

The plugins (``groupware.plugins.*``) are loaded by Radicale from dotted names; they receive the running
services through Radicale's own configuration: a private option ``_services`` in each of their sections, set
with Radicale's privileged update (options of third-party plugin types are handed over as they are). So the
services are passed explicitly, and nothing is looked up in a process-wide registry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import radicale.config

from groupware.config import Config
from groupware.errors import ConfigProblem
from groupware.store.database import SYNCHRONOUS

__all__ = [
    "PLUGINS",
    "RADICALE_DEFAULTS",
    "RUNTIME_OPTIONS",
    "SERVICES_OPTION",
    "check_radicale_sections",
    "radicale_configuration",
]

PREDEFINED_COLLECTIONS = {
    "calendar": {
        "tag": "VCALENDAR",
        "D:displayname": "Agenda",
        "C:supported-calendar-component-set": "VEVENT,VTODO",
    },
    "contacts": {"tag": "VADDRESSBOOK", "D:displayname": "Contacts"},
}
#: Our plugin modules, by Radicale section.
PLUGINS = {
    "auth": "groupware.plugins.auth",
    "rights": "groupware.plugins.rights",
    "storage": "groupware.plugins.storage",
    "sharing": "groupware.plugins.sharing",
}
#: The private option of a plugin section that carries the running services to our plugins.
SERVICES_OPTION = "_services"

# What groupware sets in Radicale's sections unless the configuration file says otherwise.
RADICALE_DEFAULTS: dict[str, dict[str, str]] = {
    # No sleep of Radicale's after a 5xx answer (delay_on_error, 1 s): it held a worker thread per error,
    # so that cheap requests answered 502 (a COPY to another server) or 503 (over budget) could take every
    # thread; failed logins are slowed by our accounts layer, per person and per address.
    "server": {"hosts": "127.0.0.1:5232", "max_connections": "64", "delay_on_error": "0"},
    "auth": {"type": PLUGINS["auth"], "delay": "0"},
    "rights": {"type": PLUGINS["rights"]},
    "storage": {
        "type": PLUGINS["storage"],
        "filesystem_folder": os.path.abspath("var/collections"),
        "predefined_collections": json.dumps(PREDEFINED_COLLECTIONS),
    },
    "web": {"type": "none"},
    "sharing": {"type": PLUGINS["sharing"], "collection_by_map": "True", "collection_by_token": "False"},
    "logging": {"level": "info", "mask_passwords": "True"},
}
# Options of our storage plugin that Radicale's schema does not know (Radicale hands them to the plugin):
# each maps to the reason a value is refused, or None when it is fine.
STORAGE_OPTIONS: dict[str, Callable[[str], str | None]] = {
    "database": lambda value: None if value.strip() else "empty path",
    "synchronous": lambda value: None if value.upper() in SYNCHRONOUS else "one of OFF, NORMAL, FULL, EXTRA",
    "busy_timeout": lambda value: None if _positive_seconds(value) else "a number of seconds over 0",
}


def _positive_seconds(value: str) -> bool:
    try:
        return 0 < float(value) < float("inf")
    except ValueError:
        return False


#: Options kept in Radicale's sections that the runtime reads and checks (``[server] workers``, the trusted
#: proxies of :mod:`groupware.dav.forwarded`); Radicale never sees them.
RUNTIME_OPTIONS: dict[str, tuple[str, ...]] = {"server": ("workers", "trusted_proxies", "forwarded_headers")}
# Options we decide ourselves: a file setting them is told why.
FORCED = {
    ("auth", "type"): "groupware authenticates through [directory] and [accounts]",
    ("rights", "type"): "groupware decides rights itself (admin group in [accounts])",
    ("server", "ssl"): "terminate TLS at a reverse proxy (see README); the server speaks plain HTTP",
}
_FALSE = ("false", "0", "no", "off")


def _problem_of(
    probe: radicale.config.Configuration, path: str, section: str, key: str, value: str, storage_type: str
) -> ConfigProblem | None:
    """The problem with one option of a Radicale section, None when it is fine (or the runtime's to check)."""
    if (section, key) in FORCED and not (section == "server" and key == "ssl" and value.lower() in _FALSE):
        return ConfigProblem(path, section, key, f"not configurable: {FORCED[section, key]}")
    if key in RUNTIME_OPTIONS.get(section, ()):
        return None
    if section == "storage" and storage_type == PLUGINS["storage"] and key in STORAGE_OPTIONS:
        reason = STORAGE_OPTIONS[key](value)
        return ConfigProblem(path, section, key, f"invalid value {value!r}: {reason}") if reason else None
    try:
        probe.update({section: {key: value}}, path)
    except (RuntimeError, ValueError) as exc:
        reason = str(exc.__cause__ or str(exc).split(" in section")[0].split(" in config file")[0])
        return ConfigProblem(path, section, key, f"invalid value {value!r}: {reason}")
    return None


def check_radicale_sections(path: str, sections: Mapping[str, Mapping[str, str]]) -> list[ConfigProblem]:
    """Check every option of Radicale's sections against Radicale's schema, one problem per key."""
    problems: list[ConfigProblem] = []
    probe = radicale.config.load()
    storage_type = sections.get("storage", {}).get("type", PLUGINS["storage"])
    for section, options in sections.items():
        if section not in radicale.config.DEFAULT_CONFIG_SCHEMA or section.startswith("_"):
            problems.append(ConfigProblem(path, section, "", "unknown section"))
            continue
        for key, value in options.items():
            problem = _problem_of(probe, path, section, key, value, storage_type)
            if problem is not None:
                problems.append(problem)
    return problems


def radicale_configuration(config: Config, services: Any = None) -> radicale.config.Configuration:
    """Radicale's configuration: its defaults, then ours, then the file's own Radicale sections; with
    ``services``, each of our plugins' sections carries them (:data:`SERVICES_OPTION`)."""
    configuration = radicale.config.load()
    configuration.update(RADICALE_DEFAULTS, "groupware defaults")
    sections = {name: dict(options) for name, options in config.radicale_sections.items()}
    for section, keys in RUNTIME_OPTIONS.items():
        for key in keys:
            sections.get(section, {}).pop(key, None)
    if sections:
        configuration.update(sections, config.path)
    if services is not None:
        ours = {
            section: {SERVICES_OPTION: services}
            for section, module in PLUGINS.items()
            if configuration.get(section, "type") == module
        }
        configuration.update(ours, "groupware services", privileged=True)
    return configuration
