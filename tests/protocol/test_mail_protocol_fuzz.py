# SPDX-License-Identifier: GPL-3.0-or-later
"""Seeded random sessions against the sans-IO ManageSieve (RFC 5804) and LMTP (RFC 2033) cores.

Four generators per protocol, no hypothesis: byte soup from the protocol's own vocabulary, mutations of valid
sessions, literals and lines around the size bounds, and pipelined valid commands; each case is fed in
random chunks, as a network delivers it. The properties: no exception but the core's own
:class:`~groupware.sieve.managesieve.ProtocolViolation` (answered ``BYE`` by the server) escapes, and every
answer is well-formed — ManageSieve responses by the RFC 5804 §4 grammar (data lines of strings, then ``OK``,
``NO`` or ``BYE`` with an optional response code and string; or a SASL challenge, a lone string), LMTP replies
by RFC 5321 §4.2 (``ddd`` then ``-`` or a space on every line, the same code on every line of a reply, a
known first digit). ``GROUPWARE_FUZZ_SESSIONS`` sets the cases per generator of the default run (100); the
``slow`` run plays 10,000 per protocol. A failure prints its seed and case, which replay it.
"""

from __future__ import annotations

import base64
import os
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from groupware.sieve.checks import check_script
from groupware.sieve.delivery import LmtpConnection, MessageReady, RecipientCheck, Reply
from groupware.sieve.delivery.execute import Outcome
from groupware.sieve.delivery.lmtp import NeedData
from groupware.sieve.host import AuthenticationUnavailable, Policy
from groupware.sieve.managesieve import Atom, Capabilities, ProtocolViolation, Reader, Session
from groupware.sieve.managesieve.protocol import Token
from groupware.sieve.scripts import Quotas, ScriptStore

SESSIONS = int(os.environ.get("GROUPWARE_FUZZ_SESSIONS", "100"))
SLOW_SESSIONS = 2500  # per generator: 10,000 per protocol
POLICY = Policy()
PLAIN = base64.b64encode(b"\0helene.lefevre\0secret")
LOGIN_USER, LOGIN_PASSWORD = base64.b64encode(b"helene.lefevre"), base64.b64encode(b"secret")


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """The script store's ``fsync`` calls are skipped: durability is not under test, and they would make
    10,000 sessions take minutes."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


def chunks(rng: random.Random, data: bytes) -> Iterator[bytes]:
    """``data`` cut where a network might cut it: whole, in octets, or in random pieces."""
    mode = rng.randrange(3)
    if mode == 0:
        yield data
        return
    pos = 0
    while pos < len(data):
        size = 1 if mode == 1 else rng.randint(1, 64)
        yield data[pos : pos + size]
        pos += size


def mutate(rng: random.Random, data: bytes, alphabet: bytes) -> bytes:
    """A few random deletions, insertions, replacements and duplications."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if not out:
            out += bytes([rng.choice(alphabet)])
            continue
        i = rng.randrange(len(out))
        op = rng.randrange(4)
        if op == 0:
            del out[i : i + rng.randint(1, 8)]
        elif op == 1:
            out[i:i] = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))
        elif op == 2:
            out[i] = rng.choice(alphabet)
        else:
            j = min(len(out), i + rng.randint(1, 40))
            out[i:i] = out[i:j]
    return bytes(out)


# -- ManageSieve ------------------------------------------------------------------------------------------
class Accounts:
    """``helene.lefevre``/``secret`` logs in; the login ``down`` stands for a directory outage."""

    def authenticate(self, login: str, password: str, authzid: str = "", remote_addr: str = "") -> str | None:
        if login == "down":
            raise AuthenticationUnavailable("directory down")
        return login if (login, password, authzid) in (("helene.lefevre", "secret", ""),) else None


