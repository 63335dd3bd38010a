# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware sieve …``: the engine's own ``check`` and ``test`` (a script and a message, no configuration),
``list|show|put|activate|deactivate|delete|vacation USER …`` on the script store of the configuration's
``[sieve]``, and ``queue [list|flush]`` on the outgoing mail queue of ``[lmtp]``."""

from __future__ import annotations

import argparse
import sys
import time

from groupware import config as config_module
from groupware.errors import ConfigError
from groupware.runtime.mail import build_queue, build_store
from groupware.sieve import cli as sieve_cli
from groupware.sieve import manage

__all__ = ["add_commands", "queue_command"]


def _loaded(args: argparse.Namespace) -> config_module.Config | None:
    try:
        return config_module.load(args.config or config_module.DEMO_CONFIG)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def cmd_engine(args: argparse.Namespace) -> int:
    """``groupware sieve check|test``: the Sieve engine on files, without a configuration."""
    return sieve_cli.run(args)


def cmd_store(args: argparse.Namespace) -> int:
    """A store command on the store of the configuration (``--config``, ``GROUPWARE_CONFIG`` or the demo)."""
    loaded = _loaded(args)
    return 2 if loaded is None else manage.run(args, build_store(loaded.sieve))


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def queue_command(config: config_module.Config, action: str) -> int:
    """``queue [list]``: one line per queued message (id, kind, recipients, attempts, next attempt, last
    error); ``queue flush``: try every queued message now (RFC 5321 §4.5.4.1), and say what became of them."""
    queue = build_queue(config)
    if queue is None:
        print(f"{config.path}: no [lmtp] relay, so no outgoing queue", file=sys.stderr)
        return 1
    if action == "flush":
        report = queue.flush(force=True)
        print(f"sent {len(report.sent)}, deferred {len(report.deferred)}, given up {len(report.given_up)}")
        return 0 if not report.deferred else 1
    entries = queue.entries()
    for entry in entries:
        item = entry.item
        print(
            f"{entry.id}\t{item.kind}\t{','.join(item.recipients)}\t{entry.size} octets\t"
            f"{item.attempts} attempt(s)\tnext {_when(item.next_attempt)}\t{item.last_error}"
        )
    print(f"{len(entries)} message(s) in {queue.folder}", file=sys.stderr)
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    """``groupware sieve queue [list|flush]`` on the queue of the configuration."""
    loaded = _loaded(args)
    return 2 if loaded is None else queue_command(loaded, args.action)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``groupware sieve`` and its sub-commands."""
    sieve = sub.add_parser(
        "sieve",
        help="mail rules: check and test scripts; list, show, put, activate, deactivate, delete a user's "
        "scripts; switch vacation on or off; the outgoing mail queue",
        description="Check and test Sieve scripts (no configuration needed), manage a user's scripts in "
        "the script store of the configuration's [sieve] section, or list and flush the outgoing mail queue.",
    )
    sieve_sub = sieve.add_subparsers(dest="sieve_command", metavar="COMMAND")
    sieve_cli.add_commands(sieve_sub, func=cmd_engine, needs_config=False)
    manage.add_commands(sieve_sub, func=cmd_store)
    queue = sieve_sub.add_parser(
        "queue", help="the outgoing mail queue of [lmtp] relay: list it, or try every message now (flush)"
    )
    queue.add_argument("action", nargs="?", choices=("list", "flush"), default="list")
    queue.set_defaults(func=cmd_queue)
