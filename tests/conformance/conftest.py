# SPDX-License-Identifier: GPL-3.0-or-later
"""Pigeonhole's ``sieve-test`` and ``sievec`` behind a private configuration, for the differential Sieve
tests.

Nothing here reads ``/etc/dovecot``: every run passes ``-c`` with a configuration written to a temporary
folder (``mail_uid = nobody``), and Pigeonhole's output is translated into the one-line action form of
``groupware sieve test`` so that both can be compared line by line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

INSTALL_HINT = "sieve-test/sievec not found: apt-get install dovecot-sieve"
DATA = Path(__file__).resolve().parents[1] / "data" / "sieve"
MESSAGES = DATA / "messages"
INCLUDES = DATA / "include"

_CONF = """\
mail_uid = nobody
mail_gid = nogroup
base_dir = {root}/run
mail_location = maildir:{root}/mail
log_path = /dev/stderr
plugin {{
  sieve = file:{personal};active={root}/active.sieve
  sieve_global = {global_dir}
  sieve_extensions = +vacation-seconds +editheader
  sieve_vacation_max_period = 0
}}
"""


def _quote(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def _flags(text: str) -> str:
    """Flags as we print them (a set, RFC 5232 §3): ``sieve-test`` lists a flag given twice in one ``:flags``
    twice and system flags in no fixed order."""
    from groupware.sieve.actions import describe_flags

    return describe_flags(tuple(text.split()))


def _default_subject(message: Path) -> str:
    from groupware.sieve.message import MessageFacts

    subject = MessageFacts(message.read_bytes()).header("subject")
    return f"Auto: {subject[0]}" if subject else "Automated reply"


def _store(name: str, details: list[str], implicit: bool) -> str:
    flags = next((d.split(":", 1)[1] for d in details if d.startswith("+ add IMAP flags:")), "")
    if implicit:
        return "implicit_keep" + _flags(flags)
    if name == "INBOX":
        return "keep" + _flags(flags)
    copy = " :copy" if "+ preserve implicit keep" in details else ""
    create = " :create" if "+ create mailbox if it does not exist" in details else ""
    return f"fileinto {_quote(name)}{copy}{create}{_flags(flags)}"


def _vacation(details: list[str], body: list[str], message: Path) -> str:
    fields = {k.strip(): v.strip() for k, _, v in (d.removeprefix("=> ").partition(":") for d in details)}
    subject = fields.get("subject") or _default_subject(message)  # an empty :subject means the default
    sender = f" :from {_quote(fields['from'])}" if "from" in fields else ""
    reason = "\n".join(body)
    return (
        f"vacation :seconds {fields['seconds']} :subject {_quote(subject)}{sender} :reason {_quote(reason)}"
    )


def _notify(details: list[str]) -> str:
    fields: dict[str, str] = {}
    recipients: list[str] = []
    for d in details:
        if d.startswith("+ To:"):
            recipients.append(d.split(":", 1)[1].strip())
        elif d.startswith("=>"):
            key, _, value = d[2:].partition(":")
            fields[key.strip()] = value.strip()
    parts = [f"notify to={','.join(recipients)} :importance {_quote(fields.get('importance', '2'))}"]
    if "from" in fields:
        parts.append(f":from {_quote(fields['from'])}")
    if "subject" in fields:
        parts.append(f":message {_quote(fields['subject'])}")
    return " ".join(parts)


def _one(head: str, details: list[str], body: list[str], implicit: bool, message: Path) -> str:
    if head.startswith("store message in folder:"):
        return _store(head.split(":", 1)[1].removeprefix(" "), details, implicit)
    if head.startswith("redirect message to: "):
        copy = " :copy" if "+ preserve implicit keep" in details else ""
        return f"redirect {_quote(head.split(': ', 1)[1].strip('<>'))}{copy}"
    if head == "discard":
        return "discard"
    if head.startswith("reject message with reason:"):
        return f"reject {_quote(head.split(':', 1)[1].removeprefix(' '))}"
    if head.startswith("send vacation message"):
        return _vacation(details, body, message)
    if head.startswith("track duplicate"):
        return ""
    if head.startswith("send notification"):
        return _notify(details)
    return f"unknown {head!r}"


def translate(stdout: str, stderr: str, message: Path) -> list[str]:
    """Pigeonhole's ``sieve-test`` report → our action lines (see ``groupware.sieve.actions.describe``)."""
    if "failed to compile" in stderr:
        return ["error compile"]
    if "Panic:" in stderr:
        return ["crash " + stderr.strip().splitlines()[0]]
    if "Fatal:" in stderr:
        return ["fatal " + stderr.strip()]
    if "final result: failed" in stderr:
        return ["error runtime", "implicit_keep"]
    out: list[str] = []
    implicit = False
    lines = stdout.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("Implicit keep:"):
            implicit = True
        if not line.startswith(" * "):
            continue
        head, details, body = line[3:].strip(), [], []
        while i < len(lines) and not lines[i].startswith(" * ") and not lines[i].startswith("Implicit keep:"):
            text = lines[i].strip()
            if lines[i] == "START MESSAGE":
                i += 1
                while i < len(lines) and lines[i] != "END MESSAGE":
                    body.append(lines[i])
                    i += 1
            elif text:
                details.append(text)
            i += 1
        line = _one(head, details, body, implicit, message)
        if line:
            out.append(line)
    return out


