# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``groupware`` command: ``serve``, ``check-config``, ``sieve …``, ``directory …``, ``storage …``,
``agenda …``, ``addressbooks …``, ``accounts …``.

Each module adds its commands to the parser with one call in :func:`build_parser`
(``module.add_commands(sub)``, or ``add_commands(group_sub)`` inside a group such as ``directory``); a command
is a sub-parser whose ``func(args)`` returns the exit status. :func:`build_parser` then gives every parser of
the tree, at every depth, ``--config FILE`` and help: ``--config`` may come before or after any sub-command,
``GROUPWARE_CONFIG`` stands in for it, and a group given no sub-command prints its help, listing them all.
Before a command runs, the configuration it acts on is named on stderr, the built-in demo one included, so
that a forgotten ``--config`` never acts on the demo's data unnoticed; commands that read no configuration say
``needs_config=False``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from groupware import __version__, logs
from groupware import config as config_module
from groupware.errors import ConfigError

__all__ = ["CONFIG_ENV", "build_parser", "configuration_file", "main"]

log = logging.getLogger("groupware.cli")
DESCRIPTION = (
    "Shared agendas, academic address books and mail rules for an académie: serve them (CalDAV, CardDAV, "
    "ManageSieve, LMTP), check the configuration, administer agendas, books, scripts, lockouts and storage."
)
CONFIG_ENV = "GROUPWARE_CONFIG"
CONFIG_HELP = f"configuration file (default: ${CONFIG_ENV}, else the built-in demo configuration)"


def configuration_file(args: argparse.Namespace) -> str:
    """The configuration file ``args`` name (``--config``, then ``$GROUPWARE_CONFIG``), else the demo's."""
    return str(getattr(args, "config", None) or config_module.DEMO_CONFIG)


def _announce(args: argparse.Namespace) -> None:
    """Name on stderr the configuration the command acts on."""
    if getattr(args, "config", None):
        print(f"groupware: configuration {args.config}", file=sys.stderr)
        return
    print(
        f"groupware: no --config FILE and no {CONFIG_ENV}: acting on the built-in demo configuration"
        f" ({config_module.DEMO_CONFIG}; its data in ./var/ of the current folder)",
        file=sys.stderr,
    )


