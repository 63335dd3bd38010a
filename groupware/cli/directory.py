# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware directory test``: what the product will see of the configured directory, before anyone logs in.

It binds as the service account (LDAP) or reads the file (LDIF), through the ``[directory]`` mapping, and
prints the counts (people, disabled, red-listed, without mail, without établissement), the établissements and
groups found, one person and one établissement as mapped, and a warning for anything that would leave an
address book or the provisioning of shared agendas empty.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from groupware import config as config_module
from groupware.config import Config, DirectoryConfig
from groupware.directory import Establishment, Person
from groupware.directory.factory import open_directory
from groupware.directory.survey import Survey, survey
from groupware.errors import ConfigError, DirectoryError

__all__ = ["add_test_command", "command", "report", "run"]


def _where(config: DirectoryConfig) -> str:
    if config.type == "ldap":
        return f"ldap {' '.join(config.uri)} (base {config.base_dn}, as {config.bind_dn or 'anonymous'})"
    return f"ldif {config.file}"


def _person(person: Person) -> list[str]:
    rows = [
        ("uid", person.uid),
        ("dn", person.dn),
        ("name", person.display_name),
        ("given name / surname", f"{person.given_name} / {person.surname}"),
        ("mail", ", ".join(person.emails) or "(none)"),
        ("phones", ", ".join(person.phones) or "(none)"),
        ("title", person.title or "(none)"),
        ("établissements", ", ".join(person.establishments) or "(none)"),
        ("établissement names", ", ".join(person.organizations) or "(none)"),
        ("groups", str(len(person.groups))),
        ("entry UUID", person.entry_uuid or "(none)"),
    ]
    return [f"  {name:<22}{value}" for name, value in rows]


def _establishment(establishment: Establishment) -> list[str]:
    rows = [
        ("UAI", establishment.uai),
        ("name", establishment.name),
        ("département", establishment.departement),
        ("entry", establishment.dn or "(none: named by its people)"),
    ]
    return [f"  {name:<22}{value}" for name, value in rows]


def report(config: DirectoryConfig, found: Survey, out: TextIO) -> None:
    """Print what :func:`groupware.directory.survey.survey` found."""
    lines = [
        f"directory: {_where(config)}, preset {config.preset}",
        f"people: {found.people} (disabled {found.disabled}, red-listed {found.red_listed},"
        f" without mail {found.without_mail}, without établissement {found.without_establishment})",
        f"listed in books and searches: {len(found.listed)}",
        f"établissements: {len(found.establishments)}"
        + (f" ({found.entries} établissement entries)" if config.establishment_filter else ""),
        f"groups: {len(found.groups)} ({sum(bool(g.establishment) for g in found.groups)} belong to an"
        " établissement)",
    ]
    person, establishment = found.person, found.establishment
    if person is not None:
        lines += [f"person {person.uid}, as mapped:", *_person(person)]
    if establishment is not None:
        lines += [f"établissement {establishment.uai}, as mapped:", *_establishment(establishment)]
    lines += [f"warning: {warning}" for warning in found.warnings]
    print("\n".join(lines), file=out)


def run(config: Config, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``directory test``: 0 once the directory answered (warnings or not), 1 when it cannot be read.
    Printed to ``out`` and ``err`` (default: the standard output and error at the time of the call)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        directory = open_directory(config.directory)
    except (DirectoryError, OSError) as exc:
        print(f"groupware directory test: {exc}", file=err)
        return 1
    try:
        found = survey(directory, config.directory)
    except DirectoryError as exc:
        print(f"groupware directory test: {exc}", file=err)
        return 1
    finally:
        directory.close()
    report(config.directory, found, out)
    return 0


def command(args: argparse.Namespace) -> int:
    """``groupware directory test``: load the configuration (problems: exit 1), then :func:`run`."""
    try:
        loaded = config_module.load(args.config or config_module.DEMO_CONFIG)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    return run(loaded)


def add_test_command(directory_sub: Any) -> None:
    """``groupware directory test [--config FILE]``."""
    test = directory_sub.add_parser(
        "test", help="bind and report what the product will see of the directory, with warnings"
    )
    test.set_defaults(func=command)