SIEVE_COMMANDS = [
    b"CAPABILITY",
    b"NOOP",
    b'NOOP "tag"',
    b"STARTTLS",
    b'AUTHENTICATE "PLAIN" "' + PLAIN + b'"',
    b'AUTHENTICATE "PLAIN" {%d+}\r\n' % len(PLAIN) + PLAIN,
    b'AUTHENTICATE "LOGIN"\r\n"' + LOGIN_USER + b'"\r\n"' + LOGIN_PASSWORD + b'"',
    b'AUTHENTICATE "PLAIN"\r\n"*"',
    b'AUTHENTICATE "PLAIN" "' + base64.b64encode(b"\0down\0x") + b'"',
    b'PUTSCRIPT "a" {6+}\r\nkeep;\n',
    b'PUTSCRIPT "b" "discard;"',
    b'PUTSCRIPT "bad" "foo;"',
    b'CHECKSCRIPT {32+}\r\nrequire "fileinto"; fileinto "x";',
    b"LISTSCRIPTS",
    b'GETSCRIPT "a"',
    b'SETACTIVE "a"',
    b'SETACTIVE ""',
    b'DELETESCRIPT "b"',
    b'RENAMESCRIPT "a" "c"',
    b'HAVESPACE "x" 100',
    b"UNAUTHENTICATE",
    b"LOGOUT",
    'PUTSCRIPT "{}" "keep;"'.format("\U0001d11e" * 70).encode(),  # 70 characters, 280 octets
    'RENAMESCRIPT "a" "{}"'.format("é" * 150).encode(),
    'GETSCRIPT "{}"'.format("é" * 150).encode(),
]
SIEVE_WORDS = [c.split(b" ")[0] for c in SIEVE_COMMANDS] + [
    b'"',
    b"{",
    b"}",
    b"+",
    b"(",
    b")",
    b"\\",
    b"*",
    b"%",
    b'"\\""',
    b"{0+}\r\n",
    b"{5}\r\n",
    b"{301+}\r\n",
    b"{99999999999}\r\n",
    b"42",
    b"-1",
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\x00",
    b"\xff\xfe",
    "é".encode(),
    "\U0001d11e".encode() * 70,
    b'"' + b"a" * 300 + b'"',
]


def sieve_soup(rng: random.Random) -> bytes:
    return b" ".join(rng.choice(SIEVE_WORDS) for _ in range(rng.randint(1, 40)))


def sieve_mutated(rng: random.Random) -> bytes:
    session = b"".join(rng.choice(SIEVE_COMMANDS) + b"\r\n" for _ in range(rng.randint(1, 10)))
    return mutate(rng, session, b'"{}+\\ \r\n0123456789aAZ*()')


def sieve_bounds(rng: random.Random) -> bytes:
    """Literals and lines around the test reader's bounds (literal 300, skip 4,096, line 1,024)."""
    size = rng.choice([0, 1, 299, 300, 301, 4095, 4096, 4097, rng.randint(0, 5000)])
    sent = size if rng.random() < 0.8 else rng.randint(0, size)
    plus = b"+" if rng.random() < 0.8 else b""
    literal = b"{%d%s}\r\n" % (size, plus) + bytes(rng.choice(b"AQZ=\r\n") for _ in range(sent))
    before = rng.choice(
        [
            b'AUTHENTICATE "PLAIN" ',
            b"AUTHENTICATE ",
            b'PUTSCRIPT "s" ',
            b"PUTSCRIPT ",
            b"CHECKSCRIPT ",
            b"GETSCRIPT ",
            b'RENAMESCRIPT "a" ',
            b"NOOP ",
            b"",
            b'HAVESPACE "x" ',
        ]
    )
    line = rng.choice([b"", b"X" * rng.choice([1000, 1023, 1024, 1025, 3000])])
    login = b'AUTHENTICATE "PLAIN" "' + PLAIN + b'"\r\n' if rng.random() < 0.5 else b""
    return login + line + before + literal + b"\r\nNOOP\r\n"


def sieve_pipelined(rng: random.Random) -> bytes:
    return b"".join(rng.choice(SIEVE_COMMANDS) + b"\r\n" for _ in range(rng.randint(5, 40)))


_QUOTED = re.compile(rb'"((?:[^"\\\r\n\x00]|\\["\\])*)"')
_LITERAL = re.compile(rb"\{(\d+)\}\r\n")
_CODE = re.compile(rb"\(([A-Z][A-Z0-9/-]*)")
_ATOM = re.compile(rb"[A-Z]+")


