# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware sieve list|show|put|activate|deactivate|delete|vacation [--config FILE] USER …`` on the script
store of the configuration's ``[sieve]``; the other ``groupware sieve`` commands are the engine's own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from groupware import config as config_module
from groupware.errors import ConfigError
from groupware.runtime.mail import build_store
from groupware.sieve import manage

__all__ = ["handles", "run"]


def handles(argv: Sequence[str]) -> bool:
    """Whether ``groupware sieve ARGV`` is a store command (the others are the engine's check and test)."""
    return bool(argv) and argv[0] in manage.COMMANDS


def run(argv: Sequence[str]) -> int:
    """A store command on the store of ``--config`` (default: the demo)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config", default=str(config_module.DEMO_CONFIG))
    known, rest = parser.parse_known_args(list(argv))
    try:
        loaded = config_module.load(known.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return manage.main(rest, build_store(loaded.sieve))
