# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware sieve list|show|put|activate|deactivate|delete|vacation USER …``: a user's scripts for admins.

Every command goes through the :class:`~.scripts.ScriptStore` the host built from its configuration, so a
script written here is checked against the same site policy as one written over ManageSieve (RFC 5804 §2.6).
``vacation USER on|off`` edits the vacation rule of the user's script through the rules model (:mod:`rules`,
RFC 5230) and leaves the user's other rules in place; without an active script it writes and activates
``roundcube``, Roundcube's default script name.

Exit status: 0 done, 1 refused (invalid script, policy, missing script), 2 usage errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from .checks import report
from .errors import SieveCompileError
from .rules import RuleSet, RulesFormatError, VacationSettings, parse_rules, render, with_vacation
from .scripts import ScriptError, ScriptStore

__all__ = ["COMMANDS", "add_commands", "main", "run"]

COMMANDS = ("list", "show", "put", "activate", "deactivate", "delete", "vacation")
DEFAULT_SCRIPT = "roundcube"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], **defaults: object) -> None:
    """Add the store commands to ``sub``; each sets ``sieve_command`` and ``defaults`` (see :func:`run`)."""
    commands = [sub.add_parser("list", help="list a user's scripts, the active one marked")]
    commands[0].add_argument("user")
    for name, text in (
        ("show", "print a script"),
        ("activate", "make a script the active one"),
        ("delete", "delete a script (not the active one)"),
    ):
        one = sub.add_parser(name, help=text)
        one.add_argument("user")
        one.add_argument("name")
        commands.append(one)
    commands.append(sub.add_parser("deactivate", help="leave the user without an active script"))
    commands[-1].add_argument("user")
    put = sub.add_parser("put", help="check and store a script from a file ('-': standard input)")
    put.add_argument("user")
    put.add_argument("name")
    put.add_argument("file")
    put.add_argument("--activate", action="store_true", help="make it the active script")
    commands += [put, _add_vacation(sub)]
    for command in commands:
        command.set_defaults(sieve_command=command.prog.rsplit(" ", 1)[-1], **defaults)


def _add_vacation(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    vac = sub.add_parser("vacation", help="switch the vacation auto-reply on or off, keeping other rules")
    vac.add_argument("user")
    vac.add_argument("state", choices=("on", "off"))
    vac.add_argument("--from", dest="start", type=dt.date.fromisoformat, help="first day (YYYY-MM-DD)")
    vac.add_argument("--until", dest="end", type=dt.date.fromisoformat, help="last day (YYYY-MM-DD)")
    vac.add_argument("--subject", default="Absence", help="subject of the reply")
    vac.add_argument("--message", help="text of the reply (required with on)")
    vac.add_argument("--days", type=int, default=7, help="days before the same sender gets another reply")
    vac.add_argument("--zone", default=None, help="time zone of the dates, e.g. +0100 (default: local)")
    vac.add_argument("--address", action="append", default=[], help="the user's other addresses")
    return vac


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="groupware sieve", description="Manage a user's Sieve scripts.")
    add_commands(parser.add_subparsers(dest="sieve_command", required=True))
    return parser


def _local_zone() -> str:
    offset = dt.datetime.now().astimezone().utcoffset() or dt.timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as handle:
        return handle.read()


def _vacation(store: ScriptStore, args: argparse.Namespace) -> int:
    if args.state == "on" and not args.message:
        print("groupware sieve: vacation on needs --message", file=sys.stderr)
        return 2
    user = args.user
    name = store.active(user)
    rules = RuleSet()
    if name is not None:
        try:
            rules = parse_rules(store.get(user, name).decode("utf-8"))
        except (RulesFormatError, UnicodeDecodeError) as exc:
            print(
                f"groupware sieve: the active script {name!r} is not in the rules format ({exc}); "
                "edit it with a Sieve client",
                file=sys.stderr,
            )
            return 1
    settings = None
    if args.state == "on":
        settings = VacationSettings(
            subject=args.subject,
            body=args.message,
            start=args.start,
            end=args.end,
            zone=args.zone or _local_zone(),
            days=args.days,
            addresses=tuple(args.address),
        )
    target = name or DEFAULT_SCRIPT
    store.put(user, target, render(with_vacation(rules, settings)).encode("utf-8"))
    if name is None:
        store.set_active(user, target)
    print(f"vacation {args.state} for {user} in script {target!r}")
    return 0


def _run(store: ScriptStore, args: argparse.Namespace) -> int:
    user, command = args.user, args.sieve_command
    if command == "list":
        for name, active in store.list(user):
            print(f"{name}\tACTIVE" if active else name)
    elif command == "show":
        sys.stdout.buffer.write(store.get(user, args.name))
        sys.stdout.flush()
    elif command == "put":
        store.put(user, args.name, _read(args.file))
        if args.activate:
            store.set_active(user, args.name)
    elif command == "activate":
        store.set_active(user, args.name)
    elif command == "deactivate":
        store.set_active(user, "")
    elif command == "delete":
        store.delete(user, args.name)
    else:
        return _vacation(store, args)
    return 0


def run(args: argparse.Namespace, store: ScriptStore) -> int:
    """Run one command parsed by :func:`add_commands` against ``store``; returns the exit status."""
    try:
        return _run(store, args)
    except SieveCompileError as exc:
        sys.stderr.write(report(getattr(args, "name", None) or DEFAULT_SCRIPT, exc))
        return 1
    except ScriptError as exc:
        code = f"({exc.code}) " if exc.code else ""
        print(f"groupware sieve: {code}{exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"groupware sieve: {exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str], store: ScriptStore) -> int:
    """Parse ``argv`` and run one command against ``store``; returns the exit status."""
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    return run(args, store)
