# SPDX-License-Identifier: GPL-3.0-or-later
"""One typed loader for the single configuration file.

The file is INI: Radicale's own sections (``[server]``, ``[storage]``, ``[logging]`` …) plus ours
(``[directory]``, ``[accounts]``, ``[sieve]`` …). This package owns our sections: their schema with defaults
and help text lives in :data:`SCHEMA` (:mod:`.schema`), in one place, built from the value parsers of
:mod:`.values`; the parsed sections are the dataclasses of :mod:`.sections`. Radicale's sections are handed
over untouched (``radicale_sections``) and checked by the composition root against Radicale's own schema.
Every problem names the file, the section and the key.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from groupware.config.files import DATA, DEMO_CONFIG, DIRECTORY_PRESETS
from groupware.config.schema import SCHEMA
from groupware.config.sections import (
    AccountsConfig,
    AddressBooksConfig,
    Config,
    DirectoryConfig,
    LimitsConfig,
    LmtpConfig,
    OperationsConfig,
    SharingConfig,
    SieveConfig,
)
from groupware.config.values import (
    MAX_PATTERN_LENGTH,
    Option,
    split_mapping,
)
from groupware.errors import ConfigError, ConfigProblem

__all__ = [
    "DATA",
    "DEMO_CONFIG",
    "DIRECTORY_PRESETS",
    "MAX_PATTERN_LENGTH",
    "SCHEMA",
    "AccountsConfig",
    "AddressBooksConfig",
    "Config",
    "DirectoryConfig",
    "LimitsConfig",
    "LmtpConfig",
    "OperationsConfig",
    "Option",
    "SharingConfig",
    "SieveConfig",
    "database_file",
    "storage_database",
    "load",
    "read_sections",
    "split_mapping",
]


def read_sections(path: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """Read an INI file into ``{section: {key: value}}`` without interpolation.

    Raises:
        ConfigError: the file cannot be read or is not valid INI.
    """
    parser = configparser.RawConfigParser(strict=True)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(str(path), "", "", f"cannot read: {exc}")]) from exc
    return {name: dict(parser.items(name)) for name in parser.sections()}


def _parse_section(
    file: str, name: str, raw: Mapping[str, str], problems: list[ConfigProblem]
) -> dict[str, Any]:
    schema = SCHEMA[name]
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in schema:
            problems.append(ConfigProblem(file, name, key, "unknown option"))
            continue
        try:
            values[key] = schema[key].parse(value.strip())
        except ValueError as exc:
            problems.append(ConfigProblem(file, name, key, f"invalid value {value!r}: {exc}"))
    return values


def _resolve(base: Path, value: str) -> str:
    return str((base / value).resolve()) if value and not os.path.isabs(value) else value


def _apply_preset(file: str, values: dict[str, Any], problems: list[ConfigProblem]) -> None:
    """Fill the mapping keys the file does not set from ``preset``; an establishment filter needs a UAI."""
    schema = SCHEMA["directory"]
    for key, text in read_sections(DIRECTORY_PRESETS)[values.get("preset", "inetorgperson")].items():
        if key not in values:
            values[key] = schema[key].parse(text)
    if values["establishment_filter"] and not values["establishment_uai_attribute"]:
        problems.append(
            ConfigProblem(
                file, "directory", "establishment_uai_attribute", "required with establishment_filter"
            )
        )


def _check_directory(file: str, base: Path, values: dict[str, Any], problems: list[ConfigProblem]) -> None:
    _apply_preset(file, values, problems)
    kind = values.get("type", "ldif")
    if kind == "ldif":
        values["file"] = _resolve(base, values.get("file", ""))
        if not values["file"]:
            problems.append(ConfigProblem(file, "directory", "file", "required when type = ldif"))
        elif not os.path.isfile(values["file"]):
            problems.append(ConfigProblem(file, "directory", "file", f"no such file: {values['file']}"))
        return
    for key in ("uri", "base_dn"):
        if not values.get(key) and not any(p.section == "directory" and p.key == key for p in problems):
            problems.append(ConfigProblem(file, "directory", key, "required when type = ldap"))
    for key in ("ca_file", "bind_password_file"):
        if values.get(key):
            values[key] = _resolve(base, values[key])
            if not os.path.isfile(values[key]):
                problems.append(ConfigProblem(file, "directory", key, f"no such file: {values[key]}"))
    if values.get("bind_password_file") and not problems:
        values["bind_password"] = Path(values["bind_password_file"]).read_text(encoding="utf-8").strip()


def _check_sieve(file: str, base: Path, values: dict[str, Any], problems: list[ConfigProblem]) -> None:
    values["mail_root"] = (
        _resolve(base, values["mail_root"]) if values.get("mail_root") else os.path.abspath("var/mail")
    )
    for key in ("tls_certificate", "tls_key"):
        if values.get(key):
            values[key] = _resolve(base, values[key])
            if not os.path.isfile(values[key]):
                problems.append(ConfigProblem(file, "sieve", key, f"no such file: {values[key]}"))
    if bool(values.get("tls_certificate")) != bool(values.get("tls_key")):
        problems.append(ConfigProblem(file, "sieve", "tls_key", "tls_certificate and tls_key go together"))
    for key in ("before", "after"):
        paths = tuple(_resolve(base, p) for p in values.get(key, ()))
        values[key] = paths
        problems.extend(
            ConfigProblem(file, "sieve", key, f"no such file: {p}") for p in paths if not os.path.isfile(p)
        )


def load(path: str | os.PathLike[str]) -> Config:
    """Load and check a configuration file.

    Raises:
        ConfigError: with every problem found, each naming the file, the section and the key.
    """
    file = str(path)
    sections = read_sections(path)
    base = Path(file).resolve().parent
    problems: list[ConfigProblem] = []
    parsed = {name: _parse_section(file, name, sections.get(name, {}), problems) for name in SCHEMA}
    _check_directory(file, base, parsed["directory"], problems)
    _check_sieve(file, base, parsed["sieve"], problems)
    queue = parsed["lmtp"].get("queue")
    parsed["lmtp"]["queue"] = (
        _resolve(base, queue) if queue else os.path.join(parsed["sieve"]["mail_root"], ".queue")
    )
    if parsed["sharing"].get("database"):
        parsed["sharing"]["database"] = _resolve(base, parsed["sharing"]["database"])
    if problems:
        raise ConfigError(problems)
    radicale = {name: values for name, values in sections.items() if name not in SCHEMA}
    storage = radicale.get("storage", {})
    for key in ("filesystem_folder", "database"):  # relative paths are relative to this file, like ours
        if storage.get(key):
            storage[key] = _resolve(base, storage[key])
    return Config(
        file,
        DirectoryConfig(**parsed["directory"]),
        AccountsConfig(**parsed["accounts"]),
        radicale,
        SieveConfig(**parsed["sieve"]),
        SharingConfig(**parsed["sharing"]),
        addressbooks=AddressBooksConfig(**parsed["addressbooks"]),
        lmtp=LmtpConfig(**parsed["lmtp"]),
        limits=LimitsConfig(**parsed["limits"]),
        operations=OperationsConfig(**parsed["operations"]),
    )


def database_file(folder: str | None, database: str | None) -> str:
    """The groupware database file: ``[storage] database``, else ``groupware.sqlite`` in ``[storage]
    filesystem_folder`` (``var/collections`` of the current directory by default). Decided here only."""
    if database:
        return str(database)
    return os.path.join(folder or os.path.abspath("var/collections"), "groupware.sqlite")


def storage_database(config: Config) -> str:
    """The groupware database file of ``config`` (:func:`database_file` of its ``[storage]`` section)."""
    section = config.radicale_sections.get("storage", {})
    return database_file(section.get("filesystem_folder"), section.get("database"))