def _loaded(args: argparse.Namespace) -> config_module.Config | None:
    """The configuration, or None after printing its problems."""
    try:
        return config_module.load(configuration_file(args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve CalDAV/CardDAV (and ManageSieve, LMTP as configured) until Ctrl-C or SIGTERM."""
    from groupware.runtime.checks import configuration_problems, configuration_warnings
    from groupware.runtime.doors import DoorFailed
    from groupware.runtime.supervisor import Supervisor, install_signal_handlers

    path = configuration_file(args)
    problems = configuration_problems(path)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    for warning in configuration_warnings(path):
        print(f"warning: {warning}", file=sys.stderr)
    loaded = config_module.load(path)
    logs.setup(loaded.radicale_sections.get("logging", {}).get("level", "info"))
    log.info(
        "starting",
        extra={
            "event": "starting",
            "version": __version__,
            "config": path,
            "directory": loaded.directory.type,
        },
    )
    install_signal_handlers()
    try:
        Supervisor(loaded).run()
    except (ConfigError, DoorFailed, OSError) as exc:
        print(
            f"groupware: {exc}" if isinstance(exc, DoorFailed) else f"groupware: cannot start: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_directory_generate(args: argparse.Namespace) -> int:
    """Write a synthetic académie directory (LDIF) for trials and benchmarks."""
    from groupware.directory import generate

    argv = ["--staff", str(args.staff), "--out", args.out, "--seed", str(args.seed)]
    return int(generate.main(argv) or 0)


def cmd_agenda(args: argparse.Namespace) -> int:
    """``groupware agenda …``: shared agendas and their grants, on the running servers' database."""
    from groupware.dav.agenda_api import agenda_store
    from groupware.dav.migration import configured_storage
    from groupware.runtime.services import build_services
    from groupware.sharing import cli as agenda_cli

    loaded = _loaded(args)
    if loaded is None:
        return 1
    services = build_services(loaded)
    services.sharing.store = agenda_store(configured_storage(loaded))
    return agenda_cli.run(services.sharing, args)


def cmd_addressbooks(args: argparse.Namespace) -> int:
    """``groupware addressbooks sync``: the academic address books from the directory."""
    from groupware.cli import books

    loaded = _loaded(args)
    return 1 if loaded is None else books.run(loaded, args)


def cmd_accounts(args: argparse.Namespace) -> int:
    """``groupware accounts lockouts|unlock``: the lockouts every server process counts, in the database."""
    from groupware.accounts.lockouts import DatabaseThrottle
    from groupware.config import storage_database
    from groupware.store.database import Database

    loaded = _loaded(args)
    if loaded is None:
        return 1
    accounts = loaded.accounts
    throttle = DatabaseThrottle(Database(storage_database(loaded)), accounts.failure_window, accounts.lockout)
    if args.accounts_command == "unlock":
        if throttle.unlock(args.subject):
            print(f"{args.subject}: unlocked")
            return 0
        print(f"{args.subject}: not locked out (see `groupware accounts lockouts`)", file=sys.stderr)
        return 1
    for subject, until in throttle.lockouts():
        print(f"{subject}\tuntil {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(until))}")
    return 0


def _add_accounts_commands(sub: Any) -> None:
    accounts = sub.add_parser("accounts", help="login lockouts: list, unlock")
    accounts_sub = accounts.add_subparsers(dest="accounts_command", required=True)
    listing = accounts_sub.add_parser("lockouts", help="people locked out now")
    unlock = accounts_sub.add_parser("unlock", help="lift a lockout at once (it also ends by itself)")
    unlock.add_argument("subject", help="as listed: login:prenom.nom (the uid)")
    for command in (listing, unlock):
        command.set_defaults(func=cmd_accounts)


def _add_directory_commands(sub: Any) -> None:
    directory = sub.add_parser("directory", help="directory tools")
    directory_sub = directory.add_subparsers(dest="directory_command", required=True)
    gen = directory_sub.add_parser("generate", help="write a synthetic académie directory as LDIF")
    gen.add_argument("--staff", type=int, default=52000)
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--out", required=True)
    gen.set_defaults(func=cmd_directory_generate, needs_config=False)
    from groupware.cli.directory import add_test_command

    add_test_command(directory_sub)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``groupware`` command."""
    from groupware.cli import books, check, mail, storage
    from groupware.sharing.cli import add_arguments as add_agenda_arguments

    parser = argparse.ArgumentParser(prog="groupware", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"groupware {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="serve CalDAV/CardDAV, ManageSieve and LMTP as configured")
    serve.set_defaults(func=cmd_serve)
    check.add_commands(sub)
    mail.add_commands(sub)
    agenda = sub.add_parser(
        "agenda", help="shared agendas: create, list, show, grant, revoke, delete, provision"
    )
    add_agenda_arguments(agenda)
    agenda.set_defaults(func=cmd_agenda)
    addressbooks = sub.add_parser("addressbooks", help="academic address books from the directory: sync")
    books.add_arguments(addressbooks)
    addressbooks.set_defaults(func=cmd_addressbooks)
    _add_directory_commands(sub)
    storage.add_commands(sub)
    _add_accounts_commands(sub)
    _finish(parser, top=True)
    return parser


def _finish(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """Give ``parser`` and every parser under it ``--config`` (only the top level has a default, so that one
    given higher up is kept), and make a group given no sub-command print its help (``help_parser``)."""
    default = None if top else argparse.SUPPRESS
    own = parser._option_string_actions.get("--config")
    if own is None:
        parser.add_argument("--config", metavar="FILE", help=CONFIG_HELP, default=default)
    else:  # a command that declares its own: the same option, so that one given higher up is kept
        own.default, own.metavar, own.help = default, "FILE", CONFIG_HELP
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    parser.set_defaults(help_parser=parser if groups else None)
    if top:
        parser.set_defaults(needs_config=True)
    for group in groups:
        group.required = False
        for child in dict.fromkeys(group.choices.values()):
            _finish(child)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``groupware`` console script."""
    args = build_parser().parse_args(argv)
    if args.help_parser is not None:
        args.help_parser.print_help(sys.stderr)
        return 2
    args.config = getattr(args, "config_file", None) or args.config or os.environ.get(CONFIG_ENV) or None
    if args.needs_config:
        _announce(args)
    return int(args.func(args))
