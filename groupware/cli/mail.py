# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware sieve …``: the engine's own ``check`` and ``test`` (a script and a message, no configuration),
and ``list|show|put|activate|deactivate|delete|vacation USER …`` on the script store of the configuration's
``[sieve]``."""

from __future__ import annotations

import argparse
import sys

from groupware import config as config_module
from groupware.errors import ConfigError
from groupware.runtime.mail import build_store
from groupware.sieve import cli as sieve_cli
from groupware.sieve import manage

__all__ = ["add_commands"]


def cmd_engine(args: argparse.Namespace) -> int:
    """``groupware sieve check|test``: the Sieve engine on files, without a configuration."""
    return sieve_cli.run(args)


def cmd_store(args: argparse.Namespace) -> int:
    """A store command on the store of the configuration (``--config``, ``GROUPWARE_CONFIG`` or the demo)."""
    try:
        loaded = config_module.load(args.config or config_module.DEMO_CONFIG)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return manage.run(args, build_store(loaded.sieve))


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``groupware sieve`` and its sub-commands."""
    sieve = sub.add_parser(
        "sieve",
        help="mail rules: check and test scripts; list, show, put, activate, deactivate, delete a user's "
        "scripts; switch vacation on or off",
        description="Check and test Sieve scripts (no configuration needed), or manage a user's scripts in "
        "the script store of the configuration's [sieve] section.",
    )
    sieve_sub = sieve.add_subparsers(dest="sieve_command", metavar="COMMAND")
    sieve_cli.add_commands(sieve_sub, func=cmd_engine, needs_config=False)
    manage.add_commands(sieve_sub, func=cmd_store)
