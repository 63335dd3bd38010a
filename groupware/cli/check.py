# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware check-config [FILE] [--online]``: every problem of a configuration file, the doors that cannot
work among them, then warnings; with ``--online``, whether the directory and the relay answer."""

from __future__ import annotations

import argparse
import sys

from groupware import config as config_module
from groupware.errors import ConfigError

__all__ = ["add_commands", "cmd_check_config"]


def _online(path: str) -> int:
    """Try the directory and the relay of ``path``; the number that failed."""
    from groupware.runtime.checks import online_checks

    try:
        loaded = config_module.load(path)
    except ConfigError:  # already reported as problems
        return 1
    failed = 0
    for check in online_checks(loaded):
        print(f"{'ok' if check.ok else 'FAILED'}: {check.what}: {check.detail}", file=sys.stdout)
        failed += not check.ok
    return failed


def cmd_check_config(args: argparse.Namespace) -> int:
    """Report every problem of a configuration file (exit 1 if any) and its warnings (exit 0)."""
    from groupware.runtime.checks import configuration_problems, configuration_warnings

    path = args.config or str(config_module.DEMO_CONFIG)
    problems = configuration_problems(path)
    for problem in problems:
        print(problem, file=sys.stderr)
    warnings = [] if problems else configuration_warnings(path)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    failed = _online(path) if args.online and not problems else 0
    if problems:
        print(f"{len(problems)} problem(s) in {path}", file=sys.stderr)
        return 1
    if failed:
        print(f"{path}: {failed} online check(s) failed", file=sys.stderr)
        return 1
    print(f"{path}: OK" + (f" ({len(warnings)} warning(s))" if warnings else ""))
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``groupware check-config [FILE] [--online]``."""
    check = sub.add_parser(
        "check-config",
        help="check a configuration file (and with --online, its directory and relay)",
        description="Report every problem of a configuration file as FILE: [section] key: message, doors "
        "that cannot work included (exit 1), then warnings (exit 0).",
    )
    check.add_argument("config_file", nargs="?", metavar="FILE", help="the file (or --config FILE)")
    check.add_argument(
        "--online",
        action="store_true",
        help="also bind to the directory as the service account and greet the SMTP relay (EHLO)",
    )
    check.set_defaults(func=cmd_check_config)
