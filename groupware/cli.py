# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``groupware`` command: ``serve``, ``check-config``, ``sieve …`` and ``directory generate``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from groupware import __version__, logs
from groupware import config as config_module
from groupware.errors import ConfigError, ConfigProblem

__all__ = ["main"]

log = logging.getLogger("groupware.cli")


def _load(path: str | None) -> config_module.Config:
    return config_module.load(path or config_module.DEMO_CONFIG)


def _problems(path: str) -> list[ConfigProblem]:
    from groupware.server import check_radicale_sections

    try:
        sections = config_module.read_sections(path)
    except ConfigError as exc:
        return exc.problems
    ours = set(config_module.SCHEMA)
    problems = check_radicale_sections(path, {k: v for k, v in sections.items() if k not in ours})
    try:
        config_module.load(path)
    except ConfigError as exc:
        problems = exc.problems + problems
    return problems


def cmd_check_config(args: argparse.Namespace) -> int:
    """Report every problem of a configuration file, with file, section and key; exit 1 if any."""
    problems = _problems(args.file)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve CalDAV/CardDAV until Ctrl-C or SIGTERM."""
    from groupware import server

    path = args.config or str(config_module.DEMO_CONFIG)
    problems = _problems(path)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    loaded = config_module.load(path)
    logs.setup(loaded.radicale_sections.get("logging", {}).get("level", "info"))
    log.info("starting", extra={"event": "starting", "version": __version__, "config": path,
                                "directory": loaded.directory.type})
    server.install_signal_handlers()
    server.Server(loaded).run()
    return 0


def cmd_sieve(args: argparse.Namespace) -> int:
    """Delegate ``groupware sieve …`` to the Sieve module's command line."""
    try:
        from groupware.sieve import cli as sieve_cli
    except ImportError as exc:  # pragma: no cover - the module ships with the package
        print(f"groupware sieve is unavailable: {exc}", file=sys.stderr)
        return 2
    return int(sieve_cli.main(list(args.rest)))


def cmd_directory_generate(args: argparse.Namespace) -> int:
    """Write a synthetic académie directory (LDIF) for trials and benchmarks."""
    from groupware.directory import generate

    argv = ["--staff", str(args.staff), "--out", args.out, "--seed", str(args.seed)]
    return int(generate.main(argv) or 0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``groupware`` command."""
    parser = argparse.ArgumentParser(prog="groupware", description=__doc__)
    parser.add_argument("--version", action="version", version=f"groupware {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve CalDAV/CardDAV (the demo without --config)")
    serve.add_argument("--config", help="configuration file (default: the demo configuration)")
    serve.set_defaults(func=cmd_serve)
    check = sub.add_parser("check-config", help="check a configuration file")
    check.add_argument("file")
    check.set_defaults(func=cmd_check_config)
    sieve = sub.add_parser("sieve", help="check and test Sieve scripts", add_help=False)
    sieve.add_argument("rest", nargs=argparse.REMAINDER)
    sieve.set_defaults(func=cmd_sieve)
    directory = sub.add_parser("directory", help="directory tools")
    directory_sub = directory.add_subparsers(dest="directory_command", required=True)
    gen = directory_sub.add_parser("generate", help="write a synthetic académie directory as LDIF")
    gen.add_argument("--staff", type=int, default=52000)
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--out", required=True)
    gen.set_defaults(func=cmd_directory_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``groupware`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
