# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware sieve check|test``: compile a script, or run it on a message and print its actions.

``check SCRIPT`` exits 0, or prints every error as ``line:column: message`` on stderr and exits 1. ``test
SCRIPT MESSAGE [--from ADDR] [--to ADDR]`` prints the actions one per line in execution order, then the
implicit keep (see :func:`actions.describe`); a script that does not compile prints ``error compile`` and
exits 3. Usage errors exit 2. Run as ``python -m groupware.sieve.cli``. Compile errors are those RFC 5228
§2.10.6 asks for (the whole script is rejected); run-time errors keep the message (§2.10.6, implicit keep).
"""

from __future__ import annotations

import argparse
import email.utils
import sys
from pathlib import Path

from .actions import describe
from .checks import check_script
from .compile import compile_script
from .errors import SieveCompileError
from .evaluate import evaluate
from .host import Environment, Policy
from .message import MessageFacts

__all__ = ["DirectoryLocator", "add_commands", "main", "run"]


class DirectoryLocator:
    """Included scripts as ``NAME.sieve`` files: personal ones beside the script, global ones in a folder."""

    def __init__(self, personal: Path, global_dir: Path | None) -> None:
        self.dirs = {"personal": personal, "global": global_dir}

    def load(self, location: str, name: str) -> str | None:
        """The text of ``name`` at ``location``, or None (RFC 6609 §3.2)."""
        folder = self.dirs.get(location)
        if folder is None:
            return None
        for candidate in (folder / f"{name}.sieve", folder / name):
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8")
        return None


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], **defaults: object) -> None:
    """Add ``check`` and ``test`` to ``sub``; each sets ``sieve_command`` and ``defaults`` (:func:`run`)."""
    check = sub.add_parser("check", help="compile a script and report its errors")
    check.add_argument("script", type=Path)
    check.add_argument("--global-dir", type=Path, default=None, help="folder of global scripts for include")
    check.add_argument(
        "--redirect-domain",
        action="append",
        default=[],
        help="forwarding policy: redirect, notify and vacation addresses only in this domain (repeatable)",
    )
    check.set_defaults(sieve_command="check", **defaults)
    test = sub.add_parser("test", help="run a script on a message and print the actions")
    test.add_argument("script", type=Path)
    test.add_argument("message", type=Path)
    test.add_argument("--from", dest="sender", default=None, help="envelope sender (MAIL FROM)")
    test.add_argument("--to", dest="recipient", default=None, help="envelope recipient (RCPT TO)")
    test.add_argument("--global-dir", type=Path, default=None, help="folder of global scripts for include")
    test.set_defaults(sieve_command="test", **defaults)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="groupware sieve", description="Check or test a Sieve script.")
    add_commands(parser.add_subparsers(dest="sieve_command", required=True))
    return parser


def _compile(path: Path, global_dir: Path | None, domains: frozenset[str] | None = None) -> object:
    """The compiled script; with ``domains``, the site's policy is checked as at PUTSCRIPT (``test`` leaves
    it to the evaluation, as ``sieve-test`` fails a script with too many redirects only when it runs)."""
    text = path.read_bytes().decode("utf-8", "surrogateescape")  # invalid UTF-8 is refused (RFC 5228 §1)
    locator = DirectoryLocator(path.resolve().parent, global_dir)
    if domains is None:
        return compile_script(text, Policy(), locator)
    return check_script(text, Policy(redirect_domains=domains), locator)


def _check(args: argparse.Namespace) -> int:
    try:
        _compile(args.script, args.global_dir, frozenset(d.lower() for d in args.redirect_domain))
    except SieveCompileError as exc:
        for diag in exc.diagnostics:
            print(diag, file=sys.stderr)
        return 1
    return 0


def _default_sender(msg: MessageFacts) -> str:
    for name in ("return-path", "sender", "from"):
        values = msg.header(name)
        if values:
            addr = email.utils.parseaddr(values[0])[1]
            if addr or name == "return-path":
                return addr
    return "MAILER-DAEMON"


def _test(args: argparse.Namespace) -> int:
    try:
        program = _compile(args.script, args.global_dir)
    except SieveCompileError as exc:
        print("error compile")
        for diag in exc.diagnostics:
            print(diag, file=sys.stderr)
        return 3
    msg = MessageFacts(args.message.read_bytes())
    env = Environment(
        envelope_from=args.sender if args.sender is not None else _default_sender(msg),
        envelope_to=args.recipient if args.recipient is not None else "recipient@example.org",
    )
    for action in evaluate(program, msg, env):  # type: ignore[arg-type]
        line = describe(action)
        if line is not None:
            print(line)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the ``check`` or ``test`` command parsed by :func:`add_commands`; returns the exit status."""
    try:
        return _check(args) if args.sieve_command == "check" else _test(args)
    except OSError as exc:
        print(f"groupware sieve: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str]) -> int:
    """Entry point of ``python -m groupware.sieve.cli``; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code not in (None, 0) else 0
    return run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