def normalise(lines: list[str]) -> list[str]:
    """Our action lines in comparable form: run-time messages dropped, notify reduced to its recipients."""
    out = []
    for line in lines:
        if line.startswith("error runtime"):
            out.append("error runtime")
        elif line.startswith("notify "):
            out.append(_normalise_notify(line))
        elif line.startswith("vacation "):  # sieve-test prints the subject without its trailing white space
            out.append(re.sub(r':subject "((?:[^"\\]|\\.)*?)\s*"', r':subject "\1"', line, count=1))
        else:
            out.append(line)
    return out


def _normalise_notify(line: str) -> str:
    from urllib.parse import unquote

    from groupware.sieve.mailto import mailto_recipients

    m = re.match(r'notify "(mailto:[^"]*)" (.*)', line)
    if m is None:
        return line
    recipients = ",".join(mailto_recipients(m.group(1)) or [])
    rest = re.sub(r':message "((?:[^"\\]|\\.)*?)\s*"', r':message "\1"', m.group(2))  # printed stripped
    subject = re.search(r"[?&]subject=([^&\"]*)", line)
    if ":message" not in rest and subject:
        rest += f" :message {_quote(unquote(subject.group(1)))}"
    return f"notify to={recipients} {rest}"


@dataclass
class Pigeonhole:
    """Runs Pigeonhole with a private configuration in ``root``."""

    root: Path
    conf: Path
    normalise = staticmethod(normalise)
    translate = staticmethod(translate)

    def _write(self, script: str) -> Path:
        fd, name = tempfile.mkstemp(suffix=".sieve", dir=self.root / "scripts")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(script)
        os.chmod(name, 0o644)
        return Path(name)

    def run(self, script: str, message: Path, sender: str, recipient: str) -> list[str]:
        """The actions Pigeonhole reports for ``script`` on ``message``, in our line form."""
        path = self._write(script)
        cmd = [
            "sieve-test",
            "-c",
            str(self.conf),
            "-C",
            "-f",
            sender,
            "-a",
            recipient,
            "-r",
            recipient,
            str(path),
            str(message),
        ]
        proc = subprocess.run(
            cmd, check=False, capture_output=True, text=True, timeout=60, env={**os.environ, "TZ": "UTC"}
        )
        path.unlink()
        if proc.returncode < 0:
            return [f"crash signal {-proc.returncode}"]
        return translate(proc.stdout, proc.stderr, message)

    def compiles(self, script: str) -> bool:
        """Whether ``sievec`` accepts the script."""
        path = self._write(script)
        out = path.with_suffix(".svbin")
        proc = subprocess.run(
            ["sievec", "-c", str(self.conf), str(path), str(out)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        path.unlink()
        out.unlink(missing_ok=True)
        return proc.returncode == 0

    def run_many(self, cases: list[tuple[str, Path, str, str]]) -> list[list[str]]:
        """``run`` over many cases, in parallel."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda c: self.run(*c), cases))

    def compiles_many(self, scripts: list[str]) -> list[bool]:
        """``compiles`` over many scripts, in parallel."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(self.compiles, scripts))


def _private_pigeonhole(conf_text: str) -> Iterator[Pigeonhole]:
    if shutil.which("sieve-test") is None or shutil.which("sievec") is None:
        pytest.fail(INSTALL_HINT)
    root = Path(tempfile.mkdtemp(prefix="pigeonhole-"))
    for sub in ("run", "mail", "scripts"):
        (root / sub).mkdir()
    for path in [root, *root.iterdir()]:
        os.chmod(path, 0o1777)
    conf = root / "dovecot.conf"
    conf.write_text(
        conf_text.format(root=root, personal=INCLUDES / "personal", global_dir=INCLUDES / "global")
    )
    yield Pigeonhole(root, conf)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pigeonhole() -> Iterator[Pigeonhole]:
    """Pigeonhole under a private configuration; fails (never skips) when it is not installed."""
    yield from _private_pigeonhole(_CONF)


@pytest.fixture(scope="session")
def stock_vacation_pigeonhole() -> Iterator[Pigeonhole]:
    """The same, but with Pigeonhole's own vacation period limits (at least a day, no upper limit)."""
    stock = "".join(line for line in _CONF.splitlines(keepends=True) if "sieve_vacation_" not in line)
    yield from _private_pigeonhole(stock)
