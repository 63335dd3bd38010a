# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``groupware`` command: ``serve``, ``check-config``, ``sieve …``, ``directory generate``, ``storage …``,
``agenda …``, ``addressbooks …``, ``accounts …``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from groupware import __version__, logs
from groupware import config as config_module
from groupware.errors import ConfigError

__all__ = ["build_parser", "main"]

log = logging.getLogger("groupware.cli")
CONFIG_HELP = "configuration file (default: the demo configuration)"


def _loaded(path: str | None) -> config_module.Config | None:
    """The configuration, or None after printing its problems."""
    try:
        return config_module.load(path or config_module.DEMO_CONFIG)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def cmd_check_config(args: argparse.Namespace) -> int:
    """Report every problem of a configuration file, with file, section and key; exit 1 if any."""
    from groupware.runtime.checks import configuration_problems

    problems = configuration_problems(args.file)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve CalDAV/CardDAV (and ManageSieve, LMTP as configured) until Ctrl-C or SIGTERM."""
    from groupware.runtime.checks import configuration_problems
    from groupware.runtime.doors import DoorFailed
    from groupware.runtime.supervisor import Supervisor, install_signal_handlers

    path = args.config or str(config_module.DEMO_CONFIG)
    problems = configuration_problems(path)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
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


def cmd_sieve(args: argparse.Namespace) -> int:
    """``groupware sieve …``: a user's scripts in the configured store, or the Sieve module's own commands."""
    from groupware.cli import mail

    if mail.handles(args.rest):
        return mail.run(args.rest)
    from groupware.sieve import cli as sieve_cli

    return int(sieve_cli.main(list(args.rest)))


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

    loaded = _loaded(args.config)
    if loaded is None:
        return 1
    services = build_services(loaded)
    services.sharing.store = agenda_store(configured_storage(loaded))
    return agenda_cli.run(services.sharing, args)


def cmd_addressbooks(args: argparse.Namespace) -> int:
    """``groupware addressbooks sync``: the academic address books from the directory."""
    from groupware.cli import books

    loaded = _loaded(args.config)
    return 1 if loaded is None else books.run(loaded, args)


def cmd_accounts(args: argparse.Namespace) -> int:
    """``groupware accounts lockouts|unlock``: the lockouts every server process counts, in the database."""
    from groupware.accounts.lockouts import DatabaseThrottle
    from groupware.config import storage_database
    from groupware.store.database import Database

    loaded = _loaded(args.config)
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
    listing.add_argument("--config", help=CONFIG_HELP)
    unlock = accounts_sub.add_parser("unlock", help="lift a lockout at once (it also ends by itself)")
    unlock.add_argument("subject", help="as listed: login:prenom.nom (the uid)")
    unlock.add_argument("--config", help=CONFIG_HELP)
    for command in (listing, unlock):
        command.set_defaults(func=cmd_accounts)


def _add_directory_commands(sub: Any) -> None:
    directory = sub.add_parser("directory", help="directory tools")
    directory_sub = directory.add_subparsers(dest="directory_command", required=True)
    gen = directory_sub.add_parser("generate", help="write a synthetic académie directory as LDIF")
    gen.add_argument("--staff", type=int, default=52000)
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--out", required=True)
    gen.set_defaults(func=cmd_directory_generate)
    from groupware.cli.directory import add_test_command

    add_test_command(directory_sub)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``groupware`` command."""
    from groupware.cli import books, storage
    from groupware.sharing.cli import add_arguments as add_agenda_arguments

    parser = argparse.ArgumentParser(prog="groupware", description=__doc__)
    parser.add_argument("--version", action="version", version=f"groupware {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve CalDAV/CardDAV (the demo without --config)")
    serve.add_argument("--config", help=CONFIG_HELP)
    serve.set_defaults(func=cmd_serve)
    check = sub.add_parser("check-config", help="check a configuration file")
    check.add_argument("file")
    check.set_defaults(func=cmd_check_config)
    sieve = sub.add_parser("sieve", help="check and test Sieve scripts", add_help=False)
    sieve.add_argument("rest", nargs=argparse.REMAINDER)
    sieve.set_defaults(func=cmd_sieve)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``groupware`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))