def sieve_string(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """A quoted string or a literal (RFC 5804 §4 ``string``) at ``pos``: its value and where it ends."""
    if quoted := _QUOTED.match(data, pos):
        return quoted.group(1), quoted.end()
    if literal := _LITERAL.match(data, pos):
        end = literal.end() + int(literal.group(1))
        assert len(data) >= end, data
        return data[literal.end() : end], end
    return None


def sieve_code(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """A response code ``(ATOM [SP string])`` (RFC 5804 §4 ``resp-code``) at ``pos``."""
    code = _CODE.match(data, pos)
    if code is None:
        return None
    end = code.end()
    if data[end : end + 1] == b" ":
        value = sieve_string(data, end + 1)
        assert value is not None, data
        end = value[1]
    assert data[end : end + 1] == b")", data
    return code.group(1), end + 1


def sieve_lines(data: bytes) -> list[list[tuple[str, bytes]]]:
    """The lines of a ManageSieve server answer as (kind, value) tokens (RFC 5804 §4); AssertionError when
    it is not well-formed."""
    lines: list[list[tuple[str, bytes]]] = []
    line: list[tuple[str, bytes]] = []
    pos = 0
    while pos < len(data):
        if data.startswith(b"\r\n", pos):
            lines.append(line)
            line, pos = [], pos + 2
            continue
        if line:
            assert data[pos : pos + 1] == b" ", data
            pos += 1
        if (found := sieve_string(data, pos)) is not None:
            line.append(("string", found[0]))
        elif (found := sieve_code(data, pos)) is not None:
            line.append(("code", found[0]))
        elif atom := _ATOM.match(data, pos):
            found = atom.group(0), atom.end()
            line.append(("atom", found[0]))
        else:
            raise AssertionError(f"unexpected {data[pos : pos + 20]!r} in {data!r}")
        pos = found[1]
    assert not line, f"answer does not end with CRLF: {data!r}"
    return lines


def check_sieve_answer(data: bytes, in_sasl: bool) -> None:
    """Data lines then a status line (``NO …`` may be followed by ``BYE``), or a lone SASL challenge."""
    lines = sieve_lines(data)
    assert lines, data
    if in_sasl:
        assert lines == [[("string", lines[0][0][1])]], data
        return
    status = [i for i, line in enumerate(lines) if line and line[0][0] == "atom" and line[0][1] != b"ACTIVE"]
    assert status and status[-1] == len(lines) - 1, data
    for i, line in enumerate(lines):
        if i in status:
            assert line[0][1] in (b"OK", b"NO", b"BYE"), data
            kinds = [kind for kind, _ in line[1:]]
            assert kinds in ([], ["code"], ["string"], ["code", "string"]), data
        else:
            assert line and all(kind == "string" or value == b"ACTIVE" for kind, value in line), data


def play_sieve(store: ScriptStore, rng: random.Random, wire: bytes) -> None:
    """Feed ``wire`` as the server does; every answer must be well-formed, nothing but a violation raised."""
    caps = Capabilities(POLICY.extensions, tls_available=rng.random() < 0.5, allow_plaintext=True)
    session = Session(store, Accounts(), caps, "192.0.2.1")
    check_sieve_answer(session.greeting(), False)
    reader = Reader(max_line=1024, max_literal=300, max_skip=4096)
    for chunk in chunks(rng, wire):
        reader.feed(chunk)
        while True:
            try:
                line = reader.next_line()
            except ProtocolViolation as exc:
                assert str(exc)  # the server answers BYE with this reason and closes
                return
            if line is None:
                break
            reply = session.handle(line)
            check_sieve_answer(reply.data, session._sasl is not None)
            if reply.close:
                return
            if reply.starttls:
                check_sieve_answer(session.tls_started(), False)


SIEVE_GENERATORS: dict[str, Callable[[random.Random], bytes]] = {
    "soup": sieve_soup,
    "mutated": sieve_mutated,
    "bounds": sieve_bounds,
    "pipelined": sieve_pipelined,
}


def run_sieve(tmp_path: Path, name: str, seed: int, cases: int) -> None:
    store = ScriptStore(
        tmp_path, Quotas(max_scripts=5, max_script_size=200), lambda _name, text: check_script(text, POLICY)
    )
    rng = random.Random(seed)
    for case in range(cases):
        wire = SIEVE_GENERATORS[name](rng)
        try:
            play_sieve(store, rng, wire)
        except Exception as exc:
            raise AssertionError(f"{name} seed {seed} case {case}: {wire[:500]!r}") from exc


@pytest.mark.parametrize("name", sorted(SIEVE_GENERATORS))
def test_managesieve_sessions(tmp_path: Path, name: str) -> None:
    run_sieve(tmp_path, name, seed=sorted(SIEVE_GENERATORS).index(name), cases=SESSIONS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SIEVE_GENERATORS))
def test_managesieve_sessions_slow(tmp_path: Path, name: str) -> None:
    run_sieve(tmp_path, name, seed=1000 + sorted(SIEVE_GENERATORS).index(name), cases=SLOW_SESSIONS)


# -- LMTP ---------------------------------------------------------------------------------------------------
KNOWN = {"helene@ac.fr", "paul@ac.fr"}
MESSAGE = b"From: a@b.org\r\nSubject: hi\r\n\r\nbody\r\n..dot\r\n"
LMTP_COMMANDS = [
    b"LHLO client.example.org",
    b"MAIL FROM:<a@b.org>",
    b"MAIL FROM:<> SIZE=100 BODY=8BITMIME",
    b"MAIL FROM:<a@b.org> SIZE=99999999999",
    b"RCPT TO:<helene@ac.fr>",
    b"RCPT TO:<paul@ac.fr>",
    b"RCPT TO:<nobody@ac.fr>",
    b"RCPT TO:<down@ac.fr>",
    b"DATA\r\n" + MESSAGE + b".",
    b"DATA",
    b"RSET",
    b"NOOP",
    b"VRFY helene",
    b"HELO x",
    b"QUIT",
]
LMTP_WORDS = [c.split(b" ")[0] for c in LMTP_COMMANDS] + [
    b"FROM:<",
    b"TO:<",
    b">",
    b"<>",
    b"SIZE=",
    b"BODY=7BIT",
    b"\r\n.\r\n",
    b".",
    b"..",
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\x00",
    b"\xff",
    "é".encode(),
    b"X" * 600,
    b"helene@ac.fr",
]


def lmtp_soup(rng: random.Random) -> bytes:
    return b" ".join(rng.choice(LMTP_WORDS) for _ in range(rng.randint(1, 40)))


def lmtp_session(rng: random.Random) -> bytes:
    rcpts = [rng.choice(LMTP_COMMANDS[4:8]) for _ in range(rng.randint(1, 4))]
    return b"\r\n".join([LMTP_COMMANDS[0], LMTP_COMMANDS[1], *rcpts, LMTP_COMMANDS[8], b"QUIT"]) + b"\r\n"


def lmtp_mutated(rng: random.Random) -> bytes:
    return mutate(rng, lmtp_session(rng), b"<>:@.\r\n \x00XSIZE=")


def lmtp_bounds(rng: random.Random) -> bytes:
    """Command lines around 512 octets, message lines around ``max_data_line``, messages around
    ``max_size``."""
    line = b"NOOP " + b"x" * rng.choice([504, 505, 506, 507, 2000])
    body = b"".join(
        b"y" * rng.choice([0, 63, 64, 65, 1000]) + rng.choice([b"\r\n", b"\n", b""])
        for _ in range(rng.randint(1, 30))
    )
    head = b"LHLO x\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<helene@ac.fr>\r\nDATA\r\n"
    return line + b"\r\n" + head + body + rng.choice([b"\r\n.\r\n", b".\r\n", b""]) + b"NOOP\r\n"


def lmtp_pipelined(rng: random.Random) -> bytes:
    return b"".join(rng.choice(LMTP_COMMANDS) + b"\r\n" for _ in range(rng.randint(5, 40)))


_SMTP_LINE = re.compile(rb"([2-5]\d\d)([ -])([\t\x20-\x7e\x80-\xff]*)\Z")


def check_lmtp_answer(data: bytes) -> int:
    """Replies by RFC 5321 §4.2: ``ddd`` and ``-`` on every line but the last, one code per reply, no control
    character in the text. Returns how many replies ``data`` holds."""
    assert data.endswith(b"\r\n"), data
    replies, code = 0, None
    for line in data[:-2].split(b"\r\n"):
        match = _SMTP_LINE.match(line)
        assert match is not None, data
        assert code in (None, match.group(1)), data
        code = match.group(1) if match.group(2) == b"-" else None
        replies += match.group(2) == b" "
    assert code is None, data
    return replies


def play_lmtp(rng: random.Random, wire: bytes) -> None:
    """Feed ``wire`` as the server does, answering look-ups and deliveries; check every reply."""
    conn = LmtpConnection(
        "mx.test",
        max_size=rng.choice([0, 300, 1 << 20]),
        max_recipients=rng.choice([2, 1000]),
        max_data_line=rng.choice([64, 1 << 16]),
    )
    assert check_lmtp_answer(conn.greeting()) == 1
    for chunk in chunks(rng, wire):
        conn.feed(chunk)
        while not isinstance(event := conn.next_event(), NeedData):
            if isinstance(event, Reply):
                check_lmtp_answer(event.data)
                if event.close:
                    return
            elif isinstance(event, RecipientCheck):
                found = event.address if event.address in KNOWN else None
                answer = conn.recipient_checked(found, event.address == "down@ac.fr")
                # One reply; or, at the error limit, the refusal and the 421 that closes the connection.
                assert check_lmtp_answer(answer) == 1 or (check_lmtp_answer(answer) == 2 and conn.closed), (
                    answer
                )
            else:
                assert isinstance(event, MessageReady)
                outcomes = [Outcome(250, "2.0.0", f"<{a}> delivered") for a, _ in event.recipients]
                assert check_lmtp_answer(conn.delivered(outcomes)) == len(event.recipients) > 0
        if conn.closed:
            return
    check_lmtp_answer(conn.timeout())


LMTP_GENERATORS: dict[str, Callable[[random.Random], bytes]] = {
    "soup": lmtp_soup,
    "mutated": lmtp_mutated,
    "bounds": lmtp_bounds,
    "pipelined": lmtp_pipelined,
}


def run_lmtp(name: str, seed: int, cases: int) -> None:
    rng = random.Random(seed)
    for case in range(cases):
        wire = LMTP_GENERATORS[name](rng)
        try:
            play_lmtp(rng, wire)
        except Exception as exc:
            raise AssertionError(f"{name} seed {seed} case {case}: {wire[:500]!r}") from exc


@pytest.mark.parametrize("name", sorted(LMTP_GENERATORS))
def test_lmtp_sessions(name: str) -> None:
    run_lmtp(name, seed=sorted(LMTP_GENERATORS).index(name), cases=SESSIONS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LMTP_GENERATORS))
