# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware sieve list|show|put|activate|deactivate|delete|vacation [--config FILE] USER …`` on the script
store of the configuration's ``[sieve]``, and ``groupware sieve queue [list|flush] [--config FILE]`` on the
outgoing mail queue of ``[lmtp]``; the other ``groupware sieve`` commands are the engine's own."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from groupware import config as config_module
from groupware.errors import ConfigError
from groupware.runtime.mail import build_queue, build_store
from groupware.sieve import manage

__all__ = ["handles", "run"]

QUEUE = "queue"


def handles(argv: Sequence[str]) -> bool:
    """Whether ``groupware sieve ARGV`` is a store or queue command (the others are the engine's check and
    test)."""
    return bool(argv) and (argv[0] in manage.COMMANDS or argv[0] == QUEUE)


def run(argv: Sequence[str]) -> int:
    """A store or queue command on the configuration of ``--config`` (default: the demo)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config", default=str(config_module.DEMO_CONFIG))
    known, rest = parser.parse_known_args(list(argv))
    try:
        loaded = config_module.load(known.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if rest and rest[0] == QUEUE:
        return queue_command(loaded, rest[1:])
    return manage.main(rest, build_store(loaded.sieve))


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def queue_command(config: config_module.Config, argv: Sequence[str]) -> int:
    """``queue [list]``: one line per queued message (id, kind, recipients, attempts, next attempt, last
    error); ``queue flush``: try every queued message now (RFC 5321 §4.5.4.1), and say what became of them."""
    parser = argparse.ArgumentParser(
        prog="groupware sieve queue", description="the outgoing mail queue of [lmtp] relay"
    )
    parser.add_argument("action", nargs="?", choices=("list", "flush"), default="list")
    args = parser.parse_args(list(argv))
    queue = build_queue(config)
    if queue is None:
        print(f"{config.path}: no [lmtp] relay, so no outgoing queue", file=sys.stderr)
        return 1
    if args.action == "flush":
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
