# SPDX-License-Identifier: GPL-3.0-or-later
"""Byte-level transcripts of the sans-IO LMTP core (RFC 2033, RFC 5321) and of the asyncio server around
it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lmtp_client import LmtpClient
from support import OnLoop

from groupware.sieve.delivery import (
    Delivery,
    LmtpConnection,
    LmtpServer,
    LmtpSettings,
    MessageReady,
    RecipientCheck,
    Reply,
)
from groupware.sieve.delivery.execute import Outcome
from groupware.sieve.host import LookupUnavailable, Policy, Recipient
from groupware.sieve.scripts import ScriptStore

KNOWN = {"helene@ac.fr": "helene", "paul@ac.fr": "paul"}
GREETING = b"220 mx.test LMTP ready\r\n"
LHLO_REPLY = b"250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"


def converse(
    conn: LmtpConnection, client: bytes, delivered: list[MessageReady] | None = None, down: bool = False
) -> bytes:
    """Feed ``client`` in one go (as a pipelining client may) and return everything the server says."""
    out = bytearray(conn.greeting())
    conn.feed(client)
    while True:
        event = conn.next_event()
        if isinstance(event, Reply):
            out += event.data
            if event.close:
                break
        elif isinstance(event, RecipientCheck):
            out += conn.recipient_checked(KNOWN.get(event.address), unavailable=down)
        elif isinstance(event, MessageReady):
            if delivered is not None:
                delivered.append(event)
            out += conn.delivered([Outcome(250, "2.0.0", f"<{a}> delivered") for a, _ in event.recipients])
        else:
            break
    return bytes(out)


def connection() -> LmtpConnection:
    return LmtpConnection("mx.test", max_size=1000)


def test_two_recipients_one_unknown_get_one_reply_each_after_data() -> None:
    got: list[MessageReady] = []
    said = converse(
        connection(),
        b"LHLO mta.test\r\nMAIL FROM:<a@b.org> SIZE=100\r\nRCPT TO:<helene@ac.fr>\r\n"
        b"RCPT TO:<ghost@ac.fr>\r\nRCPT TO:<paul@ac.fr>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\n"
        b"QUIT\r\n",
        got,
    )
    assert said == GREETING + LHLO_REPLY + (
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <ghost@ac.fr> User doesn't exist\r\n250 2.1.5 Ok\r\n"
        b"354 Start mail input; end with <CRLF>.<CRLF>\r\n"
        b"250 2.0.0 <helene@ac.fr> delivered\r\n250 2.0.0 <paul@ac.fr> delivered\r\n221 2.0.0 mx.test Bye\r\n"
    )
    assert got[0].sender == "a@b.org"
    assert got[0].recipients == (("helene@ac.fr", "helene"), ("paul@ac.fr", "paul"))
    assert got[0].message == b"Subject: x\r\n\r\n.dot\r\n"  # dot-unstuffed (RFC 5321 §4.5.2)


@pytest.mark.parametrize(
    ("client", "answers"),
    [
        (b"MAIL FROM:<a@b.org>\r\n", b"503 5.5.1 Bad sequence of commands\r\n"),
        (b"EHLO x\r\n", b"500 5.5.1 This is LMTP: say LHLO (RFC 2033 \xc2\xa74.1)\r\n"),
        (b"HELO x\r\n", b"500 5.5.1 This is LMTP: say LHLO (RFC 2033 \xc2\xa74.1)\r\n"),
        (b"LHLO\r\n", b"501 5.5.4 Syntax error in parameters or arguments\r\n"),
        (b"FROB\r\n", b"500 5.5.2 Command unrecognized\r\n"),
        (b"NOOP\r\n", b"250 2.0.0 Ok\r\n"),
        (b"VRFY x\r\n", b"252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"),
    ],
)
def test_commands_before_lhlo(client: bytes, answers: bytes) -> None:
    assert converse(connection(), client) == GREETING + answers


@pytest.mark.parametrize(
    ("client", "answers"),
    [
        (b"RCPT TO:<helene@ac.fr>\r\n", b"503 5.5.1 Bad sequence of commands\r\n"),
        (b"DATA\r\n", b"503 5.5.1 Bad sequence of commands\r\n"),
        (b"MAIL FROM:<a@b.org>\r\nDATA\r\n", b"250 2.1.0 Ok\r\n503 5.5.1 No valid recipients\r\n"),
        (
            b"MAIL FROM:<a@b.org>\r\nMAIL FROM:<c@d.org>\r\n",
            b"250 2.1.0 Ok\r\n503 5.5.1 Bad sequence of commands\r\n",
        ),
        (b"MAIL FROM:a@b.org\r\n", b"501 5.5.4 Syntax error in parameters or arguments\r\n"),
        (
            b"MAIL FROM:<a@b.org> SIZE=1001\r\n",
            b"552 5.3.4 Message size exceeds fixed maximum message size\r\n",
        ),
        (b"MAIL FROM:<a@b.org> AUTH=<>\r\n", b"555 5.5.4 Unsupported parameter AUTH\r\n"),
        (
            b"MAIL FROM:<> BODY=8BITMIME\r\nRSET\r\nRCPT TO:<helene@ac.fr>\r\n",
            b"250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n503 5.5.1 Bad sequence of commands\r\n",
        ),
        (
            b"MAIL FROM:<>\r\nRCPT TO:<>\r\n",
            b"250 2.1.0 Ok\r\n501 5.5.4 Syntax error in parameters or arguments\r\n",
        ),
    ],
)
def test_sequence_and_syntax_errors(client: bytes, answers: bytes) -> None:
    assert converse(connection(), b"LHLO mta\r\n" + client) == GREETING + LHLO_REPLY + answers


def test_directory_down_answers_451_so_the_mta_retries() -> None:
    said = converse(connection(), b"LHLO m\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<helene@ac.fr>\r\n", down=True)
    assert said.endswith(b"451 4.3.0 <helene@ac.fr> Directory unavailable, try again later\r\n")


def test_oversized_message_is_read_to_the_end_and_refused_per_recipient() -> None:
    body = b"x" * 600 + b"\r\n" + b"y" * 600 + b"\r\n"
    said = converse(
        connection(),
        b"LHLO m\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<helene@ac.fr>\r\nRCPT TO:<paul@ac.fr>\r\n"
        b"DATA\r\n" + body + b".\r\nNOOP\r\n",
    )
    tail = (
        b"354 Start mail input; end with <CRLF>.<CRLF>\r\n"
        + 2 * (b"552 5.3.4 Message size exceeds fixed maximum message size\r\n")
        + b"250 2.0.0 Ok\r\n"
    )
    assert said.endswith(tail)


def test_command_line_over_512_octets_is_refused_and_skipped() -> None:
    conn = connection()
    said = converse(conn, b"NOOP " + b"a" * 600 + b"\r\nNOOP\r\n")
    assert said == GREETING + b"500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n"


def test_long_data_lines_are_kept_without_unbounded_buffering() -> None:
    conn = LmtpConnection("mx.test", max_size=1 << 20, max_data_line=100)
    got: list[MessageReady] = []
    converse(conn, b"LHLO m\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<helene@ac.fr>\r\nDATA\r\n", got)
    for piece in (b".." + b"z" * 150, b"z" * 150, b"\r\n", b".\r\n"):
        conn.feed(piece)
        event = conn.next_event()
        assert len(conn._buffer) <= 200
        if isinstance(event, MessageReady):
            got.append(event)
    assert got and got[0].message == b"." + b"z" * 300 + b"\r\n"


def test_too_many_errors_close_the_connection() -> None:
    said = converse(connection(), b"FROB\r\n" * 25)
    assert said.endswith(
        b"500 5.5.2 Command unrecognized\r\n421 4.7.0 Too many errors, closing connection\r\n"
    )
    assert said.count(b"\r\n") == 1 + 20 + 1


def test_timeout_says_421() -> None:
    conn = connection()
    assert conn.timeout() == b"421 4.4.2 mx.test Timeout exceeded, closing connection\r\n"
    assert conn.closed


# -- the asyncio server
# ------------------------------------------------------------------------------------------


class Lookup:
    def lookup(self, address: str) -> Recipient | None:
        if address == "down@ac.fr":
            raise LookupUnavailable("directory down")
        return Recipient(KNOWN[address], (address,)) if address in KNOWN else None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OnLoop]:
    store = ScriptStore(tmp_path / "mail")
    settings = LmtpSettings(hosts=(("127.0.0.1", 0),), hostname="mx.test", max_size=4096, timeout=0.5)
    running = OnLoop(LmtpServer(settings, Lookup(), Delivery(store, Policy(), hostname="mx.test")))
    yield running
    running.stop()


def test_server_delivers_and_answers_every_recipient(server: OnLoop, tmp_path: Path) -> None:
    client = LmtpClient(*server.addresses[0])
    assert client.greeting == "220 mx.test LMTP ready"
    answer = client.send(
        "a@b.org",
        ["helene@ac.fr", "nobody@ac.fr", "paul@ac.fr", "down@ac.fr"],
        b"Subject: hi\r\nMessage-ID: <1@b.org>\r\n\r\nbody\r\n",
    )
    assert answer.rcpt == [
        "250 2.1.5 Ok",
        "550 5.1.1 <nobody@ac.fr> User doesn't exist",
        "250 2.1.5 Ok",
        "451 4.3.0 <down@ac.fr> Directory unavailable, try again later",
    ]
    assert answer.data == ["250 2.0.0 <helene@ac.fr> delivered", "250 2.0.0 <paul@ac.fr> delivered"]
    client.close()
    for user in ("helene", "paul"):
        (stored,) = (tmp_path / "mail" / user / "Maildir" / "new").iterdir()
        assert stored.read_bytes().endswith(b"Subject: hi\nMessage-ID: <1@b.org>\n\nbody\n")


def test_server_closes_an_idle_connection_with_421(server: OnLoop) -> None:
    client = LmtpClient(*server.addresses[0])
    assert client.reply() == "421 4.4.2 mx.test Timeout exceeded, closing connection"


def test_server_stop_ends_open_connections(server: OnLoop) -> None:
    client = LmtpClient(*server.addresses[0])
    server.stop()
    with pytest.raises((ConnectionError, OSError)):
        client.command(b"NOOP")


def test_unknown_recipients_count_as_errors_and_close_a_probing_connection() -> None:
    """Issue 13: a client probing addresses was never cut off (RFC 5321 §4.5.3.1.10)."""
    probes = b"".join(b"RCPT TO:<ghost%d@ac.fr>\r\n" % i for i in range(25))
    said = converse(connection(), b"LHLO mta.test\r\nMAIL FROM:<a@b.org>\r\n" + probes + b"NOOP\r\n")
    assert said.count(b"User doesn't exist") == 20
    assert said.endswith(
        b"<ghost19@ac.fr> User doesn't exist\r\n421 4.7.0 Too many errors, closing connection\r\n"
    )


def test_error_limit_in_a_transaction_with_recipients_delivers_them_then_closes() -> None:
    """The known recipient still gets the message; the recipients after the limit are deferred with 452."""
    got: list[MessageReady] = []
    ghosts = b"".join(b"RCPT TO:<ghost%d@ac.fr>\r\n" % i for i in range(22))
    said = converse(
        connection(),
        b"LHLO mta.test\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<helene@ac.fr>\r\n"
        + ghosts
        + b"RCPT TO:<paul@ac.fr>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<c@d.org>\r\n",
        got,
    )
    assert said.count(b"User doesn't exist") == 20
    assert said.count(b"452 4.5.3 Too many errors, send this recipient again later\r\n") == 3
    assert said.endswith(
        b"354 Start mail input; end with <CRLF>.<CRLF>\r\n250 2.0.0 <helene@ac.fr> delivered\r\n"
        b"421 4.7.0 Too many errors, closing connection\r\n"
    )
    assert [r for r, _ in got[0].recipients] == ["helene@ac.fr"]


def test_server_closes_a_probing_connection(server: OnLoop) -> None:
    client = LmtpClient(*server.addresses[0])
    assert client.command(b"MAIL FROM:<a@b.org>").startswith("250")
    answers = [client.command(b"RCPT TO:<ghost%d@ac.fr>" % i) for i in range(19)]
    assert all(a.startswith("550 5.1.1") for a in answers)
    assert client.command(b"RCPT TO:<ghost19@ac.fr>").startswith("550 5.1.1")
    assert client.reply() == "421 4.7.0 Too many errors, closing connection"
    with pytest.raises((ConnectionError, OSError)):
        client.command(b"NOOP")


def test_server_delivers_a_message_of_2000_nested_multiparts(tmp_path: Path) -> None:
    """Issue 13: it got 451 forever (the parser ran out of stack); parts past the bound are opaque."""
    settings = LmtpSettings(hosts=(("127.0.0.1", 0),), hostname="mx.test", max_size=1 << 20)
    delivery = Delivery(ScriptStore(tmp_path / "mail"), Policy(), hostname="mx.test")
    server = OnLoop(LmtpServer(settings, Lookup(), delivery))
    head = b"Subject: deep\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    opening = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i - 1, i) for i in range(1, 2000)
    )
    closing = b"".join(b"--b%d--\r\n" % i for i in range(1998, -1, -1))
    client = LmtpClient(*server.addresses[0])
    answer = client.send("a@b.org", ["helene@ac.fr"], head + opening + b"--b1999--\r\n" + closing)
    assert answer.data == ["250 2.0.0 <helene@ac.fr> delivered"]
    client.close()
    server.stop()