def test_lmtp_sessions_slow(name: str) -> None:
    run_lmtp(name, seed=1000 + sorted(LMTP_GENERATORS).index(name), cases=SLOW_SESSIONS)


# -- what the fuzzer found, kept as transcripts --------------------------------------------------------------
def test_a_script_name_too_long_for_the_file_system_is_no(tmp_path: Path) -> None:
    """70 characters of four octets each: within the store's 200 characters, beyond a file name's 255
    octets."""
    store = ScriptStore(tmp_path)
    session = Session(store, Accounts(), Capabilities(POLICY.extensions, allow_plaintext=True), "192.0.2.1")
    session.handle([Atom("AUTHENTICATE"), b"PLAIN", PLAIN])
    name = ("\U0001d11e" * 70).encode()
    lines: list[list[Token]] = [[Atom("PUTSCRIPT"), name, b"keep;"], [Atom("GETSCRIPT"), name]]
    for line in lines:
        assert session.handle(line).data == b'NO "Invalid Sieve script name: too long."\r\n'


def test_a_control_character_echoed_by_lmtp_does_not_break_the_reply() -> None:
    conn = LmtpConnection("mx.test")
    conn.feed(
        b"LHLO x\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<he\rlene@ac.fr>\r\nRSET\r\nMAIL FROM:<a@b.org> \x00Z\r\n"
    )
    replies = b""
    while not isinstance(event := conn.next_event(), NeedData):
        if isinstance(event, RecipientCheck):
            replies += conn.recipient_checked(None)
        else:
            assert isinstance(event, Reply)
            replies += event.data
    assert replies.endswith(
        b"250 2.1.0 Ok\r\n550 5.1.1 <he?lene@ac.fr> User doesn't exist\r\n"
        b"250 2.0.0 Ok\r\n555 5.5.4 Unsupported parameter ?Z\r\n"
    )
