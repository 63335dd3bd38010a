# SPDX-License-Identifier: GPL-3.0-or-later
"""ManageSieve under load: concurrent sessions doing PUTSCRIPT then GETSCRIPT, groupware beside Dovecot.

Each session logs in (SASL PLAIN, RFC 5804 §2.1) as one of ``sessions / 2`` people (two sessions per person,
so that writes of one user run concurrently), then until the time is up stores a fresh script (about 1.5 KB,
under one of three names of its own) and reads it back (RFC 5804 §2.6, §2.9). It counts commands, errors (any
``NO`` or ``BYE``), read-backs that differ from what was stored (corrupted), and at the end compares every
script on disk with the last version the server acknowledged (lost). The same client, in one asyncio process,
drives ``groupware serve`` (a generated directory, [sieve] on loopback) and Dovecot's managesieved (private
configuration under /tmp, passwd-file with the same people), one after the other.

    python benchmarks/managesieve.py                    # 50 sessions, 20 s per server python
    benchmarks/managesieve.py --quick            # 10 sessions, 3 s python benchmarks/managesieve.py --check
    # exit 1 on any error, corruption or loss
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import ROOT, active_uids, environment, generated_directory, log, markdown_table

sys.path.insert(0, str(ROOT / "tests"))
from support import Managesieved, ServeProcess, write_sieve_config

_STATUS = re.compile(rb"(OK|NO|BYE)\b")
_LITERAL = re.compile(rb"\{(\d+)\}\r\n\Z")


@dataclass
class Tally:
    """What the sessions of one run did."""

    commands: int = 0
    errors: int = 0
    corrupted: int = 0
    acknowledged: dict[tuple[str, str], bytes] = field(default_factory=dict)
    first_errors: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(what)


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes | None, bytes]:
    """Status, the literal that came before it (if any) and the status line."""
    data = None
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        size = _LITERAL.search(line)
        if size:
            data = await reader.readexactly(int(size.group(1)))
            if _STATUS.match(line):
                await reader.readline()
                return line[:2].strip(), data, line
            continue
        if (status := _STATUS.match(line)) is not None:
            return status.group(1), data, line


def script(session: int, serial: int) -> bytes:
    """A fresh, valid script of about 1.5 KB that says who wrote it."""
    rules = "".join(
        f'# rule:[r{k}]\r\nif header :contains "subject" "s{session}-{serial}-{k}"\r\n'
        f'{{\r\n\tfileinto "Dossiers/{k}";\r\n}}\r\n'
        for k in range(18)
    )
    return f'# session {session} write {serial}\r\nrequire ["fileinto"];\r\n{rules}'.encode()


async def session(port: int, user: str, password: str, number: int, deadline: float, tally: Tally) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await read_response(reader)
        token = base64.b64encode(f"\0{user}\0{password}".encode())
        writer.write(b'AUTHENTICATE "PLAIN" "' + token + b'"\r\n')
        if (await read_response(reader))[0] != b"OK":
            tally.error(f"{user}: login refused")
            return
        serial = 0
        while time.monotonic() < deadline:
            serial += 1
            name = f"s{number}-{serial % 3}".encode()
            data = script(number, serial)
            writer.write(b'PUTSCRIPT "%s" {%d+}\r\n%s\r\n' % (name, len(data), data))
            status, _, line = await read_response(reader)
            tally.commands += 1
            if status != b"OK":
                tally.error(f"PUTSCRIPT {name.decode()}: {line.decode().strip()}")
                continue
            tally.acknowledged[user, name.decode()] = data
            writer.write(b'GETSCRIPT "%s"\r\n' % name)
            status, got, line = await read_response(reader)
            tally.commands += 1
            if status != b"OK":
                tally.error(f"GETSCRIPT {name.decode()}: {line.decode().strip()}")
            elif got != data:
                tally.corrupted += 1
        writer.write(b"LOGOUT\r\n")
        await read_response(reader)
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        tally.error(f"{user}: {exc}")
    finally:
        writer.close()


async def drive(port: int, people: list[tuple[str, str]], sessions: int, seconds: float) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(session(port, *people[i % len(people)], i, deadline, tally) for i in range(sessions))
    )
    return tally


def lost(tally: Tally, home_of: Path) -> int:
    """Scripts whose file differs from the last acknowledged version (or is missing)."""
    missing = 0
    for (user, name), data in tally.acknowledged.items():
        path = home_of / user / "sieve" / f"{name}.sieve"
        if not path.is_file() or path.read_bytes() != data:
            missing += 1
    return missing


def run(
    label: str, port: int, people: list[tuple[str, str]], args: argparse.Namespace, homes: Path
) -> list[str]:
    log(f"{label}: {args.sessions} sessions for {args.seconds:g} s")
    tally = asyncio.run(drive(port, people, args.sessions, args.seconds))
    gone = lost(tally, homes)
    for line in tally.first_errors:
        log(f"{label}: {line}")
    rate = tally.commands / args.seconds
    return [
        label,
        str(args.sessions),
        f"{tally.commands:,}",
        f"{rate:,.0f}",
        str(tally.errors),
        str(tally.corrupted),
        str(gone),
        str(len(tally.acknowledged)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="10 sessions, 3 s")
    parser.add_argument("--check", action="store_true", help="exit 1 on errors, corruption or loss")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.seconds = 10, 3.0
    ldif = generated_directory(200)
    people = [(uid, f"{uid}-pw") for uid in active_uids(ldif, max(1, args.sessions // 2))]
    work = Path(tempfile.mkdtemp(prefix="bench-managesieve-"))
    config = write_sieve_config(
        work / "groupware.conf",
        {"max_scripts": "0", "max_storage": "0"},
        directory={"type": "ldif", "file": str(ldif)},
    )
    ours = ServeProcess(config)
    try:
        rows = [run("groupware", ours.sieve_port, people, args, ours.mail_root)]
    finally:
        ours.stop()
    dovecot = Managesieved(dict(people))
    try:
        rows.append(run("dovecot managesieved", dovecot.port, people, args, dovecot.home))
    finally:
        dovecot.stop()
    headers = [
        "server",
        "sessions",
        "commands",
        "commands/s",
        "errors",
        "corrupted",
        "lost",
        "scripts checked",
    ]
    print(markdown_table(headers, rows, "lrrrrrrr"))
    ratio = float(rows[0][3].replace(",", "")) / max(float(rows[1][3].replace(",", "")), 1.0)
    print(f"\ngroupware / dovecot commands per second: {ratio:.2f}\n")
    print(markdown_table(["", ""], environment()))
    bad = any(int(row[i]) for row in rows[:1] for i in (4, 5, 6))
    return 1 if args.check and bad else 0


if __name__ == "__main__":
    sys.exit(main())
