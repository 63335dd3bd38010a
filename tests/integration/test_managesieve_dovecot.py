# SPDX-License-Identifier: GPL-3.0-or-later
"""One scripted ManageSieve session against ``groupware serve`` and against Dovecot's managesieved
(Pigeonhole), compared command by command: the status (OK, NO, BYE) and the response code (RFC 5804 §1.3) must
be the same.

Dovecot runs under a private configuration on 127.0.0.1 (``support.Managesieved``: never /etc/dovecot,
mail_uid nobody), with the demo account in a passwd-file. Left out of the script: UNAUTHENTICATE, which
Pigeonhole does not implement (RFC 5804 §2.14.1 makes it optional; we offer it), and STARTTLS (neither side
has TLS here).
"""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import PASSWORD, USER, Managesieved, ServeProcess, write_sieve_config

PLAIN = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())
WRONG = base64.b64encode(f"\0{USER}\0wrong".encode())


def literal(text: bytes) -> bytes:
    return b"{%d+}\r\n" % len(text) + text


SESSION: list[bytes] = [
    b"CAPABILITY",
    b"LISTSCRIPTS",
    b'AUTHENTICATE "PLAIN" "' + WRONG + b'"',
    b'AUTHENTICATE "PLAIN" "' + PLAIN + b'"',
    b"LISTSCRIPTS",
    b'PUTSCRIPT "bad" ' + literal(b'require "fileinto";\r\nfoo;\r\n'),
    b'PUTSCRIPT "unclosed" ' + literal(b"if true {\r\n keep;\r\n"),
    b'PUTSCRIPT "a" ' + literal(b"keep;\r\n"),
    b'PUTSCRIPT "b" {9}\r\ndiscard;\r\n',
    b'PUTSCRIPT "quoted" "keep;"',
    b"CHECKSCRIPT " + literal(b'require "vacation";\r\nvacation :days 3 "away";\r\n'),
    b"CHECKSCRIPT " + literal(b"foo;\r\n"),
    b'SETACTIVE "a"',
    b'SETACTIVE "a"',
    b'DELETESCRIPT "a"',
    b'DELETESCRIPT "zz"',
    b'GETSCRIPT "zz"',
    b'GETSCRIPT "a"',
    b'RENAMESCRIPT "a" "c"',
    b'RENAMESCRIPT "c" "b"',
    b'RENAMESCRIPT "nope" "x"',
    b'PUTSCRIPT "a/b" "keep;"',
    b'HAVESPACE "x" 100',
    b'HAVESPACE "x" 100000000',
    b'HAVESPACE "a/b" 10',
    b'SETACTIVE "nope"',
    b"LISTSCRIPTS",
    b'SETACTIVE ""',
    b'DELETESCRIPT "c"',
    b'NOOP "tag"',
    b"NOOP",
    b"FOO",
    b"GETSCRIPT",
    b'AUTHENTICATE "PLAIN" "' + PLAIN + b'"',
    b"LOGOUT",
]


def converse(port: int) -> list[tuple[str, str]]:
    """Run :data:`SESSION`; the (status, response code) of the greeting and of each command."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = sock.makefile("rb")
        results = [read_response(stream)]
        for command in SESSION:
            sock.sendall(command + b"\r\n")
            results.append(read_response(stream))
    return results


def read_response(stream: object) -> tuple[str, str]:
    """Read up to the status line (skipping literals); its status and response-code name."""
    while True:
        line = stream.readline()  # type: ignore[attr-defined]
        assert line, "connection closed before a status line"
        match = re.match(rb"(OK|NO|BYE)\b(?: \(([^ )]+))?", line)
        size = re.search(rb"\{(\d+)\}\r\n\Z", line)
        if size:
            stream.read(int(size.group(1)))  # type: ignore[attr-defined]
        if match:
            if size:  # NO {n}: the literal and its line end
                stream.readline()  # type: ignore[attr-defined]
            return match.group(1).decode(), (match.group(2) or b"").decode()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[int, int]]:
    dovecot = Managesieved({USER: PASSWORD})
    ours = ServeProcess(write_sieve_config(tmp_path / "groupware.conf", {"max_script_size": "1048576"}))
    try:
        yield ours.sieve_port, dovecot.port
    finally:
        ours.stop()
        dovecot.stop()


def test_same_status_and_codes_as_pigeonhole(servers: tuple[int, int]) -> None:
    ours, dovecot = (converse(port) for port in servers)
    labels = ["greeting", *(c.split(b"\r\n")[0].decode() for c in SESSION)]
    differences = [(label, o, d) for label, o, d in zip(labels, ours, dovecot, strict=True) if o != d]
    assert differences == []
    assert ("NO", "ACTIVE") in ours and ("NO", "NONEXISTENT") in ours and ("NO", "ALREADYEXISTS") in ours
